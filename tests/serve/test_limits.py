"""Whatever a client sends, the server answers a 4xx with a message and keeps serving."""

from __future__ import annotations

import asyncio
import io
import logging
import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Route

from chainrule.serve.limits import (
    EXCEPTION_HANDLERS,
    BodyLimit,
    RequestError,
    describe_bytes,
    read_body,
    read_json,
)

try:  # Starlette's TestClient needs httpx2 (Starlette >= 1.0) or httpx (older releases)
    from starlette.testclient import TestClient
except RuntimeError as error:
    pytest.skip(str(error), allow_module_level=True)


async def echo_size(request):
    return JSONResponse({"size": len(await read_body(request))})


async def echo_json(request):
    return JSONResponse(await read_json(request))


async def refuse(request):
    raise RequestError(422, "cannot use that: here is why")


async def broken(request):
    raise RuntimeError("a bug")


def small_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/big/upload", echo_size, methods=["POST"]),
            Route("/small", echo_size, methods=["POST"]),
            Route("/json", echo_json, methods=["POST"]),
            Route("/refuse", refuse),
            Route("/broken", broken),
        ],
        middleware=[Middleware(BodyLimit, limits={"/big": 1000}, default=100)],
        exception_handlers=EXCEPTION_HANDLERS,
    )


@pytest.fixture(scope="module")
def client():
    with TestClient(small_app(), raise_server_exceptions=False) as client:
        yield client


def test_each_path_gets_its_own_limit_and_a_413_past_it(client):
    assert client.post("/big/upload", content=b"x" * 1000).json() == {"size": 1000}
    assert client.post("/small", content=b"x" * 100).json() == {"size": 100}
    for path, limit in [("/big/upload", 1000), ("/small", 100)]:
        response = client.post(path, content=b"x" * (limit + 1))
        assert response.status_code == 413
        assert response.json()["error"] == (
            f"the request body is over {limit} bytes, the limit here"
        )


def test_a_chunked_body_without_a_length_is_cut_off_while_reading(client):
    def chunks():  # no Content-Length: the size is known only while reading
        for _ in range(5):
            yield b"x" * 60

    response = client.post("/small", content=chunks())
    assert response.status_code == 413 and "over 100 bytes" in response.json()["error"]


def run_middleware(headers: list[tuple[bytes, bytes]], chunk: bytes, limit: int):
    """BodyLimit around an app that reads everything, fed an endless body; returns the
    messages sent back and how many chunks were received."""
    received: list[int] = []
    sent: list[dict] = []

    async def receive():
        received.append(len(chunk))
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message):
        sent.append(message)

    app = Starlette(
        routes=[Route("/", echo_size, methods=["POST"])], exception_handlers=EXCEPTION_HANDLERS
    )
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": headers,
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("t", 80),
    }
    asyncio.run(BodyLimit(app, default=limit)(scope, receive, send))
    return sent, received


def test_a_body_is_read_no_further_than_the_chunk_that_passes_the_limit():
    sent, received = run_middleware([], b"x" * 8, limit=20)
    assert sent[0]["status"] == 413
    assert sum(received) == 24  # the third chunk passed 20 bytes; nothing more was read


def test_a_declared_length_over_the_limit_is_refused_before_reading_a_byte():
    sent, received = run_middleware([(b"content-length", b"5000")], b"x" * 8, limit=20)
    assert sent[0]["status"] == 413 and received == []


def test_bad_json_is_a_400_that_says_what_is_wrong(client):
    cases = [
        (b"", "the request body is empty: send a JSON object"),
        (
            b"{not json",
            "the request body is not valid JSON (Expecting property name enclosed "
            "in double quotes at line 1, column 2)",
        ),
        (b"[1, 2]", "the request body must be a JSON object {...}, got a list"),
        (b"\xff\xfe", "the request body is not UTF-8 text: send a JSON object"),
    ]
    for body, message in cases:
        response = client.post("/json", content=body)
        assert (response.status_code, response.json()) == (400, {"error": message})
    assert client.post("/json", json={"a": 1}).json() == {"a": 1}


def test_a_deeply_nested_json_body_is_a_400_not_a_crash():
    app = Starlette(
        routes=[Route("/json", echo_json, methods=["POST"])],
        middleware=[Middleware(BodyLimit, default=10**6)],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    with TestClient(app) as client:
        response = client.post("/json", content=b"[" * 100_000 + b"]" * 100_000)
    assert response.status_code == 400 and "nested too deeply" in response.json()["error"]


def test_a_request_error_keeps_its_status_and_message_and_a_bug_is_a_logged_500(client, caplog):
    response = client.get("/refuse")
    assert (response.status_code, response.json()) == (
        422,
        {"error": "cannot use that: here is why"},
    )
    with caplog.at_level(logging.ERROR, logger="chainrule.serve.limits"):
        response = client.get("/broken")
    assert response.status_code == 500
    assert response.json() == {"error": "internal error (RuntimeError); the server log has more"}
    assert any(record.exc_info for record in caplog.records)


def test_limits_are_described_as_people_read_them():
    assert describe_bytes(32 * 2**20) == "32 MiB"
    assert describe_bytes(64 * 1024) == "64 KiB"
    assert describe_bytes(1000) == "1000 bytes"


# -- the whole server ------------------------------------------------------------------------


def png_declaring(width: int, height: int) -> bytes:
    """A valid 1×1 PNG whose header claims ``width``×``height``: a decompression bomb's
    header (decoding would allocate width × height pixels)."""
    buffer = io.BytesIO()
    Image.new("L", (1, 1), 255).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    ihdr = data[12:29]  # b"IHDR" + 13 bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    return bytes(data)


def test_an_image_declaring_too_many_pixels_is_refused_from_its_header(served_model):
    from chainrule.serve.app import create_app

    with TestClient(create_app([served_model])) as client:
        # over chainrule's limit (64 Mpx), and over Pillow's own (179 Mpx)
        for width, said in [(9000, "9000×9000 pixels (81 megapixels)"), (30_000, "900 megapixels")]:
            bomb = png_declaring(width, width)
            assert len(bomb) < 100
            response = client.post("/api/predict", content=bomb)
            assert response.status_code == 400
            assert response.json()["error"] == (
                f"cannot use the image: too large: {said}; images may have at most 64 "
                "megapixels (a phone photo has 12–50): scale it down or crop it to the digit"
            )
        assert client.get("/").status_code == 200


def test_an_oversized_photo_is_a_413_that_names_the_limit(served_model):
    from chainrule.serve.app import MAX_IMAGE_BYTES, create_app

    with TestClient(create_app([served_model])) as client:
        response = client.post("/api/predict", content=b"x" * (MAX_IMAGE_BYTES + 1))
        assert response.status_code == 413
        assert response.json()["error"] == "the request body is over 32 MiB, the limit here"
        response = client.post("/api/playground/new", content=b" " * (64 * 1024 + 1))
        assert response.status_code == 413 and "over 64 KiB" in response.json()["error"]


def test_the_server_keeps_serving_after_every_kind_of_bad_request(served_model, drawing_png, mnist):
    """Real uvicorn on 127.0.0.1: garbage, lies about sizes, bad JSON, bad images, unknown
    paths; then the pages and a prediction still work."""
    import socket
    import threading
    import time

    import uvicorn

    from chainrule.serve.app import create_app, listen

    listener = listen("127.0.0.1", 0)
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app([served_model]), log_level="critical"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline
            time.sleep(0.02)

        def raw(data: bytes) -> bytes:
            """The answer's status line and headers (the server may keep the line open)."""
            with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
                connection.sendall(data)
                answer = b""
                while b"\r\n\r\n" not in answer and (chunk := connection.recv(65536)):
                    answer += chunk
                return answer

        def post(path: str, body: bytes, extra: bytes = b"") -> bytes:
            head = (
                (
                    f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
                    "Connection: close\r\n"
                ).encode()
                + extra
                + b"\r\n"
            )
            return raw(head + body)

        assert raw(b"\x00\x01 not http at all\r\n\r\n").startswith(b"HTTP/1.1 400")
        huge = b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n"
        assert raw(huge).startswith(b"HTTP/1.1 413")
        assert post("/api/playground/new", b"{oops").startswith(b"HTTP/1.1 400")
        assert post("/api/playground/train/nope", b"{}").startswith(b"HTTP/1.1 404")
        assert post("/api/predict", b"\x89PNG\r\n\x1a\n broken").startswith(b"HTTP/1.1 400")
        assert post("/api/predict", png_declaring(40_000, 40_000)).startswith(b"HTTP/1.1 400")
        assert post("/api/predict?model=../../etc/passwd", b"x").startswith(b"HTTP/1.1 404")
        assert raw(b"GET /static/../app.py HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[
            :12
        ] in (b"HTTP/1.1 404", b"HTTP/1.1 400")
        blank = drawing_png(np.zeros((28, 28), np.uint8))
        assert post("/api/predict", blank).startswith(b"HTTP/1.1 400")
        # still serving: the page, and a real digit's prediction
        assert raw(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(
            b"HTTP/1.1 200"
        )
        assert post("/api/predict", drawing_png(mnist[0][0])).startswith(b"HTTP/1.1 200")
        assert thread.is_alive()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
