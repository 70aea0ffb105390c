"""map's client side: the broadcasting rules, the item stream sent to the daemon, and the
results collected in input order.

Items are pickled one at a time as the stream is read and sent in batches (by count and by
size), so a map of 100,000 items costs a few hundred messages, not one RPC per item, and the
pickled payloads are never all held at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from rhcli.args import check_args_size, dump_args, max_arg_bytes
from rhcli.errors import UsageError
from rhcli.outcomes import Outcome, outcome_from_message, unwrap
from rhcli.runref import new_run_id

if TYPE_CHECKING:
    from rhcli.clusters.base import Cluster
    from rhcli.functions import Function
    from rhcli.log_follower import LogPrinter

BATCH_ITEMS = 1000
BATCH_BYTES = 2 * 1024 * 1024

Call = tuple[tuple[Any, ...], dict[str, Any]]


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


def map_requests(
    map_id: str,
    function: Any,
    calls: Iterable[Call],
    *,
    target: Cluster,
    total: int,
    timeout: float | None,
    resources: Any,
    want_json: bool,
) -> Iterator[Any]:
    """The request stream of one map: a MapStart, then batches of pickled items."""
    from rhcli.protocol import daemon_pb2 as pb

    yield pb.MapRequest(
        start=pb.MapStart(
            run_id=map_id,
            function=function,
            timeout_s=timeout or 0.0,
            resources=resources,
            want_json=want_json,
            total=total,
        )
    )
    batch: list[bytes] = []
    size = first = 0
    limit = max_arg_bytes()
    for index, (args, kwargs) in enumerate(calls):
        payload, depends_on = dump_args(args, kwargs, target=target)
        if depends_on:
            raise UsageError(f"map item {index} holds a RunRef: pass rh.get(ref) instead")
        check_args_size(payload, args, kwargs, limit)
        batch.append(payload)
        size += len(payload)
        if len(batch) >= BATCH_ITEMS or size >= BATCH_BYTES:
            yield pb.MapRequest(items=pb.MapItems(first_index=first, args=batch))
            first, batch, size = index + 1, [], 0
    if batch:
        yield pb.MapRequest(items=pb.MapItems(first_index=first, args=batch))


def stream_map(
    fn: Function,
    calls: Iterable[Call],
    *,
    total: int,
    timeout: float | None,
    want_json: bool,
    stream_logs: bool | LogPrinter,
) -> Iterator[tuple[int, Outcome]]:
    """Run fn once per call on its cluster; yields (index, Outcome) as items end, in any
    order. The map's run id is ``fn.last_map_id`` once this starts."""
    system = fn.prepare()
    map_id = fn.last_map_id = new_run_id(fn.name)
    requests = map_requests(
        map_id,
        fn.function_message(),
        calls,
        target=system,
        total=total,
        timeout=timeout,
        resources=fn.resources_message(),
        want_json=want_json,
    )
    # An item that cannot be pickled ends the stream there (gRPC would otherwise
    # report our error as a cancelled RPC); items sent before it still run, and the
    # error is raised once the daemon has answered for them.
    stopped: list[BaseException] = []
    follower = fn.follow(map_id, stream_logs)
    try:
        for reply in system.client().map(_stop_at_error(requests, stopped)):
            for result in reply.results:
                yield result.index, outcome_from_message(f"{map_id}.{result.index}", result.outcome)
    finally:
        if follower is not None:
            follower.finish()
    if stopped:
        raise stopped[0]


def collect_map(
    fn: Function,
    calls: list[Call],
    *,
    return_exceptions: bool,
    timeout: float | None,
    stream_logs: bool,
) -> list[Any]:
    """Run the map and return its results in input order; a failed item raises its
    exception (noting the map and how many items failed), unless return_exceptions puts
    it in the item's place."""
    results: list[Any] = [None] * len(calls)
    failed: list[int] = []
    fetch = fn.system.client().read_result
    items = fn.map_raw(calls, total=len(calls), timeout=timeout, stream_logs=stream_logs)
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
                f"({len(failed)} of {len(calls)} items failed)"
            )
        raise error
    return results


def _stop_at_error(requests: Iterator[Any], stopped: list[BaseException]) -> Iterator[Any]:
    try:
        yield from requests
    except Exception as exc:
        stopped.append(exc)
