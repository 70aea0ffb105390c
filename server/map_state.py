"""What a map left, for a client that resumes it: the MapState RPC's batches.

The map's record comes first; then every item row (index, the digest of its arguments,
its outcome) in batches of at most BATCH_ITEMS items or about BATCH_BYTES, read from the
store a page at a time, so neither side holds every item at once. A succeeded item's
result travels with it unless the client said it holds it already (the `have` bitmap) or
it is over the inline limit (then result_size says how large, and ReadResult streams it).
A succeeded item whose result file was lost (not fsynced: a power loss) is sent as failed
with that reason, never with a short result: the client runs it again in its resume.
"""

from __future__ import annotations

from collections.abc import Iterator

from rhcli.protocol import daemon_pb2 as pb
from rhcli.protocol.wire import INLINE_REPLY_LIMIT
from rhcli.server import map_items
from rhcli.server.result_files import ResultLostError, checked_result_file, read_result_file
from rhcli.server.runstore import RunStore

BATCH_ITEMS = 1000
BATCH_BYTES = 2 * 1024 * 1024


def holds(have: bytes, index: int) -> bool:
    """Whether bit index of the bitmap is set (byte index // 8, least significant first)."""
    byte = index >> 3
    return byte < len(have) and bool(have[byte] >> (index & 7) & 1)


def map_state_batches(store: RunStore, info: pb.RunInfo, have: bytes) -> Iterator[pb.MapStateBatch]:
    """The MapState stream of the map whose record is info."""
    batch = pb.MapStateBatch(map=info)
    size = 0
    for page in map_items.item_states(store, info.run_id):
        for index, digest, status, stored, result_file, recorded in page:
            outcome = pb.RunOutcome(status=status)  # type: ignore[arg-type]
            if stored is not None and not (status == pb.SUCCEEDED and holds(have, index)):
                outcome = pb.RunOutcome.FromString(stored)
                if status == pb.SUCCEEDED and result_file:
                    item_id = map_items.item_id(info.run_id, index)
                    outcome = _with_result(outcome, item_id, result_file, recorded)
            batch.items.append(pb.MapItemState(index=index, args_digest=digest, outcome=outcome))
            size += len(outcome.result) + len(outcome.result_json) + len(outcome.result_repr)
            if len(batch.items) >= BATCH_ITEMS or size >= BATCH_BYTES:
                yield batch
                batch, size = pb.MapStateBatch(), 0
    yield batch  # the last one, or the record alone for a map with no item rows


def _with_result(
    outcome: pb.RunOutcome, run_id: str, result_file: str, recorded: int
) -> pb.RunOutcome:
    """The outcome with its result kept in its own file: inline when small enough, else
    its size; a failed outcome saying why when the file is not the recorded size."""
    try:
        checked_result_file(run_id, result_file, recorded)  # a large one is streamed later
        if recorded <= INLINE_REPLY_LIMIT:
            outcome.result = read_result_file(run_id, result_file, recorded)
        else:
            outcome.result_size = recorded
    except ResultLostError as exc:
        return pb.RunOutcome(
            status=pb.FAILED,
            failure=pb.INTERNAL,
            reason=str(exc),
            started_at=outcome.started_at,
            ended_at=outcome.ended_at,
        )
    return outcome
