"""One attempt of a map on its cluster: the item stream out, the outcomes back.

Items are pickled one at a time as the stream is read and sent in batches (by count and
by size), so a map of 100,000 items costs about a hundred messages, not one RPC per
item, and the pickled payloads are never all held at once. Each item's digest goes to
the map's journal before the item is sent; each outcome goes to the journal (when it
succeeded) before it is handed on, so whatever this process received survives it.

Accounting: `seen` (one byte per index) records which items have been handed on; an
index outside the map or answered twice is a loud error, never a silent overwrite.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from rhcli.args import check_args_size, dump_args, max_arg_bytes
from rhcli.errors import (
    EntrypointNotFoundError,
    MapIncompleteError,
    MapStoppedError,
    RunError,
    UnreachableError,
    UsageError,
)
from rhcli.outcomes import Outcome, outcome_from_message

if TYPE_CHECKING:
    from rhcli.clusters.base import Cluster
    from rhcli.map_journal import MapJournal

BATCH_ITEMS = 1000
BATCH_BYTES = 2 * 1024 * 1024

Call = tuple[tuple[Any, ...], dict[str, Any]]


def map_requests(
    start: Any,
    items: Iterable[tuple[int, Call]],
    *,
    target: Cluster,
    journal: MapJournal | None,
    seen: bytearray,
) -> Iterator[Any]:
    """The request stream of one map: start (a MapStart), then batches of pickled items
    (index, call). seen grows to cover every index sent (a map of unknown length)."""
    from rhcli.protocol import daemon_pb2 as pb

    yield pb.MapRequest(start=start)
    payloads: list[bytes] = []
    indices: list[int] = []
    size = 0
    limit = max_arg_bytes()
    for index, (args, kwargs) in items:
        payload, depends_on = dump_args(args, kwargs, target=target)
        if depends_on:
            raise UsageError(f"map item {index} holds a RunRef: pass rh.get(ref) instead")
        check_args_size(len(payload), args, kwargs, limit)
        payloads.append(payload)
        indices.append(index)
        size += len(payload)
        if len(payloads) >= BATCH_ITEMS or size >= BATCH_BYTES:
            yield _batch(payloads, indices, journal, seen)
            payloads, indices, size = [], [], 0
    if payloads:
        yield _batch(payloads, indices, journal, seen)


def _batch(
    payloads: list[bytes], indices: list[int], journal: MapJournal | None, seen: bytearray
) -> Any:
    from rhcli.protocol import daemon_pb2 as pb

    if journal is not None:
        journal.write_digests(indices, [hashlib.sha256(p).digest() for p in payloads])
    if len(seen) <= indices[-1]:  # before the items go: their answers may come at once
        seen.extend(bytes(indices[-1] + 1 - len(seen)))
    first = indices[0]
    consecutive = indices[-1] - first == len(indices) - 1  # indices only ever increase
    return pb.MapRequest(
        items=pb.MapItems(first_index=first, args=payloads, indices=[] if consecutive else indices)
    )


def run_attempt(
    system: Cluster,
    requests: Iterator[Any],
    *,
    map_id: str,
    journal: MapJournal | None,
    seen: bytearray,
    total: int,
    entrypoint: str = "",
) -> Iterator[tuple[int, Outcome]]:
    """Send requests; yield (index, Outcome) of each item as it ends, journaled first.

    Raises MapIncompleteError when the stream ends in a failure of the cluster (the
    daemon stopped the map, or the cluster went away), EntrypointNotFoundError at the
    first item whose function cannot be found (every item would fail so), UsageError for
    a map the daemon refused. An item that could not be pickled ends the stream there and
    its error is raised once the daemon has answered for the items sent before it.
    """
    stopped: list[BaseException] = []
    try:
        for reply in system.client().map(_stop_at_error(requests, stopped)):
            batch = [_checked(map_id, r, seen, entrypoint) for r in reply.results]
            if journal is not None:
                journal.add(batch)
            for index, outcome in batch:
                seen[index] = 1
                yield index, outcome
    except MapStoppedError as exc:
        raise _incomplete(map_id, seen, total, str(exc), cluster_lost=False) from exc
    except (UsageError, MapIncompleteError):
        raise
    except UnreachableError as exc:
        raise _incomplete(map_id, seen, total, str(exc), cluster_lost=True) from exc
    if stopped:
        raise stopped[0]


def _checked(map_id: str, result: Any, seen: bytearray, entrypoint: str) -> tuple[int, Outcome]:
    index = int(result.index)
    if not 0 <= index < len(seen) or seen[index]:
        raise RunError(
            f"map {map_id}: the cluster answered for item {index} "
            + ("twice" if 0 <= index < len(seen) else "which the map does not have"),
            run_id=map_id,
        )
    outcome = outcome_from_message(f"{map_id}.{index}", result.outcome)
    if outcome.failure == "entrypoint_not_found":
        raise EntrypointNotFoundError(
            f"map {map_id}: {outcome.reason}",
            entrypoint=entrypoint,
            run_id=outcome.run_id,
            remote_traceback=outcome.error.traceback if outcome.error else "",
        )
    return index, outcome


def _incomplete(
    map_id: str, seen: bytearray, total: int, reason: str, *, cluster_lost: bool
) -> MapIncompleteError:
    total = max(total, len(seen))
    return MapIncompleteError(
        map_id=map_id,
        missing=total - seen.count(1),
        total=total,
        reason=reason,
        cluster_lost=cluster_lost,
    )


def check_complete(map_id: str, seen: bytearray, total: int, reason: str) -> None:
    """Raise MapIncompleteError when some of the total items have no outcome."""
    if seen.count(1) < max(total, len(seen)):
        raise _incomplete(map_id, seen, total, reason, cluster_lost=False)


def _stop_at_error(requests: Iterator[Any], stopped: list[BaseException]) -> Iterator[Any]:
    # An item that cannot be pickled ends the stream there (gRPC would otherwise report
    # our error as a cancelled RPC); the daemon answers for the items sent before it.
    try:
        yield from requests
    except Exception as exc:
        stopped.append(exc)
