"""HTTP endpoints, from the client: serve a function (or an ASGI app) through Ray Serve on
its cluster, list a cluster's endpoints, end one, read what its replicas print.

``serve`` syncs the code and installs the function's reqs first, exactly as a call does,
and on SSH and sky clusters installs Ray Serve there too (matched to the cluster's Ray);
on the local cluster, whose environment is the user's own, a missing Ray Serve is an error
that says what to install. Serving again after a code change rolls the replicas to the new
code (the code's digest is part of the spec); serving again with nothing changed changes
nothing.

An endpoint's URL is local: on the local cluster Serve's own port on 127.0.0.1; elsewhere
a port of this machine forwarded over SSH by a background process that outlives the
command that printed it (rhcli.transport.http_forward), until the cluster's last
endpoint is unserved or the cluster is brought down.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rhcli.errors import EndpointFailedError, EndpointNotReadyError, UsageError

if TYPE_CHECKING:
    from rhcli.clusters.base import Cluster
    from rhcli.functions import Function
    from rhcli.log_follower import LogPrinter

DEFAULT_WAIT_S = 300.0


@dataclass(frozen=True)
class Endpoint:
    """One HTTP endpoint as its cluster reports it. ``url`` works on this machine; call it
    with ``headers()`` (the bearer token). ``token`` is empty unless it was asked for."""

    name: str
    cluster: str
    route: str
    url: str
    status: str  # "deploying", "running", "failed", "unhealthy", "deleting"
    message: str = ""
    replicas_running: int = 0
    replicas: int = 0  # the fixed count; 0 when autoscaling between min and max
    min_replicas: int = 0
    max_replicas: int = 0
    asgi: bool = False
    public: bool = False
    public_url: str = ""  # where others reach it, for a public endpoint
    target: str = ""  # the entrypoint served
    token: str = field(default="", repr=False)
    # Plain values only (str, int, bool): dataclasses.asdict() and JSON take an Endpoint
    # as it is (the dashboard lists them so). The Cluster it came from, which holds
    # connections and locks, is kept beside the fields, not among them.

    @property
    def system(self) -> Cluster | None:
        """The Cluster this endpoint was read from (None when built by hand)."""
        found: Cluster | None = self.__dict__.get("_system")
        return found

    @property
    def wanted(self) -> str:
        """The replicas it asks for: "2", or "1..4" when autoscaling."""
        if self.max_replicas:
            return f"{self.min_replicas}..{self.max_replicas}"
        return str(self.replicas)

    def headers(self) -> dict[str, str]:
        """The Authorization header its requests need (empty without the token)."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def unserve(self) -> bool:
        """End this endpoint (see rhcli.endpoint_api.unserve)."""
        return unserve(self.name, cluster=self.system or self.cluster)

    def document(self, *, show_token: bool = False) -> dict[str, Any]:
        """Its JSON form (what `--json` prints); the token only with show_token."""
        found = {
            "name": self.name,
            "cluster": self.cluster,
            "route": self.route,
            "url": self.url,
            "status": self.status,
            "message": self.message,
            "replicas_running": self.replicas_running,
            "replicas": self.wanted,
            "asgi": self.asgi,
            "public": self.public,
            "public_url": self.public_url,
            "target": self.target,
        }
        if show_token:
            found["token"] = self.token
        return found


def serve(
    fn: Function,
    *,
    name: str | None = None,
    route: str | None = None,
    replicas: int | None = None,
    min_replicas: int | None = None,
    max_replicas: int | None = None,
    resources: Mapping[str, float] | None = None,
    asgi: bool = False,
    public: bool = False,
    wait: float = DEFAULT_WAIT_S,
) -> Endpoint:
    """Serve fn over HTTP on its cluster and return the endpoint, once its replicas run.

    Blocks up to wait seconds. Raises EndpointFailedError when the replicas cannot start
    (the module raised on import...), EndpointNotReadyError when they are not running yet
    after wait (the deploy goes on), UsageError for a malformed spec or a cluster without
    room for it, and what a call raises when the cluster cannot be reached.
    """
    if replicas is not None and (min_replicas is not None or max_replicas is not None):
        raise UsageError("give replicas (a fixed count) or min/max replicas, not both")
    if min_replicas is not None and max_replicas is None:
        raise UsageError("min_replicas needs max_replicas (autoscaling between the two)")
    from rhcli.function_ref import resources_message
    from rhcli.protocol import daemon_pb2 as pb

    system = fn.prepare()  # the code synced and the reqs installed, as for a call
    _ensure_serve(system, fn)
    spec = pb.EndpointSpec(
        name=name or endpoint_name(fn.name),
        function=fn.function_message(),
        asgi=asgi,
        route=route or "",
        replicas=replicas or 0,
        min_replicas=min_replicas or 0,
        max_replicas=max_replicas or 0,
        resources=resources_message(resources if resources is not None else fn.resources),
        public=public,
        code_version=code_version(fn),
    )
    info = system.call_daemon(lambda client: client.serve(spec, wait_s=wait))
    endpoint = _endpoint(system, info)
    if endpoint.status == "failed":
        raise EndpointFailedError(name=endpoint.name, cluster=system.name, reason=info.message)
    if endpoint.status != "running":
        raise EndpointNotReadyError(
            name=endpoint.name,
            cluster=system.name,
            status=endpoint.status,
            message=info.message,
            waited=wait,
        )
    return endpoint


def endpoints(
    *, cluster: Cluster | str | None = None, show_token: bool = False, manifest: str | None = None
) -> list[Endpoint]:
    """The endpoints served on a cluster (none when its daemon is down); tokens only
    with show_token."""
    system = _cluster(cluster, manifest)
    if not system.status().up:
        return []
    found = system.call_daemon(lambda client: client.list_endpoints(show_token=show_token))
    return [_endpoint(system, info) for info in found]


def unserve(
    name: str, *, cluster: Cluster | str | None = None, manifest: str | None = None
) -> bool:
    """End an endpoint (its replicas, token and log); False when the cluster serves none of
    that name. The cluster's last endpoint takes the local forward with it."""
    system = _cluster(cluster, manifest)
    if not system.status().up:
        return False
    found = system.call_daemon(lambda client: client.unserve(name))
    if system.call_daemon(lambda client: client.health()).endpoints == 0:
        system.close_endpoint_forward()
    return bool(found)


def print_endpoint_log(
    name: str, *, cluster: Cluster | str | None, printer: LogPrinter, follow: bool
) -> None:
    """Print what the endpoint's replicas printed; with follow, until it is unserved."""
    system = _cluster(cluster, None)
    for batch in system.client().endpoint_logs(name, follow=follow):
        printer.print_batch(batch)
        if batch.end:
            return


def endpoint_name(text: str) -> str:
    """An endpoint name made of a function's name: letters, digits, _ and -."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", text.rsplit(":", 1)[-1]).strip("-")
    return cleaned if re.match(r"[A-Za-z_]", cleaned) else f"fn-{cleaned}".rstrip("-")


def code_version(fn: Function) -> str:
    """A digest of what the replicas run: the repository's files (paths, sizes, times, as
    a sync sees them), the reqs, and the function itself when it travels by value."""
    from rhcli.transport.sync import plan

    digest = hashlib.sha256(plan(fn.source.local_root).fingerprint.encode())
    digest.update(repr(fn.reqs).encode())
    digest.update(fn.source.pickled)
    return digest.hexdigest()[:24]


def _ensure_serve(system: Cluster, fn: Function) -> None:
    """Install Ray Serve on a cluster rhcli set up (its venv is rhcli's own), matched to
    the Ray it runs; skipped when installed (the daemon checks extras too)."""
    if system.type == "local":
        return  # the user's own environment: the daemon says what to install
    version = system.call_daemon(lambda client: client.health()).ray_version
    if version:
        system.ensure_reqs((f"ray[serve]=={version}",), fn.source.local_root)


def _endpoint(system: Cluster, info: Any) -> Endpoint:
    route = info.route
    url = f"http://{system.endpoint_address(info.port)}{route}" if info.port else ""
    public_url = f"http://{system.public_host()}:{info.port}{route}" if info.public else ""
    endpoint = Endpoint(
        name=info.name,
        cluster=system.name,
        route=route,
        url=url,
        status=info.status,
        message=info.message,
        replicas_running=info.replicas_running,
        replicas=info.replicas,
        min_replicas=info.min_replicas,
        max_replicas=info.max_replicas,
        asgi=info.asgi,
        public=info.public,
        public_url=public_url,
        target=info.target,
        token=info.token,
    )
    object.__setattr__(endpoint, "_system", system)  # frozen: set once, here
    return endpoint


def _cluster(cluster: Cluster | str | None, manifest: str | None) -> Cluster:
    from rhcli.clusters.base import Cluster

    if isinstance(cluster, Cluster):
        return cluster
    from rhcli.clusters.registry import cluster as find

    return find(cluster, manifest=manifest)
