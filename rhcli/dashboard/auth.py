"""Who may read the dashboard: whoever opened the URL with its token, from this machine.

As Jupyter does: ``rhcli dashboard`` makes a random token at each start and prints the
URL with it. A request carrying the right token (``?token=``) gets a session cookie and
is sent on to the same page without the token in its address; every later request must
carry the cookie. Anything else gets 401 and nothing of the cluster.

Also refused, before the token is even looked at:
- a Host header that is not this server's loopback address and port (403): a web page
  elsewhere cannot reach the dashboard through a DNS name it points at 127.0.0.1 (DNS
  rebinding);
- any method but GET and HEAD (405): the dashboard only reads, so no page can make it
  act on a cluster.

Every answer forbids framing and sniffing, sends no referrer and allows only the
dashboard's own scripts (Content-Security-Policy).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]
_REFUSED_TEXT = (
    "This dashboard needs the address `rhcli dashboard` printed, with its token "
    "(?token=...). Open that address again, or restart `rhcli dashboard` for a new one.\n"
)


def new_token() -> str:
    return secrets.token_urlsafe(32)


class TokenGate:
    """ASGI middleware in front of the whole dashboard (pages, API and assets alike)."""

    def __init__(self, app: ASGIApp, *, token: str, port: int) -> None:
        self._app = app
        self._token = token
        self._session = new_token()  # what the cookie holds: the token never is stored
        # Cookies are per host, not per port: another dashboard on this machine must not
        # overwrite ours.
        self.cookie_name = f"rhcli_dashboard_{port}"
        self._hosts = {f"127.0.0.1:{port}".encode(), f"localhost:{port}".encode()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: not a request
            await self._app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if headers.get(b"host", b"") not in self._hosts:
            await _plain(send, 403, "This dashboard answers on its own address only.\n")
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _plain(send, 405, "This dashboard only reads.\n", [(b"allow", b"GET, HEAD")])
            return
        query = parse_qsl(scope.get("query_string", b"").decode(), keep_blank_values=True)
        given = [value for name, value in query if name == "token"]
        if given:
            if not hmac.compare_digest(given[-1].encode(), self._token.encode()):
                await _plain(send, 401, _REFUSED_TEXT)
                return
            await self._enter(scope, send, [(n, v) for n, v in query if n != "token"])
            return
        if not self._has_session(headers.get(b"cookie", b"")):
            await _plain(send, 401, _REFUSED_TEXT)
            return
        await self._app(scope, receive, _with_headers(send))

    def _has_session(self, cookie_header: bytes) -> bool:
        cookies: SimpleCookie = SimpleCookie()
        try:
            cookies.load(cookie_header.decode("latin-1"))
        except Exception:  # a malformed Cookie header is no session
            return False
        morsel = cookies.get(self.cookie_name)
        return morsel is not None and hmac.compare_digest(
            morsel.value.encode(), self._session.encode()
        )

    async def _enter(self, scope: Scope, send: Send, rest: list[tuple[str, str]]) -> None:
        """The right token: set the session cookie and send the browser on to the same
        address without the token (so it leaves the address bar)."""
        location = scope.get("path", "/") + (f"?{urlencode(rest)}" if rest else "")
        cookie = (f"{self.cookie_name}={self._session}; Path=/; HttpOnly; SameSite=Strict").encode()
        await _plain(
            send,
            303,
            "Signed in.\n",
            [(b"location", location.encode()), (b"set-cookie", cookie)],
        )


def _with_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
        await send(message)

    return sending


async def _plain(
    send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = text.encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *SECURITY_HEADERS,
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
