"""The web app behind ``chainrule serve``: the digit page (draw or photograph a digit, see
what each layer makes of it), the step-through page and the playground.

Pages (``static/``: plain HTML, JS and CSS served from this package, no build step, nothing
fetched from elsewhere) and a small JSON API:

    GET  /                 the digit page: draw a digit or upload a photo of one
    GET  /api/models       the models being served: id, name, file, classes, layer table
    POST /api/predict      body: the drawing or photo as PNG/JPEG/BMP bytes; ?model=<id or
                           name>; ?stages=1 adds each preprocessing stage as a small PNG
                           → the 28×28 input the model saw, its class probabilities and the
                           activations of every hidden layer
    GET  /playground       train a small network on 2-D points (``chainrule.serve.playground``)
    GET  /step             step through backprop on any explain spec
                           (``chainrule.serve.stepthrough``)

A drawing or photo goes through exactly what ``chainrule predict`` does to a file
(:func:`chainrule.data.images.to_mnist`, then the model's stored preprocessing). Whatever a
client sends, the server answers and keeps serving (``chainrule.serve.limits``): a body over
its path's limit (``MAX_IMAGE_BYTES`` for an image, less elsewhere) is a 413, refused from its
``Content-Length`` or as soon as reading passes the limit; an image declaring more than
``chainrule.data.images.MAX_PIXELS`` pixels is refused from its header, before decoding; a
body that is empty, not an image, not JSON, or holds no ink is a 400 with ``{"error": "..."}``;
a client that leaves before its body has arrived is let go quietly (a debug line on the
``chainrule.serve`` logger). No client input names a file: models are picked among those
loaded, by id or name. The server listens on 127.0.0.1 only unless ``host`` says otherwise
(then it warns on stderr): it is a local teaching tool with no login.
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
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from chainrule.app.predict import MODEL_FILE, Predictor, resolve_model_path
from chainrule.data.images import STEP_TITLES, ImageError, decode_image, to_mnist
from chainrule.nn import kernels
from chainrule.serve import playground as playground_page
from chainrule.serve import stepthrough
from chainrule.serve.limits import EXCEPTION_HANDLERS, BodyLimit, RequestError, read_body
from chainrule.utils.validation import check_integer

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
#: A canvas snapshot is a few kB, a phone photo 2-20 MB; anything past this is not a digit.
MAX_IMAGE_BYTES = 32 * 1024 * 1024
#: Bodies by path (the longest matching prefix); anything else: ``limits.DEFAULT_BODY_LIMIT``.
BODY_LIMITS = {"/api/predict": MAX_IMAGE_BYTES, **playground_page.BODY_LIMITS}
#: Preprocessing stages are sent at most this many pixels on their longer side.
STAGE_SIZE = 240
#: Hosts that only this machine can reach; any other gets a warning.
LOOPBACK = ("127.0.0.1", "localhost", "::1")
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


def load_models(model_paths: Sequence[str | Path]) -> list[ServedModel]:
    """Load every model up front, so a bad one stops the server before it starts (none is
    fine: the playground and step-through pages need no trained model)."""
    if isinstance(model_paths, str | Path):
        model_paths = [model_paths]
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


def _warm_up_kernels() -> None:
    try:
        kernels.warm_up()
    except Exception:  # a bug, shown in the log; the pages still work (only slower at first)
        logger.exception("loading the compiled kernels failed")


def create_app(model_paths: Sequence[str | Path] = ()) -> Starlette:
    """The Starlette app serving ``model_paths`` (model files or run directories; none: the
    digit page says how to give one, the other pages work as ever)."""
    models = load_models(model_paths)
    by_key = {model.id: model for model in models} | {model.name: model for model in models}

    playground = playground_page.Playground()
    # The first optimizer step of a process loads the compiled kernels (about 2 s): done now,
    # in the background, so that the first Train or step-through answers as fast as the rest.
    threading.Thread(target=_warm_up_kernels, name="kernels-warm-up", daemon=True).start()
    page_headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY}

    async def index(request: Request) -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=page_headers)

    async def list_models(request: Request) -> JSONResponse:
        return JSONResponse({"models": [model.describe() for model in models]})

    async def predict(request: Request) -> JSONResponse:
        if not models:
            raise RequestError(
                404,
                "no model is being served: start the server with one, e.g. chainrule "
                "serve runs/mlp (a run directory written by chainrule train)",
            )
        key = request.query_params.get("model", models[0].id)
        model = by_key.get(key)
        if model is None:
            known = ", ".join(f"{m.id} ({m.name})" for m in models)
            raise RequestError(404, f"unknown model {key!r}; the models are: {known}")
        stages = request.query_params.get("stages", "0") not in ("0", "", "false")
        body = await read_body(
            request, empty="the request body is empty: POST the drawing or photo as PNG/JPEG bytes"
        )
        started = time.perf_counter()
        try:
            digit, steps = await run_in_threadpool(
                lambda: to_mnist(decode_image(body), return_steps=True)
            )
        except ImageError as error:
            raise RequestError(400, f"cannot use the image: {error.reason}") from None
        answer = await run_in_threadpool(model.respond, digit)
        if stages:
            answer["stages"] = await run_in_threadpool(stage_images, steps)
        answer["milliseconds"] = round((time.perf_counter() - started) * 1000, 1)
        return JSONResponse(answer)

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/api/models", list_models),
            Route("/api/predict", predict, methods=["POST"]),
            *stepthrough.routes(page_headers),
            *playground_page.playground_routes(playground, STATIC, page_headers),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[Middleware(BodyLimit, limits=BODY_LIMITS)],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    app.state.models = models
    app.state.playground = playground
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
        if host not in LOOPBACK:
            print(
                f"chainrule serve: warning: listening on {host}, so other machines can reach "
                "these pages (there is no login); use --host 127.0.0.1 to keep them local",
                file=sys.stderr,
            )
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


def stage_images(steps: dict[str, np.ndarray], size: int = STAGE_SIZE) -> list[dict[str, Any]]:
    """The preprocessing stages of ``to_mnist(..., return_steps=True)``, in order, each as
    ``predict --explain-image`` titles it, with a PNG (data URL) at most ``size`` pixels on
    its longer side (the 28×28 and 20 px stages as they are: the page enlarges them)."""
    import base64
    import io

    from PIL import Image

    stages = []
    for name, title in STEP_TITLES.items():
        image = Image.fromarray(steps[name])
        if max(image.size) > size:
            factor = size / max(image.size)
            shape = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
            image = image.resize(shape, Image.Resampling.BOX)
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        stages.append({
            "name": name,
            "title": title,
            "width": image.width,
            "height": image.height,
            "png": "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode(),
        })  # fmt: skip
    return stages


def _rounded(values: np.ndarray) -> list[float]:
    """Four decimals are plenty for bars and heat maps, and keep the JSON small."""
    return np.round(np.asarray(values, dtype=np.float64), 4).tolist()
