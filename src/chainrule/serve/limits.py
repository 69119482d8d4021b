"""What keeps ``chainrule serve`` standing whatever a client sends: body limits, clear 4xx.

Three pieces, all server-wide:

- :class:`BodyLimit`, an ASGI middleware that caps every request body by its path. A body
  that *declares* more (``Content-Length``) is answered 413 before a byte of it is read; one
  that declares nothing or lies (a chunked upload) is counted while it is read, and the read
  stops at the limit: the endpoint gets :class:`BodyTooLarge` instead of the next chunk.
- :class:`RequestError`, raised by an endpoint (or by :func:`read_json`, :func:`read_body`)
  for a request it cannot use: its status (a 4xx) and one-line message become the answer.
- :data:`EXCEPTION_HANDLERS`, which turn those into ``{"error": "..."}`` JSON answers, let a
  client that leaves mid-body go quietly, and turn a bug into a logged 500 with a message
  (the server keeps serving either way; uvicorn never sees an exception).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: A request body anywhere else (JSON settings, a form) is small.
DEFAULT_BODY_LIMIT = 256 * 1024


class RequestError(Exception):
    """A request the server cannot use: answered ``status`` with ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class BodyTooLarge(RequestError):
    """The body passed the limit of its path (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over {describe_bytes(limit)}, the limit here")
        self.limit = limit


def describe_bytes(count: int) -> str:
    """``8 MiB``, ``64 KiB``, ``300 bytes``: a limit as people read it."""
    for unit, size in (("MiB", 2**20), ("KiB", 2**10)):
        if count >= size and count % size == 0:
            return f"{count // size} {unit}"
    return f"{count} bytes"


class BodyLimit:
    """Caps request bodies: ``limits`` maps a path prefix to its limit in bytes (the longest
    matching prefix wins), anything else gets ``default``.

    The limit is kept while the body is read, never trusted from a header alone: the wrapped
    ``receive`` raises :class:`BodyTooLarge` at the first chunk that passes it, so no endpoint
    ever holds more than the limit (plus one chunk) in memory.
    """

    def __init__(
        self,
        app: ASGIApp,
        limits: Mapping[str, int] | None = None,
        default: int = DEFAULT_BODY_LIMIT,
    ) -> None:
        self.app = app
        self.default = default
        self.limits = sorted((limits or {}).items(), key=lambda item: -len(item[0]))

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.limits:
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _answer(scope, send, BodyTooLarge(limit))
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


async def _answer(scope: Scope, send: Send, error: RequestError) -> None:
    response = error_response(error.status, error.message)
    await response(scope, _nothing_to_receive, send)


async def _nothing_to_receive() -> Message:
    return {"type": "http.disconnect"}


async def read_body(request: Request, empty: str | None = None) -> bytes:
    """The whole body (its path's limit is kept by :class:`BodyLimit`); ``empty``: the message
    of the 400 for an empty body (None: an empty body is fine)."""
    chunks = [chunk async for chunk in request.stream()]
    body = b"".join(chunks)
    if not body and empty is not None:
        raise RequestError(400, empty)
    return body


async def read_json(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or a 400 saying what is wrong with it."""
    body = await read_body(request, empty="the request body is empty: send a JSON object")
    try:
        value = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise RequestError(400, "the request body is not UTF-8 text: send a JSON object") from None
    except json.JSONDecodeError as error:
        raise RequestError(
            400,
            f"the request body is not valid JSON ({error.msg} at line {error.lineno}, "
            f"column {error.colno})",
        ) from None
    except RecursionError:
        raise RequestError(400, "the request body is JSON nested too deeply") from None
    if not isinstance(value, dict):
        raise RequestError(
            400, f"the request body must be a JSON object {{...}}, got a {type(value).__name__}"
        )
    return value


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _request_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestError)
    return error_response(error.status, error.message)


async def _client_gone(request: Request, error: Exception) -> Response:
    """The client left before sending its whole body: nobody is waiting for an answer."""
    path = request.url.path
    logger.debug("%s %s: the client disconnected before its body arrived", request.method, path)
    return Response(status_code=400)


async def _bug(request: Request, error: Exception) -> Response:
    """Anything else is a bug of ours: logged with its traceback, answered 500 in one line."""
    logger.error("%s %s failed", request.method, request.url.path, exc_info=error)
    return error_response(500, f"internal error ({type(error).__name__}); the server log has more")


#: Starlette's ``exception_handlers`` for the app.
EXCEPTION_HANDLERS: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
    RequestError: _request_error,
    ClientDisconnect: _client_gone,
    Exception: _bug,
}
