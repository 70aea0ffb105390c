"""map on the daemon: many items, one stream, as many warm workers as the cluster holds.

Items arrive in batches on one stream and are recorded (one run per item) as they arrive.
They are cut into chunks and handed to one thread per worker the cluster has room for;
each thread keeps its worker for the whole map and runs a chunk per Ray call, which keeps
per-item overhead far below one Ray round trip. Bounded queues between the stream and the
threads keep memory flat however many items come: the stream is read only as fast as
workers take chunks.

A collector thread stores outcomes and hands them to the reply stream. It goes on when the
client goes away, so every item received is still run and recorded.
"""

from __future__ import annotations

import hashlib
import logging
import math
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from rhcli.protocol import daemon_pb2 as pb
from rhcli.server.outcomes import cancelled_outcome
from rhcli.server.pool import Slot, Unsatisfiable
from rhcli.server.runs import ActiveRun, RunManager, payload_digest

log = logging.getLogger(__name__)

MAX_PARALLEL = 64
MAX_CHUNK = 256
_DONE = None


@dataclass
class _Chunk:
    first_index: int
    items: list[bytes]


DEFAULT_RETRIES = 2
RETRY_BACKOFF_S = 1.0
READY_TIMEOUT_S = 10.0


class Mapper:
    """Runs maps; max_retries bounds how often a chunk whose worker died (its node lost,
    the process killed) is run again on a new worker, wherever Ray places it."""

    def __init__(self, runs: RunManager, *, max_retries: int = DEFAULT_RETRIES) -> None:
        self._runs = runs
        self._max_retries = max_retries

    def run(
        self, start: pb.MapStart, requests: Iterator[pb.MapRequest]
    ) -> Iterator[list[tuple[int, pb.RunOutcome]]]:
        """Run every item of the stream; yields batches of (index, outcome) as they end."""
        runs = self._runs
        digest = payload_digest(pb.CallRequest(function=start.function, args=b"map"))
        runs.store.create(
            run_id=start.run_id,
            function=start.function.name,
            args_digest=digest,
            status=pb.RUNNING,
            items=start.total,
        )
        active = ActiveRun(run_id=start.run_id)
        runs.track(active)
        parallel = self._parallelism(start)
        chunk_size = (
            1
            if start.timeout_s > 0
            else max(
                1, min(MAX_CHUNK, math.ceil(start.total / (parallel * 4)) if start.total else 16)
            )
        )
        inbox: queue.Queue[_Chunk | None] = queue.Queue(maxsize=parallel * 4)
        outbox: queue.Queue[list[tuple[int, pb.RunOutcome]] | None] = queue.Queue()
        replies: queue.Queue[list[tuple[int, pb.RunOutcome]] | None] = queue.Queue()

        feeder = threading.Thread(
            target=self._feed,
            args=(start, requests, inbox, parallel, chunk_size),
            name=f"map-feed:{start.run_id}",
            daemon=True,
        )
        workers = [
            threading.Thread(
                target=self._work,
                args=(start, active, inbox, outbox),
                name=f"map-work:{start.run_id}",
                daemon=True,
            )
            for _ in range(parallel)
        ]
        collector = threading.Thread(
            target=self._collect,
            args=(start, active, outbox, replies, workers),
            name=f"map-collect:{start.run_id}",
            daemon=True,
        )
        for thread in (feeder, *workers, collector):
            thread.start()
        while (batch := replies.get()) is not _DONE:
            yield batch

    def _parallelism(self, start: pb.MapStart) -> int:
        """How many workers of this shape the whole cluster holds (at least one)."""
        key = self._runs.executor.pool_key(start.function, start.resources)
        total = self._runs.executor.capacity()
        fits = [total.get(name, 0.0) / amount for name, amount in key.shape if amount > 0]
        return max(1, min(MAX_PARALLEL, int(min(fits)) if fits else MAX_PARALLEL))

    def _feed(
        self,
        start: pb.MapStart,
        requests: Iterator[pb.MapRequest],
        inbox: queue.Queue[_Chunk | None],
        parallel: int,
        chunk_size: int,
    ) -> None:
        store = self._runs.store
        try:
            for request in requests:
                batch = request.items
                store.create_items(
                    start.run_id,
                    start.function.name,
                    batch.first_index,
                    [hashlib.sha256(a).hexdigest() for a in batch.args],
                )
                items = list(batch.args)
                for offset in range(0, len(items), chunk_size):
                    inbox.put(
                        _Chunk(batch.first_index + offset, items[offset : offset + chunk_size])
                    )
        except Exception:  # the client went away mid-stream: run what arrived
            log.info("map %s: the item stream ended early", start.run_id, exc_info=True)
        finally:
            for _ in range(parallel):
                inbox.put(_DONE)

    def _work(
        self,
        start: pb.MapStart,
        active: ActiveRun,
        inbox: queue.Queue[_Chunk | None],
        outbox: queue.Queue[list[tuple[int, pb.RunOutcome]] | None],
    ) -> None:
        executor = self._runs.executor
        slot = None
        try:
            while (chunk := inbox.get()) is not _DONE:
                if active.cancelled:
                    outcomes = [cancelled_outcome()] * len(chunk.items)
                else:
                    outcomes, slot = self._run_chunk(start, active, chunk, slot)
                outbox.put(
                    list(
                        zip(
                            range(chunk.first_index, chunk.first_index + len(outcomes)),
                            outcomes,
                            strict=True,
                        )
                    )
                )
        except Unsatisfiable as exc:
            failed = pb.RunOutcome(
                status=pb.FAILED,
                failure=pb.RESOURCES_UNAVAILABLE,
                reason=str(exc),
                ended_at=time.time(),
            )
            while chunk is not _DONE:
                outbox.put([(chunk.first_index + i, failed) for i in range(len(chunk.items))])
                chunk = inbox.get()
        finally:
            if slot is not None:
                executor.pool.release(slot)
            outbox.put(_DONE)

    def _run_chunk(
        self, start: pb.MapStart, active: ActiveRun, chunk: _Chunk, slot: Slot | None
    ) -> tuple[list[pb.RunOutcome], Slot | None]:
        """Run chunk (retrying it on a new worker when its worker died, up to
        max_retries times); returns its outcomes and the worker to keep, if any."""
        executor = self._runs.executor
        key = executor.pool_key(start.function, start.resources)
        attempt = 0
        while True:
            if slot is None:
                slot = executor.pool.acquire(key)
                if attempt and not executor.wait_ready(slot, READY_TIMEOUT_S):
                    # After a lost node, Ray may still count its resources for a while,
                    # and the new worker waits for room that is gone: stop it and ask
                    # the pool again once Ray's view is fresh (not an attempt).
                    executor.pool.discard(slot)
                    executor.refresh_capacity()
                    slot = None
                    continue
            outcomes, healthy = executor.run_batch(slot, start, chunk.first_index, chunk.items)
            if healthy:
                return outcomes, slot
            slot = None  # discarded: the next attempt or chunk gets a new worker
            died = all(o.failure == pb.WORKER_DIED for o in outcomes)
            if not died or active.cancelled or attempt >= self._max_retries:
                if died and attempt:
                    reason = f"{outcomes[0].reason} (after {attempt + 1} attempts)"
                    for outcome in outcomes:  # often one message repeated: set, not append
                        outcome.reason = reason
                return outcomes, None
            attempt += 1
            log.warning(
                "map %s: the worker running items %d-%d died (%s); retry %d of %d",
                start.run_id,
                chunk.first_index,
                chunk.first_index + len(chunk.items) - 1,
                outcomes[0].reason,
                attempt,
                self._max_retries,
            )
            # Give Ray a moment to notice a lost node, so the new worker lands elsewhere.
            time.sleep(RETRY_BACKOFF_S * attempt)
            executor.refresh_capacity()

    def _collect(
        self,
        start: pb.MapStart,
        active: ActiveRun,
        outbox: queue.Queue[list[tuple[int, pb.RunOutcome]] | None],
        replies: queue.Queue[list[tuple[int, pb.RunOutcome]] | None],
        workers: list[threading.Thread],
    ) -> None:
        store = self._runs.store
        remaining = len(workers)
        done = failed = 0
        try:
            while remaining:
                batch = outbox.get()
                if batch is _DONE:
                    remaining -= 1
                    continue
                store.finish_many((f"{start.run_id}.{i}", o) for i, o in batch)
                done += len(batch)
                failed += sum(1 for _, o in batch if o.status != pb.SUCCEEDED)
                replies.put(batch)
        finally:
            store.set_items(start.run_id, done)
            reason = f"{failed} of {done} items failed" if failed else ""
            status = pb.CANCELLED if active.cancelled else (pb.FAILED if failed else pb.SUCCEEDED)
            self._runs.end(
                active, pb.RunOutcome(status=status, reason=reason, ended_at=time.time())
            )
            replies.put(_DONE)
