"""map's client side: the broadcasting rules, and the item stream sent to the daemon.

Items are pickled one at a time as the stream is read and sent in batches (by count and by
size), so a map of 100,000 items costs a few hundred messages, not one RPC per item, and the
pickled payloads are never all held at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from rhcli.args import check_args_size, dump_args, max_arg_bytes

if TYPE_CHECKING:
    from rhcli.clusters.base import Cluster

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
            from rhcli.errors import UsageError

            raise UsageError(f"map item {index} holds a RunRef: pass rh.get(ref) instead")
        check_args_size(payload, args, kwargs, limit)
        batch.append(payload)
        size += len(payload)
        if len(batch) >= BATCH_ITEMS or size >= BATCH_BYTES:
            yield pb.MapRequest(items=pb.MapItems(first_index=first, args=batch))
            first, batch, size = index + 1, [], 0
    if batch:
        yield pb.MapRequest(items=pb.MapItems(first_index=first, args=batch))
