"""What a map left, for a client that resumes it: the MapState RPC's batches.

The map's record comes first; then every item row (index, the digest of its arguments,
its outcome) in batches of at most BATCH_ITEMS items or about BATCH_BYTES, read from the
store a page at a time, so neither side holds every item at once. A succeeded item's
result travels with it unless the client said it holds it already (the `have` bitmap) or
it is over the inline limit (then result_size says how large, and ReadResult streams it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from rhcli.protocol import daemon_pb2 as pb
from rhcli.protocol.wire import INLINE_REPLY_LIMIT
from rhcli.server import map_items
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
        for index, digest, status, stored, result_file in page:
            outcome = pb.RunOutcome(status=status)  # type: ignore[arg-type]
            if stored is not None and not (status == pb.SUCCEEDED and holds(have, index)):
                outcome = pb.RunOutcome.FromString(stored)
                if status == pb.SUCCEEDED and result_file:
                    _attach_result(outcome, result_file)
            batch.items.append(pb.MapItemState(index=index, args_digest=digest, outcome=outcome))
            size += len(outcome.result) + len(outcome.result_json) + len(outcome.result_repr)
            if len(batch.items) >= BATCH_ITEMS or size >= BATCH_BYTES:
                yield batch
                batch, size = pb.MapStateBatch(), 0
    yield batch  # the last one, or the record alone for a map with no item rows


def _attach_result(outcome: pb.RunOutcome, result_file: str) -> None:
    """The result kept in its own file: inline when small enough, else its size."""
    size = os.stat(result_file).st_size
    if size <= INLINE_REPLY_LIMIT:
        with open(result_file, "rb") as f:
            outcome.result = f.read()
    else:
        outcome.result_size = size
