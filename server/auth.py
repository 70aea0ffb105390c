"""The daemon's token check: every RPC must carry the token (rhcli.config.token_file).

The token is the only thing that separates "may run code on this cluster" from "may not"
(the daemon also listens on loopback only). It is compared in constant time, never logged,
and never put on a command line.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

import grpc

from rhcli.protocol.wire import TOKEN_METADATA_KEY


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
