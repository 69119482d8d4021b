"""The serve API, through Starlette's TestClient: models, predictions, and clear 400s."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image

from chainrule.serve.app import create_app

try:  # Starlette's TestClient needs httpx2 (Starlette >= 1.0) or httpx (older releases)
    from starlette.testclient import TestClient
except RuntimeError as error:
    pytest.skip(str(error), allow_module_level=True)


@pytest.fixture(scope="module")
def client(served_model):
    # the same model twice: as a run directory and as a file, to exercise the picker
    with TestClient(create_app([served_model, served_model / "model.safetensors"])) as client:
        yield client


@pytest.fixture(scope="module")
def easy_digits(mnist, served_model):
    """(image, label) pairs the model gets right with confidence on the original 28×28."""
    from chainrule.app.predict import Predictor

    images, labels = mnist
    candidates = slice(5000, 5200)
    probabilities = Predictor(served_model / "model.safetensors").probabilities(images[candidates])
    confident = np.flatnonzero(
        (probabilities.argmax(axis=1) == labels[candidates]) & (probabilities.max(axis=1) > 0.99)
    )
    return [(images[5000 + i], int(labels[5000 + i])) for i in confident[:5]]


#: Each page of chainrule serve: its path, its title in the nav and a mark of its own HTML.
PAGES = [
    ("/", "Draw a digit", '<canvas id="pad"'),
    ("/step", "Step through backprop", '<div id="drawing"'),
    ("/playground", "Playground", '<canvas id="boundary"'),
]


@pytest.mark.parametrize(("path", "title", "mark"), PAGES)
def test_each_page_and_its_files_are_served_without_anything_external(client, path, title, mark):
    page = client.get(path)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert mark in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert "/static/style.css" in assets  # the shared look: header, nav, panels, buttons
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        urls = set(re.findall(r"https?://[^\s\"'`)]+", response.text))
        assert urls <= {"http://www.w3.org/2000/svg"}, (asset, urls)  # SVG's namespace
    assert "http" not in page.text.replace("http-equiv", "")
    # the same nav on every page, its own page marked current
    nav = re.search(r'<nav class="pages"[^>]*>(.*?)</nav>', page.text, re.S).group(1)
    links = re.findall(r'<a href="([^"]+)"( aria-current="page")?>([^<]+)</a>', nav)
    assert [(href, text) for href, _, text in links] == [(p, t) for p, t, _ in PAGES]
    assert [text for _, current, text in links if current] == [title]


def test_models_lists_each_model_with_its_layers(client, served_model):
    models = client.get("/api/models").json()["models"]
    assert [(m["id"], m["name"]) for m in models] == [("0", "mlp-64-32"), ("1", "mlp-64-32 (2)")]
    first = models[0]
    assert first["path"] == str(served_model / "model.safetensors")
    assert first["class_names"] == [str(d) for d in range(10)]
    assert first["parameters"] == 784 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10
    assert [layer["name"] for layer in first["layers"]][:2] == ["dense_1 (Dense)", "relu_1 (ReLU)"]


def test_a_drawn_digit_is_predicted_with_its_input_and_hidden_activations(
    client, easy_digits, drawing_png
):
    assert len(easy_digits) >= 3
    for image, label in easy_digits:
        response = client.post(
            "/api/predict?model=1",
            content=drawing_png(image),
            headers={"content-type": "image/png"},
        )
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["prediction"] == str(label)
    assert answer["model"] == "1"
    assert len(answer["probabilities"]) == 10 and abs(sum(answer["probabilities"]) - 1) < 1e-3
    digit = np.array(answer["input"])
    assert digit.shape == (28, 28) and digit.max() == 255 and digit[0].max() == 0
    assert [(layer["name"], layer["shape"]) for layer in answer["layers"]] == [
        ("relu_1", [64]),
        ("relu_2", [32]),
    ]
    assert min(answer["layers"][0]["values"]) >= 0


def test_a_model_can_be_picked_by_name(client, easy_digits, drawing_png):
    image, label = easy_digits[0]
    response = client.post("/api/predict?model=mlp-64-32", content=drawing_png(image))
    assert response.status_code == 200 and response.json()["prediction"] == str(label)


def blank_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (280, 280), "white").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "the request body is empty"),
        (b"this is not a picture", "cannot use the image: not an image Pillow can read"),
        (blank_png(), "cannot use the image: no ink found"),
    ],
    ids=["empty", "junk", "blank"],
)
def test_a_bad_payload_is_a_400_with_a_clear_message(client, body, message):
    response = client.post("/api/predict", content=body, headers={"content-type": "image/png"})
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


def test_an_unknown_model_is_a_404_that_lists_the_models(client, easy_digits, drawing_png):
    response = client.post("/api/predict?model=7", content=drawing_png(easy_digits[0][0]))
    assert response.status_code == 404
    assert response.json()["error"] == (
        "unknown model '7'; the models are: 0 (mlp-64-32), 1 (mlp-64-32 (2))"
    )


def test_an_oversized_body_is_refused(client):
    from chainrule.serve.app import MAX_IMAGE_BYTES

    response = client.post("/api/predict", content=b"x" * (MAX_IMAGE_BYTES + 1))
    assert response.status_code == 413


def test_bad_model_arguments_fail_before_serving(tmp_path):
    with pytest.raises(FileNotFoundError, match="model file not found"):
        create_app([tmp_path / "missing.safetensors"])
    with pytest.raises(FileNotFoundError, match="directory without a model.safetensors"):
        create_app([tmp_path])


def test_run_refuses_a_port_in_use_before_announcing_anything(served_model, capsys):
    import socket

    from chainrule.serve.app import run

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}.*--port"):
            run([served_model], port=port)
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("port", [0, 65536, 70000, -1])
def test_run_refuses_a_port_outside_1_to_65535_before_loading_anything(tmp_path, port, capsys):
    from chainrule.serve.app import run

    with pytest.raises(ValueError, match=f"port must be an integer from 1 to 65535, got {port}"):
        run([tmp_path / "not-even-loaded.safetensors"], port=port)
    assert capsys.readouterr() == ("", "")


def test_run_refuses_a_bad_model_file_before_binding_or_announcing(tmp_path, capsys):
    import socket

    from chainrule.serve.app import listen, run

    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"not a model file")
    probe = listen("127.0.0.1", 0)  # a port that is free now
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(ValueError, match="not a readable model file"):
        run([bad], port=port)
    assert capsys.readouterr() == ("", "")
    with socket.socket() as again:  # nothing was left bound
        again.bind(("127.0.0.1", port))


def test_a_chunked_body_over_the_limit_is_refused(client):
    def chunks():  # no Content-Length: the size is known only while reading
        for _ in range(33):
            yield b"x" * 2**20

    response = client.post("/api/predict", content=chunks())
    assert response.status_code == 413
    assert "over 32 MiB" in response.json()["error"]


def test_a_client_that_leaves_mid_body_is_let_go_without_a_traceback(served_model, caplog):
    """A raw socket declares a 100 kB body, sends 10 bytes and hangs up; the server (uvicorn
    on 127.0.0.1 in a thread, stopped by the test) logs no error, only a debug line."""
    import logging
    import socket
    import threading
    import time

    import uvicorn

    from chainrule.serve.app import listen

    caplog.set_level(logging.DEBUG, logger="chainrule.serve")
    uvicorn_logger = logging.getLogger("uvicorn")
    propagate, uvicorn_logger.propagate = uvicorn_logger.propagate, True  # reach caplog
    listener = listen("127.0.0.1", 0)
    port = listener.getsockname()[1]
    config = uvicorn.Config(create_app([served_model]), log_config=None, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            client.sendall(
                b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: image/png\r\nContent-Length: 100000\r\n\r\n\x89PNG\r\n\x1a\n.."
            )
        deadline = time.monotonic() + 10
        while not any(r.levelno >= logging.WARNING or "disconnected" in r.getMessage()
                      for r in caplog.records):  # fmt: skip
            assert time.monotonic() < deadline, "the server never noticed the disconnect"
            time.sleep(0.02)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        uvicorn_logger.propagate = propagate
    assert not thread.is_alive()
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert problems == [], [r.getMessage() for r in problems]
    assert any(r.name == "chainrule.serve.limits" for r in caplog.records)


def test_without_a_model_the_pages_are_served_and_predict_says_how_to_give_one():
    with TestClient(create_app([])) as client:
        assert client.get("/").status_code == 200
        assert client.get("/playground").status_code == 200
        assert client.get("/api/models").json() == {"models": []}
        response = client.post("/api/predict", content=b"anything")
    assert response.status_code == 404
    assert response.json()["error"].startswith("no model is being served: start the server")


def test_a_photo_is_predicted_with_its_preprocessing_stages(client, easy_digits, phone_photo):
    from chainrule.data.images import STEP_TITLES, decode_image, to_mnist
    from chainrule.serve.app import STAGE_SIZE

    image, label = easy_digits[0]
    photo = phone_photo(image)
    response = client.post(
        "/api/predict?stages=1", content=photo, headers={"content-type": "image/jpeg"}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["prediction"] == str(label)
    digit, steps = to_mnist(decode_image(photo), return_steps=True)
    assert np.array_equal(np.array(answer["input"]), digit)  # what predict sees, exactly
    stages = answer["stages"]
    assert [(s["name"], s["title"]) for s in stages] == list(STEP_TITLES.items())
    for stage in stages:
        assert stage["png"].startswith("data:image/png;base64,")
        shown = Image.open(io.BytesIO(base64.b64decode(stage["png"].split(",", 1)[1])))
        assert shown.size == (stage["width"], stage["height"])
        assert max(shown.size) <= STAGE_SIZE
        original = steps[stage["name"]]
        if max(original.shape[:2]) <= STAGE_SIZE:  # small stages are sent as they are
            assert np.array_equal(np.asarray(shown), original)
        else:  # large ones scaled down, the aspect ratio kept
            ratio = original.shape[1] / original.shape[0]
            assert abs(shown.width / shown.height - ratio) < 0.02
    # without ?stages the answer stays small
    assert "stages" not in client.post("/api/predict", content=photo).json()


def test_a_host_other_than_this_machine_is_warned_about(served_model, capsys, monkeypatch):
    import uvicorn

    from chainrule.serve.app import listen, run

    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)
    for host, warned in [("127.0.0.1", False), ("0.0.0.0", True)]:
        probe = listen(host, 0)
        port = probe.getsockname()[1]
        probe.close()
        run([served_model], host=host, port=port)
        err = capsys.readouterr().err
        assert err.endswith(f"chainrule serve: open http://{host}:{port}/ (Ctrl+C to stop)\n")
        assert ("warning: listening on 0.0.0.0, so other machines can reach" in err) is warned
