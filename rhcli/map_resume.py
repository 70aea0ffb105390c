"""Resuming a map: which items still need to run, and whether the inputs are the same.

The results a map already has are in two places: the client's journal of it
(rhcli.map_journal) and the cluster's run store. A resume gathers both (the cluster's
succeeded results the journal lacks are added to it), checks that every input item is
the one the map ran (by the SHA-256 of its pickle, against the journal's and the
cluster's digests) before anything is sent, and plans to send only the items without a
successful outcome. A cluster that lost its disk knows nothing of the map: the journal
alone then says what is done.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rhcli.args import dump_args
from rhcli.errors import ChangedInputError, UnknownRunError, UsageError
from rhcli.map_journal import DIGEST_BYTES, MapJournal, journals_root
from rhcli.outcomes import outcome_from_message
from rhcli.progress import say
from rhcli.runs_api import RunInfo, info

if TYPE_CHECKING:
    from rhcli.clusters.base import Cluster

Call = tuple[tuple[Any, ...], dict[str, Any]]

# How often a resume looks whether the map's earlier attempt has ended on the cluster.
_WAIT_POLL_S = 5.0


@dataclass(frozen=True)
class ResumePlan:
    """What a resume sends: to_run (indices, increasing); held counts the items whose
    results only the journal has (the cluster lost them); attempt is this run's number."""

    to_run: list[int]
    held: int
    attempt: int


def plan_resume(
    system: Cluster, journal: MapJournal, calls: Sequence[Call], *, function: str
) -> ResumePlan:
    """Check the inputs and gather what the map has; raises ChangedInputError (the first
    item that differs, nothing sent), UsageError (another function or item count)."""
    map_id = journal.map_id
    total = len(calls)
    ran = str(journal.meta.get("function", function))
    _refuse_another_map(map_id, ran=ran, items=journal.total, function=function, total=total)
    ours = _digests(calls, system)
    first_changed = _first_difference(ours, journal.digests(), total)
    on_cluster = bytearray(total)  # 1: succeeded there
    record = _ended_record(system, map_id)
    if record is not None:
        _refuse_another_map(
            map_id, ran=record.function, items=record.items, function=function, total=total
        )
        client = system.client()
        for batch in client.map_state(map_id, journal.have_bitmap(total)):
            fetched = []
            for item in batch.items:
                index = int(item.index)
                if index >= total:
                    continue
                if item.args_digest != _digest_of(ours, index).hex():
                    first_changed = min(first_changed, index)
                    continue
                outcome = outcome_from_message(f"{map_id}.{index}", item.outcome)
                if outcome.succeeded:
                    on_cluster[index] = 1
                    if not journal.has(index):
                        fetched.append((index, outcome.fetch_result(client.read_result)))
            journal.add(fetched)
    if first_changed < total:
        raise ChangedInputError(map_id=map_id, index=first_changed)
    journal.write_digests(range(total), [_digest_of(ours, i) for i in range(total)])
    to_run = [i for i in range(total) if not journal.has(i)]
    held = sum(1 for i in range(total) if journal.has(i) and not on_cluster[i])
    attempt = journal.attempts + 1
    journal.update(attempts=attempt, total=total)
    return ResumePlan(to_run=to_run, held=held, attempt=attempt)


def journal_for_resume(system: Cluster, map_id: str, *, function: str, total: int) -> MapJournal:
    """The map's journal on this machine, or a new one when the map ran elsewhere (the
    cluster's record then holds what it did); UsageError when neither knows map_id."""
    journal = MapJournal.open(map_id)
    if journal is not None:
        return journal
    try:
        system.call_daemon(lambda client: client.get_run(map_id))
    except UnknownRunError:
        raise UsageError(
            f"there is no map {map_id} to resume: no journal of it on this machine "
            f"(under {journals_root()}) and {system.name} does not know it; check the "
            "id (`rhcli runs` lists the cluster's maps)"
        ) from None
    return MapJournal.create(map_id, function=function, cluster=system.name, total=total)


def _ended_record(system: Cluster, map_id: str) -> RunInfo | None:
    """The cluster's record of the map once no attempt of it runs there (waiting for one
    that does: its client went away, and it finishes the items it received); None when
    the cluster does not know the map."""
    try:
        record = info(map_id, cluster=system)
    except UnknownRunError:
        return None
    if record.status in ("queued", "running"):
        say(
            f"map {map_id} is still running on {system.name} (its client went away); "
            "waiting for it to end before resuming"
        )
        while record.status in ("queued", "running"):
            system.call_daemon(lambda client: client.wait(map_id, timeout=_WAIT_POLL_S))
            record = info(map_id, cluster=system)
    return record


def _refuse_another_map(map_id: str, *, ran: str, items: int, function: str, total: int) -> None:
    """UsageError when the map ran another function or had another number of items."""
    if ran != function:
        raise UsageError(
            f"map {map_id} ran {ran}, not {function}: resume a map with the function it ran"
        )
    if items and total and items != total:
        raise UsageError(
            f"map {map_id} has {items} items, this input has {total}: a resume needs the "
            "same inputs in the same order; start a new map for others"
        )


def _digests(calls: Sequence[Call], system: Cluster) -> bytes:
    """The SHA-256 of each call's pickle, 32 bytes per item (pickled one at a time)."""
    out = bytearray()
    for args, kwargs in calls:
        payload, _ = dump_args(args, kwargs, target=system)
        out += hashlib.sha256(payload).digest()
    return bytes(out)


def _first_difference(ours: bytes, recorded: bytes, total: int) -> int:
    """The first index whose recorded digest (not all zero: recorded) differs; total when
    none does."""
    empty = bytes(DIGEST_BYTES)
    for index in range(min(total, len(recorded) // DIGEST_BYTES)):
        at = slice(index * DIGEST_BYTES, (index + 1) * DIGEST_BYTES)
        theirs = recorded[at]
        if theirs != empty and theirs != ours[at]:
            return index
    return total


def _digest_of(digests: bytes, index: int) -> bytes:
    return digests[index * DIGEST_BYTES : (index + 1) * DIGEST_BYTES]
