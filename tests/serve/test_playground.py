"""The playground API: built-in and uploaded 2-D data, training in chunks, the boundary and
hidden units it draws, and exports that ``chainrule train`` and ``load_model`` take as they
are (the exported recipe trains the very same weights)."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from chainrule.app.recipes import load_recipe
from chainrule.app.run import prepare_data, train_recipe
from chainrule.data.toy import TOY_DATASETS
from chainrule.nn.model import load_model
from chainrule.serve import playground
from chainrule.serve.app import create_app

try:  # Starlette's TestClient needs httpx2 (Starlette >= 1.0) or httpx (older releases)
    from starlette.testclient import TestClient
except RuntimeError as error:
    pytest.skip(str(error), allow_module_level=True)


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app([])) as client:  # the playground needs no trained model
        yield client


def new(client, **settings):
    response = client.post("/api/playground/new", json=settings)
    assert response.status_code == 200, response.text
    return response.json()


def train_to(client, session_id: str, step: int) -> dict:
    """Train until exactly ``step`` steps are made (a chunk may stop early on time)."""
    snapshot = {"step": 0}
    while snapshot["step"] < step:
        asked = min(step - snapshot["step"], playground.MAX_CHUNK_STEPS)
        response = client.post(f"/api/playground/train/{session_id}", json={"steps": asked})
        assert response.status_code == 200, response.text
        snapshot = response.json()
    assert snapshot["step"] == step
    return snapshot


def grid(snapshot: dict, key: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(snapshot["boundary"][key]), dtype=np.uint8)


def test_options_offer_every_built_in_set_with_its_settings(client):
    options = client.get("/api/playground/options").json()
    assert list(options["datasets"]) == list(TOY_DATASETS)
    for name, toy in TOY_DATASETS.items():
        assert [p["name"] for p in options["datasets"][name]["params"]] == [
            p.name for p in toy.params
        ]
    assert "tanh" in options["activations"] and "adam" in options["optimizers"]
    assert options["limits"]["max_points"] == playground.MAX_POINTS


@pytest.mark.parametrize("name", list(TOY_DATASETS))
def test_each_built_in_set_is_the_data_chainrule_train_prepares(client, name, tmp_path):
    answer = new(client, dataset=name, settings={"n": 120}, hidden=[5], test_fraction=0.25)
    points = answer["points"]
    train, test = points["train"], points["test"]
    assert len(train["y"]) + len(test["y"]) == 120 and len(test["y"]) == 30
    # the very points `chainrule train` gets from the exported recipe
    recipe_file = tmp_path / "recipe.yaml"
    recipe_file.write_text(client.get(f"/api/playground/recipe/{answer['id']}").text)
    data = prepare_data(load_recipe(recipe_file), download=False, progress=False)
    assert np.allclose(train["x"], data.train_images, atol=1e-4)
    assert train["y"] == data.y_train.tolist() and test["y"] == data.y_test.tolist()
    assert points["classes"] == list(data.class_names)
    x_min, x_max, y_min, y_max = points["extent"]
    everything = np.array(train["x"] + test["x"])
    assert (everything.min(0) > [x_min, y_min]).all() and (everything.max(0) < [x_max, y_max]).all()
    snapshot = answer["snapshot"]
    assert grid(snapshot, "classes").size == playground.GRID**2
    assert grid(snapshot, "classes").max() < len(points["classes"])
    (layer,) = snapshot["neurons"]
    assert layer["units"] == 5
    values = base64.b64decode(layer["values"])
    assert len(values) == 5 * layer["size"] ** 2
    assert snapshot["step"] == 0 and snapshot["curve"]["step"] == [0.0]


def test_xor_trains_to_95_percent_and_the_boundary_moves(client):
    answer = new(client, dataset="xor")
    first = answer["snapshot"]
    assert first["test_accuracy"] < 0.8
    later = train_to(client, answer["id"], 300)
    assert later["test_accuracy"] >= 0.95 and later["train_accuracy"] >= 0.95
    assert not np.array_equal(grid(first, "classes"), grid(later, "classes"))
    assert later["curve"]["step"][0] == 0 and later["curve"]["step"][-1] == 300
    losses = later["curve"]["train_loss"]
    assert losses[-1] < losses[0] / 5
    # a hidden unit's map is its output over the plane, scaled to its own largest |value|
    for layer in later["neurons"]:
        values = np.frombuffer(base64.b64decode(layer["values"]), dtype=np.uint8)
        per_unit = values.reshape(layer["units"], -1).astype(float) / 127.5 - 1
        assert np.allclose(np.abs(per_unit).max(axis=1), 1, atol=0.01)


def test_reset_draws_the_same_first_weights_again(client):
    answer = new(client, dataset="moons", hidden=[4, 4])
    train_to(client, answer["id"], 40)
    again = client.post(f"/api/playground/reset/{answer['id']}", json={}).json()
    assert again["step"] == 0
    assert again["boundary"] == answer["snapshot"]["boundary"]
    assert again["curve"]["train_loss"] == answer["snapshot"]["curve"]["train_loss"]


def test_the_exported_recipe_trains_the_same_weights_from_the_command_line(client, tmp_path):
    answer = new(client, dataset="moons", hidden=[6, 5], batch_size=10, optimizer="momentum")
    session_id = answer["id"]
    points = len(answer["points"]["train"]["y"])
    steps = 2 * -(-points // 10)  # two epochs
    snapshot = train_to(client, session_id, steps)
    recipe_file = tmp_path / "playground-moons.yaml"
    recipe_file.write_text(client.get(f"/api/playground/recipe/{session_id}").text)
    model_file = tmp_path / "model.safetensors"
    response = client.get(f"/api/playground/model/{session_id}")
    assert response.headers["content-disposition"] == (
        'attachment; filename="playground-moons.safetensors"'
    )
    model_file.write_bytes(response.content)

    recipe = load_recipe(recipe_file)
    assert recipe.training.epochs == 2 and recipe.model.hidden == [6, 5]
    run = train_recipe(
        recipe, out_dir=tmp_path / "runs", download=False, progress=False, figures=False
    )
    from_cli, _ = load_model(run.directory / "model.safetensors")
    from_page, extra = load_model(model_file)
    assert np.array_equal(from_cli.params.data, from_page.params.data)
    assert run.metrics["test_accuracy"] == pytest.approx(snapshot["test_accuracy"])
    assert extra["class_names"] == ["0", "1"] and extra["playground_steps"] == steps
    assert extra["recipe"]["data"]["dataset"] == "moons"


def test_the_model_file_predicts_what_the_page_shows(client, tmp_path):
    answer = new(client, dataset="circles", hidden=[8])
    snapshot = train_to(client, answer["id"], 60)
    model_file = tmp_path / "circles.safetensors"
    model_file.write_bytes(client.get(f"/api/playground/model/{answer['id']}").content)
    model, extra = load_model(model_file)
    from chainrule.data.preprocessing import Preprocessing

    preprocessing = Preprocessing.from_dict(extra["preprocessing"])
    plane = playground.plane_grid(answer["points"]["extent"], playground.GRID)
    predicted = model.predict(preprocessing.transform(plane)).astype(np.uint8)
    assert np.array_equal(predicted, grid(snapshot, "classes"))


CSV = "x1,x2,label\n" + "\n".join(
    f"{x:.3f},{y:.3f},{'inside' if x * x + y * y < 4 else 'outside'}"
    for x, y in np.random.default_rng(0).uniform(-3, 3, size=(200, 2))
)


def test_an_uploaded_csv_becomes_the_data_and_its_recipe_names_the_file(client, tmp_path):
    answer = new(client, dataset="xor", batch_size=64)
    path = f"/api/playground/csv/{answer['id']}?name=../../secret/my%20points.csv"
    response = client.post(path, content=CSV.encode(), headers={"content-type": "text/csv"})
    assert response.status_code == 200, response.text
    uploaded = response.json()
    assert uploaded["id"] == answer["id"] and uploaded["settings"]["dataset"] == "csv"
    assert uploaded["csv_name"] == "my-points.csv"  # a name for the user's file, no path
    assert uploaded["points"]["classes"] == ["inside", "outside"]
    assert uploaded["points"]["features"] == ["x1", "x2"]
    assert len(uploaded["points"]["train"]["y"]) + len(uploaded["points"]["test"]["y"]) == 200
    assert uploaded["settings"]["batch_size"] <= 200 // 3  # a small file: smaller batches
    snapshot = train_to(client, answer["id"], 400)
    assert snapshot["test_accuracy"] >= 0.85
    text = client.get(f"/api/playground/recipe/{answer['id']}").text
    assert "run this in the folder that holds my-points.csv" in text
    (tmp_path / "my-points.csv").write_text(CSV)
    (tmp_path / "recipe.yaml").write_text(
        text.replace("my-points.csv", str(tmp_path / "my-points.csv"))
    )
    data = prepare_data(load_recipe(tmp_path / "recipe.yaml"), download=False, progress=False)
    assert np.allclose(uploaded["points"]["train"]["x"], data.train_images, atol=1e-4)
    # back to a built-in set, and to the CSV again without uploading it twice
    settings = {**uploaded["settings"], "dataset": "moons"}
    assert client.post(f"/api/playground/settings/{answer['id']}", json=settings).status_code == 200
    settings = {**settings, "dataset": "csv", "settings": {}}
    again = client.post(f"/api/playground/settings/{answer['id']}", json=settings).json()
    assert again["points"]["classes"] == ["inside", "outside"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            b"x1,x2,label\n1,2,a\n1,oops,b\n",
            400,
            "the uploaded CSV: line 3, column 2 ('x2'): 'oops' is not a finite number",
        ),
        (
            b"a,b,c,label\n1,2,3,x\n4,5,6,y\n",
            400,
            "the uploaded CSV has 3 feature column(s) (a, b, c); the playground draws the plane",
        ),
        (
            b"x1,x2,label\n1,2,a\n3,4,a\n",
            400,
            "the uploaded CSV's labels make 1 class(es); the playground needs 2 to 10",
        ),
        (b"x1,x2\n1,2\n", 400, "the uploaded CSV: no label column 'label' in the header"),
        (b"\xff\xfe\x00", 400, "the uploaded CSV is not UTF-8 text"),
        (b"", 400, "the upload is empty: send the CSV file's bytes"),
        (
            ("x1,x2,label\n" + "1,2,a\n" * 2600 + "3,4,b\n" * 2600).encode(),
            413,
            "the uploaded CSV has 5200 points; the playground takes at most 5000",
        ),
        (b"x" * (playground.MAX_CSV_BYTES + 1), 413, "the request body is over 1 MiB"),
    ],
    ids=[
        "bad-value",
        "three-features",
        "one-class",
        "no-label",
        "not-utf8",
        "empty",
        "too-many-rows",
        "too-big",
    ],
)
def test_a_bad_csv_is_refused_with_the_line_and_column(client, body, status, message):
    session_id = new(client, dataset="xor")["id"]
    response = client.post(f"/api/playground/csv/{session_id}", content=body)
    assert response.status_code == status
    assert response.json()["error"].startswith(message)
    # the page keeps its data
    snapshot = client.post(f"/api/playground/train/{session_id}", json={"steps": 1}).json()
    assert snapshot["step"] == 1


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"dataset": "swirls"}, "dataset must be one of xor, moons, circles, spirals, blobs, csv"),
        ({"dataset": "csv"}, "dataset 'csv' needs a CSV file: upload one first"),
        ({"colour": "red"}, "unknown setting 'colour'; the settings are: dataset, settings"),
        ({"hidden": [8, 8, 8, 8, 8]}, "hidden must list at most 4 layer widths"),
        ({"hidden": [65]}, "hidden width must be an integer from 1 to 64, got 65"),
        ({"hidden": [True]}, "hidden width must be an integer from 1 to 64, got True"),
        ({"learning_rate": 0}, "learning_rate must be a number in (0.0, 10.0], got 0"),
        ({"activation": "softmax"}, "activation must be one of tanh, relu"),
        ({"settings": {"n": 5000}}, "playground: n must be an integer from 4 to 2000"),
        ({"settings": {"noise": -1}}, "toy dataset 'xor': noise must be a number >= 0.0"),
        ({"settings": {"spin": 1}}, "toy dataset 'xor' has no setting 'spin'"),
        ({"batch_size": 500}, "batch_size must be at most the 280 training points, got 500"),
        ({"test_fraction": 0.95}, "test_fraction must be a number in [0.1, 0.9], got 0.95"),
    ],
)
def test_bad_settings_are_a_400_naming_the_setting(client, settings, message):
    response = client.post("/api/playground/new", json=settings)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


def test_bad_requests_get_a_4xx_with_a_message(client):
    session_id = new(client)["id"]
    cases = [
        ("post", "/api/playground/new", {"content": b"{oops"}, 400, "the request body is not"),
        (
            "post",
            f"/api/playground/train/{session_id}",
            {"json": {"steps": 0}},
            400,
            "steps must be an integer from 1 to 1000, got 0",
        ),
        (
            "post",
            f"/api/playground/train/{session_id}",
            {"json": {"steps": "many"}},
            400,
            "steps must be an integer",
        ),
        (
            "post",
            "/api/playground/train/no-such-page",
            {"json": {}},
            404,
            "this playground session is gone",
        ),
        ("get", "/api/playground/model/no-such-page", {}, 404, "this playground session is gone"),
    ]
    for method, path, arguments, status, message in cases:
        response = getattr(client, method)(path, **arguments)
        assert response.status_code == status, path
        assert response.json()["error"].startswith(message)


def test_a_run_is_bounded_and_a_page_can_close_its_session(client, monkeypatch):
    monkeypatch.setattr(playground, "MAX_STEPS", 30)
    session_id = new(client, dataset="blobs")["id"]
    assert train_to(client, session_id, 30)["step"] == 30
    response = client.post(f"/api/playground/train/{session_id}", json={"steps": 5})
    assert response.status_code == 409
    assert response.json()["error"] == "this run has made its 30 steps; reset to train again"
    assert client.post(f"/api/playground/close/{session_id}").status_code == 204
    assert client.post(f"/api/playground/reset/{session_id}", json={}).status_code == 404


def test_sessions_are_bounded_server_wide_the_idlest_making_way():
    pages = playground.Playground(max_sessions=2)
    first, second = (pages.create({"hidden": [2]}) for _ in range(2))
    pages.get(first.id)  # used since: the second is now the idlest
    third = pages.create({"hidden": [2]})
    assert set(pages.sessions) == {first.id, third.id}
    with pytest.raises(playground.PlaygroundError, match="this playground session is gone"):
        pages.get(second.id)


def test_a_busy_session_is_a_409_not_a_wait(monkeypatch):
    monkeypatch.setattr(playground, "WAIT_SECONDS", 0.05)
    session = playground.Playground().create({"hidden": [2]})
    with (
        session.lock,
        pytest.raises(playground.PlaygroundError, match="busy") as raised,
        playground.locked(session),
    ):
        pass
    assert raised.value.status == 409


def test_a_diverging_run_stops_and_says_why():
    session = playground.Playground().create(
        {
            "dataset": "blobs",
            "optimizer": "sgd",
            "learning_rate": 10.0,
            "hidden": [32, 32],
            "activation": "identity",
            "batch_size": 4,
        }
    )
    for _ in range(200):
        session.train(50)
        if session.diverged:
            break
    assert session.diverged and session.diverged.startswith("training diverged at epoch")
    assert session.snapshot()["diverged"] == session.diverged
    with pytest.raises(playground.PlaygroundError, match="Reset to train again") as raised:
        session.train(1)
    assert raised.value.status == 409
