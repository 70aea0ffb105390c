"""Plain HTTP requests for the endpoint tests (the standard library's, as curl would)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def request(
    url: str,
    body: Any = None,
    *,
    token: str | None = None,
    method: str | None = None,
    timeout: float = 60,
) -> tuple[int, Any]:
    """(status, JSON body or raw bytes) of one request; body None sends none (a GET)."""
    data = None if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as reply:
            return reply.status, _decoded(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, _decoded(exc.read())


def answers(url: str) -> bool:
    """Whether anything answers at url with the endpoint's own app (a 404 from Serve's
    proxy, a refused connection or a reset mean: no)."""
    try:
        status, _ = request(url, {}, timeout=10)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
    return status != 404


def _decoded(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data
