"""Runs after the call: ``rh.get``, ``rh.cancel``, ``rh.runs``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from rhcli.clusters import Cluster, cluster
from rhcli.errors import DaemonNotRunningError
from rhcli.payload import unwrap
from rhcli.runref import RunRef

if TYPE_CHECKING:
    from rhcli.client import DaemonClient

_T = TypeVar("_T")


def _cluster_of(ref: str, system: Cluster | str | None) -> Cluster:
    if isinstance(ref, RunRef) and ref.cluster is not None and system is None:
        return ref.cluster
    if isinstance(system, Cluster):
        return system
    return cluster(system)


def get(ref: str, *, cluster: Cluster | str | None = None, timeout: float | None = None) -> Any:
    """Wait for a run and return its result (or raise what it raised).

    ref is a RunRef or a run id (then on cluster, default: the manifest's default
    cluster). timeout bounds the wait only: WaitTimeoutError says the run goes on.
    Raises UnknownRunError for an id the cluster does not know (or no longer keeps).
    """
    system = _cluster_of(ref, cluster)
    outcome = _send(system, lambda client: client.wait(str(ref), timeout=timeout))
    return unwrap(str(ref), outcome, system.client().read_result)


def cancel(ref: str, *, cluster: Cluster | str | None = None) -> Any:
    """Stop a queued or running run; a run that has ended is left as it is. Its RunInfo."""
    return _send(_cluster_of(ref, cluster), lambda client: client.cancel(str(ref)))


def runs(
    *,
    cluster: Cluster | str | None = None,
    limit: int = 50,
    function: str = "",
    include_items: bool = False,
) -> list[Any]:
    """The newest runs on the cluster (RunInfo messages), newest first."""
    from rhcli.server.proto import daemon_pb2 as pb

    system = cluster if isinstance(cluster, Cluster) else _cluster_of("", cluster)
    request = pb.ListRunsRequest(limit=limit, function=function, include_items=include_items)
    return _send(system, lambda client: client.list_runs(request))


def _send(system: Cluster, rpc: Callable[[DaemonClient], _T]) -> _T:
    try:
        return rpc(system.client())
    except DaemonNotRunningError:
        # The daemon restarted since we connected (a new port): connect anew, once. The
        # run records outlive the daemon, so the answer is the same.
        system.reset_client()
        return rpc(system.client())
