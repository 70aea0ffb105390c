"""Runs after their call, for Python and the CLI alike: ``rh.get``, ``rh.cancel``,
``rh.runs``, and the outcomes and records behind them.

Everything here returns plain values (``RunInfo``, ``Outcome``), never protocol messages.
A run is named by a RunRef (which knows its cluster) or a run id string (then on the
cluster given, or the manifest's default).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from rhcli.errors import UnknownRunError
from rhcli.outcomes import Outcome, outcome_from_message, unwrap

if TYPE_CHECKING:
    from rhcli.clusters.base import Cluster

Status = Literal["queued", "running", "succeeded", "failed", "cancelled", "timed_out"]


@dataclass(frozen=True)
class RunInfo:
    """One run's record on its cluster.

    Times are unix seconds; started_at and ended_at are None until the run starts and
    ends. parent is the map's id for a map item. items, items_failed and items_succeeded
    count a map's items (0 for other runs; items the map has but neither counts were
    never run, or never sent); attempts is how often a map ran (1, plus one per resume).
    worker is the worker that ran it, "ADDRESS:PID" (its node's address and the process),
    "" until it ended or when no worker ran it. stored_at is when its outcome was stored
    (the cluster's clock; 0 while in flight). args_summary is a short repr of its
    arguments made by the caller ("" for map items).
    """

    run_id: str
    function: str
    status: Status
    failure: str
    reason: str
    created_at: float
    started_at: float | None
    ended_at: float | None
    parent: str | None
    items: int
    items_failed: int
    worker: str = ""
    stored_at: float = 0.0
    args_summary: str = ""
    items_succeeded: int = 0
    attempts: int = 0

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end (to now, while running); None before it starts."""
        import time

        if self.started_at is None:
            return None
        return max(0.0, (self.ended_at or time.time()) - self.started_at)


def run_info_from_message(message: Any) -> RunInfo:
    from rhcli.protocol.statuses import failure_name, status_name

    return RunInfo(
        run_id=message.run_id,
        function=message.function,
        status=status_name(message.status),  # type: ignore[arg-type]
        failure=failure_name(message.failure),
        reason=message.reason,
        created_at=message.created_at,
        started_at=message.started_at or None,
        ended_at=message.ended_at or None,
        parent=message.parent or None,
        items=message.items,
        items_failed=message.items_failed,
        worker=message.worker,
        stored_at=message.stored_at,
        args_summary=message.args_summary,
        items_succeeded=message.items_succeeded,
        attempts=message.attempts,
    )


def cluster_of(ref: str, cluster: Cluster | str | None = None) -> Cluster:
    """The cluster a run is on: the RunRef's own, else cluster (a Cluster, a name, or
    None for the manifest's default)."""
    from rhcli.clusters.base import Cluster
    from rhcli.clusters.registry import cluster as named

    own = getattr(ref, "cluster", None)  # a RunRef knows its cluster
    if own is not None and cluster is None:
        return own  # type: ignore[no-any-return]
    if isinstance(cluster, Cluster):
        return cluster
    return named(cluster)


def get(ref: str, *, cluster: Cluster | str | None = None, timeout: float | None = None) -> Any:
    """Wait for a run and return its result (or raise what it raised).

    ref is a RunRef or a run id (then on cluster, default: the manifest's default
    cluster). timeout bounds the wait only: WaitTimeoutError says the run goes on.
    The id of a map gives the list of its items' results in input order, or raises the
    first failed item's exception, as ``fn.map`` does; results the cluster lacks (it lost
    its disk) come from this machine's journal of the map.
    Raises UnknownRunError for an id the cluster does not know (or no longer keeps).
    """
    system = cluster_of(ref, cluster)
    try:
        ended = outcome(ref, cluster=system, timeout=timeout, fetch=False)
    except UnknownRunError:
        kept = _journaled_map(str(ref))
        if kept is None:
            raise
        return [unwrap(item) for item in kept]
    fetch = system.client().read_result
    size = map_size(ended, cluster=system)
    if size:
        return [unwrap(item, fetch) for item in map_item_outcomes(str(ref), size, cluster=system)]
    return unwrap(ended, fetch)


def _journaled_map(map_id: str) -> Iterator[Outcome] | None:
    """A map's outcomes from this machine's journal when it holds every item's result."""
    from rhcli.map_journal import MapJournal

    journal = MapJournal.open(map_id, writable=False)
    if journal is None or not journal.total or journal.held < journal.total:
        return None
    return (found for _, found in journal.outcomes(range(journal.total)))


def outcome(
    ref: str,
    *,
    cluster: Cluster | str | None = None,
    timeout: float | None = None,
    fetch: bool = True,
    start: bool = True,
) -> Outcome:
    """The run's outcome once it ends, or after timeout seconds one still queued or
    running (timeout=None waits as long as the run does). With fetch, a result too large
    to travel inline is fetched into it. start=False starts no daemon (a down one raises
    DaemonNotRunningError), as for every read-only function here."""
    system = cluster_of(ref, cluster)
    run_id = str(ref)
    message = system.call_daemon(lambda client: client.wait(run_id, timeout=timeout), start=start)
    found = outcome_from_message(run_id, message)
    return found.fetch_result(system.client(start=start).read_result) if fetch else found


def map_size(ended: Outcome, *, cluster: Cluster, start: bool = True) -> int:
    """How many items the run has when it is a map that has ended, else 0.

    A map's own record holds no result (its items do); a plain run that ended always has
    one, or a failure, so only those two cases cost the extra lookup.
    """
    if ended.status not in ("succeeded", "failed") or ended.result or ended.result_size:
        return 0
    return info(ended.run_id, cluster=cluster, start=start).items


def map_item_outcomes(
    map_id: str, items: int, *, cluster: Cluster, fetch: bool = False, start: bool = True
) -> Iterator[Outcome]:
    """Each item's outcome of a map that has ended, in input order: from this machine's
    journal of the map when it has the item's result, else from the cluster (one Wait per
    item); with fetch, large results are fetched into them. An item neither knows (never
    sent, or lost with the cluster's disk) is a failed outcome saying so, never None."""
    from rhcli.map_journal import MapJournal

    journal = MapJournal.open(map_id, writable=False)
    client = cluster.client(start=start)
    for index in range(items):
        item_id = f"{map_id}.{index}"
        if journal is not None and journal.has(index):
            yield journal.outcome(index)
            continue
        try:
            found = outcome_from_message(item_id, client.wait(item_id, timeout=None))
        except UnknownRunError:
            yield Outcome(
                run_id=item_id,
                status="failed",
                failure="internal",
                reason=f"item {index} of map {map_id} has no outcome on {cluster.name} "
                f"(never sent, or lost with its disk); resume the map to run it",
            )
            continue
        yield found.fetch_result(client.read_result) if fetch else found


def info(ref: str, *, cluster: Cluster | str | None = None, start: bool = True) -> RunInfo:
    """The run's record (UnknownRunError when the cluster does not know it)."""
    system = cluster_of(ref, cluster)
    message = system.call_daemon(lambda client: client.get_run(str(ref)), start=start)
    return run_info_from_message(message)


def cancel(ref: str, *, cluster: Cluster | str | None = None, start: bool = True) -> RunInfo:
    """Stop a queued or running run; a run that has ended is left as it is. Returns its
    record after the cancel."""
    system = cluster_of(ref, cluster)
    message = system.call_daemon(lambda client: client.cancel(str(ref)), start=start)
    return run_info_from_message(message)


def map_items(
    map_id: str,
    *,
    cluster: Cluster | str | None = None,
    stored_after: float = 0.0,
    limit: int = 100_000,
) -> list[RunInfo]:
    """The records of a map's items (runs ``<map id>.<i>``) in index order, at most
    limit of them. With stored_after, only those whose outcome was stored at or after
    that time (RunInfo.stored_at, the cluster's clock): a watcher passes the largest
    stored_at it has seen and gets every item that ended since (some seen again)."""
    system = cluster_of(map_id, cluster)
    found = system.call_daemon(
        lambda client: client.list_runs(
            limit=limit, parent=str(map_id), stored_after=stored_after, include_items=True
        )
    )
    return [run_info_from_message(message) for message in found]


def runs(
    *,
    cluster: Cluster | str | None = None,
    limit: int = 50,
    function: str = "",
    include_items: bool = False,
    statuses: tuple[Status, ...] = (),
    since: float | None = None,
    start: bool = True,
) -> list[RunInfo]:
    """The newest runs on the cluster, newest first; map items too with include_items.

    statuses keeps runs in one of them; since (unix seconds) runs created at or after it.
    Raises UsageError for a limit under 1 or an unknown status.
    """
    from rhcli.errors import UsageError
    from rhcli.protocol.statuses import STATUS_VALUES

    if limit < 1:
        raise UsageError(f"the number of runs to list must be 1 or more, not {limit}")
    unknown = [name for name in statuses if name not in STATUS_VALUES]
    if unknown:
        raise UsageError(f"unknown status {unknown[0]!r}; statuses are: {', '.join(STATUS_VALUES)}")
    values = tuple(STATUS_VALUES[name] for name in statuses)
    system = cluster_of("", cluster)
    found = system.call_daemon(
        lambda client: client.list_runs(
            limit=limit,
            function=function,
            include_items=include_items,
            statuses=values,
            since=since or 0.0,
        ),
        start=start,
    )
    return [run_info_from_message(message) for message in found]


LAST = "last"


def resolve_run_id(ref: str, *, cluster: Cluster | str | None = None, start: bool = True) -> str:
    """The run id ref names: itself, or for "last" the newest run's on the cluster (map
    items aside). Raises UnknownRunError when the cluster has no run at all."""
    from rhcli.errors import UnknownRunError

    if str(ref) != LAST:
        return str(ref)
    newest = runs(cluster=cluster, limit=1, start=start)
    if not newest:
        raise UnknownRunError(
            "`last` names the newest run, but this cluster has none (runs are kept for the "
            "retention period); start one with `rhcli run FN`"
        )
    return newest[0].run_id
