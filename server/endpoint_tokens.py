"""The bearer tokens of a daemon's HTTP endpoints: one per endpoint name.

A token is made when its endpoint is first served and kept (in ``endpoint_tokens.json``
under the daemon's root, mode 0600) until the endpoint is unserved, so rolling an
endpoint to new code, or serving it again after a daemon restart (`rhcli up`), leaves the
clients' token valid. One token per endpoint: handing one out opens that endpoint only.
The daemon's own token (which lets its holder run code) is never one of them.
"""

from __future__ import annotations

import json
import secrets
import threading
from pathlib import Path

from rhcli.config.token_file import check_token_file, write_private


class EndpointTokens:
    """Tokens by endpoint name; thread-safe; every change is on disk before it returns."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._tokens = self._read()

    def _read(self) -> dict[str, str]:
        try:
            check_token_file(self._path)  # refuses a file others may read
            found = json.loads(self._path.read_text())
        except FileNotFoundError:
            return {}
        return {str(name): str(token) for name, token in dict(found).items()}

    def get_or_create(self, name: str) -> str:
        """The endpoint's token, made (and stored) on first use."""
        with self._lock:
            token = self._tokens.get(name)
            if token is None:
                token = secrets.token_urlsafe(32)
                self._write({**self._tokens, name: token})
            return token

    def get(self, name: str) -> str:
        with self._lock:
            return self._tokens.get(name, "")

    def drop(self, name: str) -> None:
        """Forget the endpoint's token (idempotent): it opens nothing any more."""
        with self._lock:
            if name in self._tokens:
                self._write({n: t for n, t in self._tokens.items() if n != name})

    def _write(self, tokens: dict[str, str]) -> None:
        write_private(self._path, json.dumps(tokens).encode())
        self._tokens = tokens
