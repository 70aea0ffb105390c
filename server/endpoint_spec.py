"""What an endpoint spec may say, and what Ray Serve is told of it.

``checked`` fills in the defaults (route /<name>, one replica) and refuses a malformed
spec with EndpointRefused("invalid") before anything is deployed; ``actor_options`` turns
a replica's resources into Serve's ray_actor_options (one CPU unless it says otherwise,
like a call's worker).
"""

from __future__ import annotations

import re
from typing import Any

from rhcli.protocol import daemon_pb2 as pb
from rhcli.server.executor import ray_resources

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
ROUTE = re.compile(r"/[A-Za-z0-9._~/-]*\Z")


class EndpointRefused(Exception):
    """A spec that cannot be served as it is; kind is "invalid", "exists" or "room"."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def checked(spec: pb.EndpointSpec) -> pb.EndpointSpec:
    """The spec with its defaults filled in; EndpointRefused("invalid") when malformed."""
    checked = pb.EndpointSpec()
    checked.CopyFrom(spec)
    if not NAME.match(checked.name):
        raise EndpointRefused(
            "invalid",
            f"endpoint name {checked.name!r}: a letter or _, then letters, digits, _ or -",
        )
    if not checked.function.WhichOneof("source"):
        raise EndpointRefused("invalid", "an endpoint needs a function (entrypoint or pickled)")
    if checked.asgi and not checked.function.entrypoint:
        raise EndpointRefused("invalid", "an ASGI app is named by an entrypoint (module:app)")
    checked.route = checked.route or f"/{checked.name}"
    if not ROUTE.match(checked.route) or "//" in checked.route or checked.route.startswith("/-/"):
        raise EndpointRefused(
            "invalid",
            f"route {checked.route!r}: a path like /square (letters, digits, . _ ~ - and /; "
            "Serve keeps /-/ for itself)",
        )
    if checked.route != "/":
        checked.route = checked.route.rstrip("/")
    if checked.max_replicas:
        if checked.replicas:
            raise EndpointRefused("invalid", "give replicas, or min/max replicas, not both")
        if not 0 <= checked.min_replicas <= checked.max_replicas:
            raise EndpointRefused(
                "invalid",
                f"min_replicas {checked.min_replicas} and max_replicas "
                f"{checked.max_replicas}: need 0 <= min <= max",
            )
    elif checked.min_replicas:
        raise EndpointRefused("invalid", "min_replicas needs max_replicas too")
    else:
        checked.replicas = checked.replicas or 1
        if checked.replicas < 1:
            raise EndpointRefused("invalid", f"replicas {checked.replicas}: at least 1")
    return checked


def actor_options(resources: pb.Resources) -> dict[str, Any]:
    wanted = ray_resources(resources)
    options: dict[str, Any] = {
        "num_cpus": wanted.pop("CPU", 0.0),
        "num_gpus": wanted.pop("GPU", 0.0),
    }
    if "memory" in wanted:
        options["memory"] = wanted.pop("memory")
    if wanted:
        options["resources"] = wanted
    return options


def describe(resources: dict[str, float]) -> str:
    return ", ".join(f"{name}={amount:g}" for name, amount in resources.items() if amount)
