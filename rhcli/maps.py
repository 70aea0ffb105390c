"""map's client side: the broadcasting rules, the map run (fresh, resumed, recovered) and
its results collected in input order.

Exact accounting: every item of a map is handed on exactly once, with its outcome; when
the cluster or its daemon fails before every item has one, MapIncompleteError names the
map, how many items have no result and why, and the map can be resumed: the results it
has are kept in the client's journal of it (rhcli.map_journal) and on the cluster, and a
resume (rhcli.map_resume) runs only the others. A missing result is never a None.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from rhcli.errors import MapIncompleteError, UnreachableError, UsageError
from rhcli.function_ref import resources_message
from rhcli.map_journal import MapJournal
from rhcli.map_resume import journal_for_resume, plan_resume
from rhcli.map_stream import Call, check_complete, map_requests, run_attempt
from rhcli.outcomes import Outcome, unwrap
from rhcli.progress import say
from rhcli.runref import new_run_id

if TYPE_CHECKING:
    from rhcli.functions import Function
    from rhcli.log_follower import LogPrinter

_MISSING = object()


def check_map_id(map_id: str) -> None:
    """UsageError unless map_id can name a map (it names folders; items add .<index>)."""
    import re

    from rhcli.protocol.wire import MAP_ID_PATTERN

    if not re.fullmatch(MAP_ID_PATTERN, map_id):
        raise UsageError(
            f"{map_id!r} cannot name a map: letters, digits, '-' and '_' (at most 100), "
            "starting with a letter or digit"
        )


def map_calls(iterables: tuple[Iterable[Any], ...], kwargs: dict[str, Any]) -> list[Call]:
    """The calls of ``map(*iterables, **kwargs)``.

    Positional iterables are zipped; a keyword whose value is a list or tuple is zipped
    per call; any other keyword goes to every call. Raises ValueError, before anything is
    sent, when the zipped inputs differ in length or there are none.
    """
    columns = [list(it) for it in iterables]
    per_call = {k: list(v) for k, v in kwargs.items() if isinstance(v, (list, tuple))}
    constant = {k: v for k, v in kwargs.items() if k not in per_call}
    if not columns and not per_call:
        raise ValueError("map needs at least one iterable (or a list-valued keyword)")
    lengths = {len(c) for c in columns} | {len(v) for v in per_call.values()}
    if len(lengths) > 1:
        described = [f"argument {i + 1} has {len(c)}" for i, c in enumerate(columns)]
        described += [f"{k}= has {len(v)}" for k, v in per_call.items()]
        raise ValueError(
            "map inputs differ in length (" + ", ".join(described) + "); every list "
            "must hold one value per call"
        )
    (count,) = lengths
    return [
        (tuple(c[i] for c in columns), {**constant, **{k: v[i] for k, v in per_call.items()}})
        for i in range(count)
    ]


def stream_map(
    fn: Function,
    calls: Iterable[Call],
    *,
    total: int,
    timeout: float | None,
    want_json: bool,
    stream_logs: bool | LogPrinter,
    resume: str | None = None,
    recover: int = 0,
    map_id: str | None = None,
) -> Iterator[tuple[int, Outcome]]:
    """Run fn once per call on its cluster; yields (index, Outcome) of every item exactly
    once, in any order (with resume, the results the map has come first). The map's run
    id is ``fn.last_map_id`` once this starts.

    resume: the id of a map run before with the same calls: only its items without a
    successful outcome run (ChangedInputError, before anything is sent, when an item
    differs). recover (sky clusters): when the cluster is lost, relaunch it (up if down)
    and resume, at most this many times. map_id names a new map (default: generated).
    Raises MapIncompleteError when items are left without an outcome.
    """
    for named in (resume, map_id):
        if named is not None:
            check_map_id(named)
    system = fn.system
    if recover < 0:
        raise UsageError(f"recover must be 0 or more, not {recover}")
    if recover and system.type != "sky":
        raise UsageError(
            f"recover relaunches a lost sky cluster; {system.name} is a {system.type} "
            "cluster (resume a map on any cluster with resume=MAP_ID)"
        )
    if resume is not None or recover:
        calls = calls if isinstance(calls, list) else list(calls)
        total = len(calls)
    seen = bytearray(total)
    recoveries = 0
    while True:
        try:
            yield from _run(
                fn,
                calls,
                total=total,
                seen=seen,
                resume=resume,
                map_id=map_id,
                timeout=timeout,
                want_json=want_json,
                stream_logs=stream_logs,
            )
            return
        except MapIncompleteError as exc:
            if not exc.cluster_lost or recoveries >= recover:
                raise
            recoveries += 1
            say(
                f"{system.name}: lost during map {exc.map_id} ({exc.reason}); "
                f"{exc.missing} of {exc.total} items have no result. Relaunching it through "
                f"SkyPilot (up if down) and resuming the map: recovery {recoveries} of {recover}"
            )
            resume = exc.map_id
            system.reset_client()
            try:
                system.up()
            except UnreachableError as failed:  # the map stays resumable: say how
                raise MapIncompleteError(
                    map_id=exc.map_id,
                    missing=exc.missing,
                    total=exc.total,
                    reason=f"relaunching {system.name} failed: {failed}",
                    cluster_lost=True,
                ) from failed


def _run(
    fn: Function,
    calls: Iterable[Call],
    *,
    total: int,
    seen: bytearray,
    resume: str | None,
    map_id: str | None,
    timeout: float | None,
    want_json: bool,
    stream_logs: bool | LogPrinter,
) -> Iterator[tuple[int, Outcome]]:
    """One run of the map on the cluster: a new map, or a resume of `resume`."""
    from rhcli.protocol import daemon_pb2 as pb

    system = fn.prepare()
    start = pb.MapStart(
        function=fn.function_message(),
        timeout_s=timeout or 0.0,
        resources=resources_message(fn.resources),
        want_json=want_json,
        total=total,
    )
    items: Iterable[tuple[int, Call]]
    if resume is not None:
        assert isinstance(calls, list)  # stream_map made it one
        journal = journal_for_resume(system, resume, function=fn.name, total=total)
        try:
            plan = plan_resume(system, journal, calls, function=fn.name)
        except BaseException:
            journal.close()
            raise
        start.run_id, start.resume = resume, True
        start.attempt, start.held_by_client = plan.attempt, plan.held
        items = ((index, calls[index]) for index in plan.to_run)
    else:
        start.run_id = map_id or new_run_id(fn.name)
        journal = MapJournal.create(
            start.run_id, function=fn.name, cluster=system.name, total=total
        )
        items = enumerate(calls)
    fn.last_map_id = start.run_id
    with journal:
        if resume is not None:  # what the map has already, first
            for index, outcome in journal.outcomes([i for i in range(total) if not seen[i]]):
                seen[index] = 1
                yield index, outcome
        follower = fn.follow(start.run_id, stream_logs)
        try:
            requests = map_requests(start, items, target=system, journal=journal, seen=seen)
            yield from run_attempt(
                system,
                requests,
                map_id=start.run_id,
                journal=journal,
                seen=seen,
                total=total,
                entrypoint=fn.source.entrypoint,
            )
        except BaseException:
            if follower is not None:
                follower.cancel()
            raise
        if follower is not None:
            follower.finish()
        if not total:  # a stream of unknown length: its length is known now
            journal.update(total=len(seen))
    check_complete(
        start.run_id, seen, total, "the cluster ended the map without an outcome for them"
    )


def collect_map(
    fn: Function,
    calls: list[Call],
    *,
    return_exceptions: bool,
    timeout: float | None,
    stream_logs: bool,
    resume: str | None = None,
    recover: int = 0,
) -> list[Any]:
    """Run the map and return its results in input order; a failed item raises its
    exception (noting the map and how many items failed), unless return_exceptions puts
    it in the item's place. MapIncompleteError when items are left without a result."""
    results: list[Any] = [_MISSING] * len(calls)
    failed: list[int] = []

    def fetch(run_id: str) -> bytes | bytearray:  # the cluster's client of the moment
        return fn.system.client().read_result(run_id)

    items = fn.map_raw(
        calls,
        total=len(calls),
        timeout=timeout,
        stream_logs=stream_logs,
        resume=resume,
        recover=recover,
    )
    for index, outcome in items:
        try:
            results[index] = unwrap(outcome, fetch)
        except Exception as exc:
            failed.append(index)
            results[index] = exc
    if failed and not return_exceptions:
        first = min(failed)
        error = results[first]
        if hasattr(error, "add_note"):
            error.add_note(
                f"map {fn.last_map_id}: item {first} failed "
                f"({len(failed)} of {len(calls)} items failed); run only the failed items "
                f"again with resume={fn.last_map_id!r}"
            )
        raise error
    return results
