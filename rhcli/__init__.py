"""rhcli: run Python functions from a git repository on a cluster as if they were local.

    import rhcli as rh
    generate = rh.function("models.sd:generate", system="local")
    images = generate("A dog.", steps=50)

Importing rhcli is cheap: it imports neither Ray nor gRPC until a call needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rhcli._version import __version__
from rhcli.errors import (
    AuthError,
    EndpointFailedError,
    EndpointNotReadyError,
    HostSetupError,
    RemoteError,
    RhcliError,
    RunError,
    RunTimeoutError,
    UnreachableError,
    UsageError,
    VersionMismatchError,
    WorkerDiedError,
)

if TYPE_CHECKING:
    from rhcli.clusters.base import Cluster
    from rhcli.clusters.local import LocalCluster
    from rhcli.clusters.sky import OnDemandCluster
    from rhcli.endpoint_api import Endpoint
    from rhcli.functions import Function
    from rhcli.outcomes import Outcome
    from rhcli.runref import RunRef
    from rhcli.runs_api import RunInfo

__all__ = [
    "AuthError",
    "Cluster",
    "Endpoint",
    "EndpointFailedError",
    "EndpointNotReadyError",
    "Function",
    "HostSetupError",
    "LocalCluster",
    "OnDemandCluster",
    "Outcome",
    "RemoteError",
    "RhcliError",
    "RunError",
    "RunInfo",
    "RunRef",
    "RunTimeoutError",
    "UnreachableError",
    "UsageError",
    "VersionMismatchError",
    "WorkerDiedError",
    "__version__",
    "cancel",
    "cluster",
    "endpoints",
    "function",
    "get",
    "here",
    "ondemand_cluster",
    "runs",
    "unserve",
]


def cluster(name: str | None = None, **kwargs: Any) -> Cluster:
    """The cluster called name in runhouse.yaml ("local", or rh.here, is this machine), or
    an SSH host: ``rh.cluster(name="box", host="10.0.0.5", user="ubuntu", key=...)``."""
    from rhcli.clusters.registry import cluster as _cluster

    return _cluster(name, **kwargs)


def ondemand_cluster(name: str, **kwargs: Any) -> OnDemandCluster:
    """A cluster launched through SkyPilot when it is down (``pip install 'rhcli[sky]'``):
    ``rh.ondemand_cluster(name="a10", instance_type="A10G:1", provider="aws",
    autostop_mins=30)``; see rhcli.clusters.registry.ondemand_cluster for every option."""
    from rhcli.clusters.registry import ondemand_cluster as _ondemand_cluster

    return _ondemand_cluster(name, **kwargs)  # type: ignore[return-value]


def function(*args: Any, **kwargs: Any) -> Function:
    """A remote function; see rhcli.functions.function for the forms it takes."""
    from rhcli.functions import function as _function

    return _function(*args, **kwargs)


def get(ref: str, *, cluster: Any = None, timeout: float | None = None) -> Any:
    """Wait for a run (a RunRef or run id) and return its result, or raise its error."""
    from rhcli.runs_api import get as _get

    return _get(ref, cluster=cluster, timeout=timeout)


def cancel(ref: str, *, cluster: Any = None) -> RunInfo:
    """Stop a queued or running run; cancelling an ended run changes nothing. Returns the
    run's record (rh.RunInfo) after the cancel."""
    from rhcli.runs_api import cancel as _cancel

    return _cancel(ref, cluster=cluster)


def runs(
    *, cluster: Any = None, limit: int = 50, function: str = "", include_items: bool = False
) -> list[RunInfo]:
    """The newest runs on a cluster (rh.RunInfo records), newest first; map items with
    include_items."""
    from rhcli.runs_api import runs as _runs

    return _runs(cluster=cluster, limit=limit, function=function, include_items=include_items)


def endpoints(*, cluster: Any = None, show_token: bool = False) -> list[Endpoint]:
    """The HTTP endpoints served on a cluster (rh.Endpoint records, each with its local
    URL); their tokens with show_token. Serve one with ``fn.serve(...)``."""
    from rhcli.endpoint_api import endpoints as _endpoints

    return _endpoints(cluster=cluster, show_token=show_token)


def unserve(name: str, *, cluster: Any = None) -> bool:
    """End an HTTP endpoint; False when the cluster serves none of that name."""
    from rhcli.endpoint_api import unserve as _unserve

    return _unserve(name, cluster=cluster)


def __getattr__(name: str) -> Any:
    # rh.here and the classes resolve lazily, keeping `import rhcli` light.
    if name == "here":
        return cluster("local")
    if name == "Cluster":
        from rhcli.clusters.base import Cluster

        return Cluster
    if name == "LocalCluster":
        from rhcli.clusters.local import LocalCluster

        return LocalCluster
    if name == "OnDemandCluster":
        from rhcli.clusters.sky import OnDemandCluster

        return OnDemandCluster
    if name == "Endpoint":
        from rhcli.endpoint_api import Endpoint

        return Endpoint
    if name == "Function":
        from rhcli.functions import Function

        return Function
    if name == "RunRef":
        from rhcli.runref import RunRef

        return RunRef
    if name == "RunInfo":
        from rhcli.runs_api import RunInfo

        return RunInfo
    if name == "Outcome":
        from rhcli.outcomes import Outcome

        return Outcome
    raise AttributeError(f"module 'rhcli' has no attribute {name!r}")
