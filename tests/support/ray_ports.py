"""Speaking to Ray's own ports as another client would: with Ray's gRPC stubs, and a token
sent the way Ray's clients send it (or none)."""

from __future__ import annotations

from typing import Any

import grpc


def bearer(token: str | None) -> tuple[tuple[str, str], ...]:
    """The metadata a Ray client sends with token (none for None)."""
    return (("authorization", f"Bearer {token}"),) if token is not None else ()


def gcs_nodes(address: str, token: str | None) -> Any:
    """GetAllNodeInfo of the GCS at address: its reply, or the grpc.RpcError it raised."""
    from ray.core.generated import gcs_service_pb2 as gcs
    from ray.core.generated import gcs_service_pb2_grpc as gcs_grpc

    with grpc.insecure_channel(address) as channel:
        stub = gcs_grpc.NodeInfoGcsServiceStub(channel)
        try:
            return stub.GetAllNodeInfo(
                gcs.GetAllNodeInfoRequest(), metadata=bearer(token), timeout=20
            )
        except grpc.RpcError as exc:
            return exc
