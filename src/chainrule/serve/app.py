"""The web app behind ``chainrule serve``: draw a digit, see what each layer makes of it.

One page (``static/index.html``, plain HTML, JS and CSS served from this package: no build
step, nothing fetched from elsewhere) and a small JSON API:

    GET  /                 the page
    GET  /api/models       the models being served: id, name, file, classes, layer table
    POST /api/predict      body: the drawing as PNG (or JPEG, BMP) bytes; ?model=<id or name>
                           → the 28×28 input the model saw, its class probabilities and the
                           activations of every hidden layer

A drawing goes through exactly what ``chainrule predict`` does to a file
(:func:`chainrule.data.images.to_mnist`, then the model's stored preprocessing). A body that
is empty, not an image, or holds no ink is answered 400 with ``{"error": "..."}``; one over
8 MiB is answered 413 without reading past 8 MiB; a client that leaves before its body has
arrived is let go quietly (a debug line on the ``chainrule.serve`` logger, no traceback).
The server listens on 127.0.0.1 only unless told otherwise: it is a local teaching tool.
"""

from __future__ import annotations

import errno
import logging
import socket
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from chainrule.app.predict import Predictor
from chainrule.data.images import ImageError, decode_image, to_mnist
from chainrule.utils.validation import check_integer

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
MODEL_FILE = "model.safetensors"
#: A canvas snapshot is a few kB; anything past this is not a drawing.
MAX_BODY_BYTES = 8 * 1024 * 1024
#: The page only ever loads from this server (and draws into canvases).
CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' data: blob:"


@dataclass
class ServedModel:
    """A loaded model, and the lock that keeps concurrent requests off its layer caches."""

    id: str
    name: str
    path: Path
    predictor: Predictor
    lock: threading.Lock = field(default_factory=threading.Lock)

    def describe(self) -> dict[str, Any]:
        model = self.predictor.model
        return {
            "id": self.id,
            "name": self.name,
            "path": str(self.path),
            "class_names": self.predictor.class_names,
            "parameters": model.count_params(),
            "layers": [
                {"name": name, "output_shape": shape, "parameters": count}
                for name, shape, count in model.summary_rows()
            ],
        }

    def respond(self, digit: np.ndarray) -> dict[str, Any]:
        with self.lock:
            probabilities, hidden = self.predictor.activations(digit)
        best = int(np.argmax(probabilities))
        return {
            "model": self.id,
            "prediction": self.predictor.class_names[best],
            "class_names": self.predictor.class_names,
            "probabilities": _rounded(probabilities),
            "input": digit.tolist(),
            "layers": [
                {"name": name, "shape": list(values.shape), "values": _rounded(values.ravel())}
                for name, values in hidden
            ],
        }


def resolve_model_path(path: str | Path) -> Path:
    """A model file, or a run directory holding ``model.safetensors``."""
    path = Path(path)
    if path.is_dir():
        candidate = path / MODEL_FILE
        if not candidate.is_file():
            raise FileNotFoundError(
                f"{path} is a directory without a {MODEL_FILE}; give a run directory written "
                "by `chainrule train` or a model file"
            )
        return candidate
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    return path


def load_models(model_paths: Sequence[str | Path]) -> list[ServedModel]:
    """Load every model up front, so a bad one stops the server before it starts."""
    if isinstance(model_paths, str | Path):
        model_paths = [model_paths]
    if not model_paths:
        raise ValueError("serve needs at least one model file or run directory")
    models: list[ServedModel] = []
    taken: set[str] = set()
    for index, given in enumerate(model_paths):
        path = resolve_model_path(given)
        name = path.parent.name if path.name == MODEL_FILE and path.parent.name else path.stem
        base, number = name, 1
        while name in taken:
            number += 1
            name = f"{base} ({number})"
        taken.add(name)
        models.append(ServedModel(str(index), name, path, Predictor(path)))
    return models


def create_app(model_paths: Sequence[str | Path]) -> Starlette:
    """The Starlette app serving ``model_paths`` (model files or run directories)."""
    models = load_models(model_paths)
    by_key = {model.id: model for model in models} | {model.name: model for model in models}

    async def index(request: Request) -> FileResponse:
        return FileResponse(
            STATIC / "index.html", headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY}
        )

    async def list_models(request: Request) -> JSONResponse:
        return JSONResponse({"models": [model.describe() for model in models]})

    async def predict(request: Request) -> JSONResponse:
        key = request.query_params.get("model", models[0].id)
        model = by_key.get(key)
        if model is None:
            known = ", ".join(f"{m.id} ({m.name})" for m in models)
            return _error(404, f"unknown model {key!r}; the models are: {known}")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return _error(413, f"the image is over {MAX_BODY_BYTES // 2**20} MiB")
        body = await _read_body(request, MAX_BODY_BYTES)
        if body is None:
            return _error(413, f"the image is over {MAX_BODY_BYTES // 2**20} MiB")
        if not body:
            return _error(400, "the request body is empty: POST the drawing as PNG bytes")
        started = time.perf_counter()
        try:
            digit = await run_in_threadpool(lambda: to_mnist(decode_image(body)))
        except ImageError as error:
            return _error(400, f"cannot use the image: {error.reason}")
        answer = await run_in_threadpool(model.respond, digit)
        answer["milliseconds"] = round((time.perf_counter() - started) * 1000, 1)
        return JSONResponse(answer)

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/api/models", list_models),
            Route("/api/predict", predict, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        exception_handlers={ClientDisconnect: _client_gone},
    )
    app.state.models = models
    return app


def run(model_paths: Sequence[str | Path], host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the page until Ctrl+C: check the port, load every model, bind, then announce.

    Nothing is printed until the page can really be reached: a port outside 1-65535 is a
    ``ValueError``, a bad model file its own error, and an address that cannot be bound an
    ``OSError`` naming it (:func:`listen`), all before the "open http://..." line.
    """
    import uvicorn

    port = check_integer(port, "port", minimum=1, maximum=65535)
    app = create_app(model_paths)
    listener = listen(host, port)
    try:
        server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        print(f"chainrule serve: open {_url(host, port)} (Ctrl+C to stop)", file=sys.stderr)
        server.run(sockets=[listener])
    finally:
        listener.close()


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening (``port`` 0: any free port).

    Raises ``OSError`` with one line naming the address and what to change: the port is taken
    or needs privileges (``--port``), or the host is unknown or not this machine's (``--host``).
    """
    port = check_integer(port, "port", minimum=0, maximum=65535)
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )[0]
    except socket.gaierror as error:
        raise OSError(
            f"cannot listen on {host}:{port}: unknown host ({error.strerror}); use --host 127.0.0.1"
        ) from None
    listener = socket.socket(family, kind, protocol)
    try:
        # as uvicorn does: a restart may reuse a port whose old connections linger (TIME_WAIT)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen()
    except OSError as error:
        listener.close()
        advice = "choose another with --port"
        if error.errno == errno.EADDRNOTAVAIL:
            advice = f"{host} is not an address of this machine; use --host 127.0.0.1"
        elif error.errno == errno.EACCES and port < 1024:
            advice = "ports below 1024 need administrator rights; choose another with --port"
        raise OSError(f"cannot listen on {host}:{port} ({error.strerror}); {advice}") from None
    return listener


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it passes ``limit`` bytes (a chunked upload
    declares no length, so the limit is kept while reading, not trusted from a header)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _client_gone(request: Request, error: Exception) -> Response:
    """The client left before sending its whole body: nobody is waiting for an answer."""
    path = request.url.path
    logger.debug("%s %s: the client disconnected before its body arrived", request.method, path)
    return Response(status_code=400)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _rounded(values: np.ndarray) -> list[float]:
    """Four decimals are plenty for bars and heat maps, and keep the JSON small."""
    return np.round(np.asarray(values, dtype=np.float64), 4).tolist()
