"""Runs after the call: ``rh.get``, ``rh.cancel``, ``rh.runs``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from rhcli.clusters.base import Cluster, cluster
from rhcli.errors import DaemonNotRunningError
from rhcli.args import unwrap
from rhcli.runref import RunRef

if TYPE_CHECKING:
    from rhcli.transport.grpc_client import DaemonClient

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
    The id of a map gives the list of its items' results in input order, or raises the
    first failed item's exception, as ``fn.map`` does.
    Raises UnknownRunError for an id the cluster does not know (or no longer keeps).
    """
    system = _cluster_of(ref, cluster)
    run_id = str(ref)
    outcome = _send(system, lambda client: client.wait(run_id, timeout=timeout))
    client = system.client()
    items = map_size(client, run_id, outcome)
    if items:
        return [
            unwrap(f"{run_id}.{index}", item, client.read_result)
            for index, item in map_item_outcomes(client, run_id, items)
        ]
    return unwrap(run_id, outcome, client.read_result)


def map_size(client: DaemonClient, run_id: str, outcome: Any) -> int:
    """How many items the run has when it is a map that has ended, else 0.

    A map's own record holds no result (its items do); a plain run that ended always has
    one, or a failure, so only those two cases cost the extra lookup.
    """
    from rhcli.protocol import daemon_pb2 as pb

    if outcome.status not in (pb.SUCCEEDED, pb.FAILED) or outcome.result or outcome.result_size:
        return 0
    return int(client.get_run(run_id).items)


def map_item_outcomes(client: DaemonClient, map_id: str, items: int) -> Iterator[tuple[int, Any]]:
    """Each item's outcome of a map that has ended, in input order (one Wait per item)."""
    for index in range(items):
        yield index, client.wait(f"{map_id}.{index}", timeout=None)


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
    from rhcli.protocol import daemon_pb2 as pb

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
