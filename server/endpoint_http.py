"""The HTTP side of an endpoint, as ASGI apps a Serve replica runs: the gate every request
passes (bearer token, loopback) and the adapter that turns a plain function into HTTP.

Plain ASGI, no framework: it is the whole contract, it runs inside the user's replica
next to whatever their app imports, and it is tested by calling it directly.

The function's HTTP contract (docs/serve.md):
- ``POST ROUTE`` with a JSON object (keyword arguments), a JSON array (positional
  arguments), ``{"args": [...], "kwargs": {...}}`` (both; an object whose only keys are
  args and kwargs is read this way), or an empty body (no arguments);
- 200 with the JSON of the result (bytes: the bytes themselves, application/octet-stream);
- 400 for a body that is not JSON; 422 for one that does not fit the function's signature;
  500 when the function raises (type and message; the traceback goes to the endpoint's
  log) or returns something that has no JSON form; 405 for another method; 404 below the
  route; 413 for a body over MAX_BODY_BYTES.
Every error body is ``{"error": {"type": ..., "message": ...}}``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import inspect
import ipaddress
import json
import sys
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY_BYTES = 64 * 2**20
_JSON = b"application/json"


def token_digest(token: str) -> str:
    """What a replica keeps of the token: its SHA-256 (the token itself never goes into
    Serve's deployment config, which Ray's state API can list)."""
    return hashlib.sha256(token.encode()).hexdigest()


async def send_body(
    send: Send, status: int, body: bytes, content_type: bytes, headers: Any = ()
) -> None:
    start = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*start, *headers]})
    await send({"type": "http.response.body", "body": body})


async def send_error(
    send: Send, status: int, type_name: str, message: str, headers: Any = ()
) -> None:
    document = {"error": {"type": type_name, "message": message}}
    await send_body(send, status, json.dumps(document).encode(), _JSON, headers)


class Gate:
    """Lets a request through to ``inner`` only with the endpoint's bearer token (401
    otherwise; compared in constant time) and, unless the endpoint is public, only from
    the loopback (403 otherwise: a proxy opened to the network for a public endpoint must
    not open the others)."""

    def __init__(self, inner: ASGIApp, *, token_sha256: str, public: bool) -> None:
        self._inner = inner
        self._expected = bytes.fromhex(token_sha256)
        self._public = public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await run_lifespan(self._inner, scope, receive, send)
            return
        if kind not in ("http", "websocket"):
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            status, type_name, message = refusal
            if kind == "websocket":  # closing before accepting answers 403 to the client
                await send({"type": "websocket.close", "code": 1008})
                return
            challenge = [(b"www-authenticate", b"Bearer")] if status == 401 else []
            await send_error(send, status, type_name, message, challenge)
            return
        await self._inner(scope, receive, send)

    def _refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        if not self._public and not _from_loopback(scope.get("client")):
            return 403, "Forbidden", "this endpoint answers on the cluster's loopback only"
        presented = _bearer(scope.get("headers") or [])
        digest = hashlib.sha256(presented.encode()).digest() if presented is not None else b""
        # No token hashes to b"", which never matches: one comparison for every request.
        if not hmac.compare_digest(digest, self._expected):
            return (
                401,
                "Unauthorized",
                "missing or wrong token: send `Authorization: Bearer TOKEN` "
                "(`rhcli --json endpoints --show-token` prints it)",
            )
        return None


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, credentials = value.decode("latin-1").strip().partition(" ")
            return credentials.strip() if scheme.lower() == "bearer" else None
    return None


def _from_loopback(client: Any) -> bool:
    if not client:
        return False
    try:
        return ipaddress.ip_address(str(client[0])).is_loopback
    except ValueError:
        return False


async def run_lifespan(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Hand the lifespan protocol to app; an app that does not speak it (it raises before
    answering the startup) is started as if it had, which is what uvicorn does by default.
    An app that answers "startup.failed" fails the replica."""
    answered = False

    async def tracking_send(message: Message) -> None:
        nonlocal answered
        answered = True
        await send(message)

    try:
        await app(scope, receive, tracking_send)
    except Exception:
        if answered:
            raise
        await _plain_lifespan(receive, send)


async def _plain_lifespan(receive: Receive, send: Send) -> None:
    """Answer startup and shutdown for an app that has neither."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class FunctionApp:
    """A plain function as an ASGI app (the contract in this module's docstring)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = fn
        try:
            self._signature: inspect.Signature | None = inspect.signature(fn)
        except (TypeError, ValueError):  # some builtins have none: the call itself checks
            self._signature = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _plain_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        root = scope.get("root_path", "").rstrip("/")
        if scope.get("path", "").rstrip("/") != root:
            await send_error(send, 404, "NotFound", f"this endpoint answers at {root or '/'}")
            return
        if scope.get("method") != "POST":
            await send_error(
                send, 405, "MethodNotAllowed", "call the function with POST", [(b"allow", b"POST")]
            )
            return
        body = await _read_body(receive)
        if body is None:
            await send_error(send, 413, "PayloadTooLarge", f"over {MAX_BODY_BYTES} bytes")
            return
        try:
            args, kwargs = parse_arguments(body)
        except ValueError as exc:
            await send_error(send, 400, "BadRequest", str(exc))
            return
        except TypeError as exc:
            await send_error(send, 422, "UnprocessableEntity", str(exc))
            return
        if self._signature is not None:
            try:
                self._signature.bind(*args, **kwargs)
            except TypeError as exc:
                await send_error(send, 422, "UnprocessableEntity", f"arguments: {exc}")
                return
        try:
            result = await self._call(args, kwargs)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)  # the endpoint's log has the whole story
            cls = type(exc)
            await send_error(send, 500, f"{cls.__module__}.{cls.__qualname__}", str(exc))
            return
        await _send_result(send, result)

    async def _call(self, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if inspect.iscoroutinefunction(self._fn):
            return await self._fn(*args, **kwargs)
        # A blocking function must not hold the replica's event loop: other requests
        # to this replica (Serve sends several at once) go on meanwhile.
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(None, functools.partial(self._fn, *args, **kwargs))
        return await result if inspect.isawaitable(result) else result


def parse_arguments(body: bytes) -> tuple[list[Any], dict[str, Any]]:
    """(args, kwargs) from a request body. ValueError: not JSON; TypeError: JSON of a
    shape that cannot be arguments."""
    if not body.strip():
        return [], {}
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"the body is not JSON: {exc}") from None
    if isinstance(value, list):
        return value, {}
    if not isinstance(value, dict):
        raise TypeError(
            f"the body is a JSON {type(value).__name__}: send an object (keyword arguments), "
            'an array (positional arguments), or {"args": [...], "kwargs": {...}}'
        )
    if value and set(value) <= {"args", "kwargs"}:
        args, kwargs = value.get("args", []), value.get("kwargs", {})
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise TypeError('"args" must be a JSON array and "kwargs" a JSON object')
        return args, kwargs
    return [], value


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body; None when it is over MAX_BODY_BYTES."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _send_result(send: Send, result: Any) -> None:
    if isinstance(result, (bytes, bytearray, memoryview)):
        await send_body(send, 200, bytes(result), b"application/octet-stream")
        return
    try:
        body = json.dumps(result, allow_nan=False).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        message = f"the function returned a {type(result).__name__}, which has no JSON form: {exc}"
        print(f"rhcli: {message}", file=sys.stderr)
        await send_error(send, 500, "ResultNotJSON", message)
        return
    await send_body(send, 200, body, _JSON)
