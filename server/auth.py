"""The daemon's token: created at start, kept in a 0600 file, required on every RPC.

The token is the only thing that separates "may run code on this cluster" from "may not"
(the daemon also listens on loopback only). It is compared in constant time, never logged,
and never put on a command line.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

TOKEN_METADATA_KEY = "rhcli-token"  # noqa: S105 - the metadata key, not a secret


class InsecureTokenFileError(RuntimeError):
    """The token file can be read or written by someone other than its owner."""


def create_token(path: Path) -> str:
    """Write a fresh random token to path with mode 0600 and return it.

    The file is created under a temporary name with 0600 from the first byte and renamed
    into place, so the token is never readable by others, not even for a moment.
    """
    token = secrets.token_urlsafe(32)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, token.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    check_token_file(path)
    return token


def check_token_file(path: Path) -> None:
    """Raise InsecureTokenFileError when group or others may read or write the file."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise InsecureTokenFileError(
            f"token file {path} has mode {mode:04o}; it must be 0600 "
            f"(fix it with `chmod 600 {path}`)"
        )


def read_token(path: Path) -> str:
    """The token in path, after checking that only its owner can read it."""
    check_token_file(path)
    return path.read_text().strip()


class TokenInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Refuses every RPC whose `rhcli-token` metadata differs from the daemon's token."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

        def refuse(request: Any, context: grpc.ServicerContext) -> None:
            context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "missing or wrong rhcli token: this client does not hold the daemon's "
                "current token (the daemon writes a new one at every start)",
            )

        self._refusal = {
            (False, False): grpc.unary_unary_rpc_method_handler(refuse),
            (False, True): grpc.unary_stream_rpc_method_handler(refuse),
            (True, False): grpc.stream_unary_rpc_method_handler(refuse),
            (True, True): grpc.stream_stream_rpc_method_handler(refuse),
        }

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        presented = b""
        for key, value in details.invocation_metadata or ():
            if key == TOKEN_METADATA_KEY:
                presented = value.encode() if isinstance(value, str) else value
                break
        if hmac.compare_digest(presented, self._token):
            return continuation(details)
        handler = continuation(details)
        if handler is None:
            return None
        # Refuse with a handler of the same shape, or grpc would report a protocol error.
        return self._refusal[(handler.request_streaming, handler.response_streaming)]
