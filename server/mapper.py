"""map on the daemon: many items, one stream, as many warm workers as the cluster holds.

Items arrive in batches on one stream and are recorded (one run per item) as they arrive.
They are cut into chunks and handed to one thread per worker the cluster has room for;
each thread keeps its worker for the whole map and runs a chunk per Ray call, which keeps
per-item overhead far below one Ray round trip. Bounded queues between the stream and the
threads keep memory flat however many items come: the stream is read only as fast as
workers take chunks.

A collector thread stores outcomes and hands them to the reply stream, only once stored.
It goes on when the client goes away, so every item received is still run and recorded.
A failure of the daemon's own stops the map loudly (rhcli.server.map_run); a resume
(MapStart.resume) runs again only the items without a successful outcome.
"""

from __future__ import annotations

import hashlib
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from rhcli.protocol import daemon_pb2 as pb
from rhcli.server import map_items
from rhcli.server.map_run import MapRun, MapStopped, StopKind, stop_for
from rhcli.server.outcomes import cancelled_outcome
from rhcli.server.pool import Slot, Unsatisfiable
from rhcli.server.runs import ActiveRun, RunManager
from rhcli.server.runstore import payload_digest

log = logging.getLogger(__name__)

MAX_PARALLEL = 64
MAX_CHUNK = 256
_DONE = None
# How often a thread blocked on a queue looks whether the map was stopped meanwhile.
_POLL_S = 0.2

Batch = list[tuple[int, pb.RunOutcome]]


@dataclass
class _Chunk:
    indices: Sequence[int]  # a range for consecutive items (a resume may send others)
    items: list[bytes]


@dataclass
class _Done:
    """Outcomes for the collector: stored already (answered from the store) or not."""

    batch: Batch
    stored: bool = False


DEFAULT_RETRIES = 2
RETRY_BACKOFF_S = 1.0
READY_TIMEOUT_S = 10.0


class Mapper:
    """Runs maps; max_retries bounds how often a chunk whose worker died (its node lost,
    the process killed) is run again on a new worker, wherever Ray places it.

    before_chunk, when set, is called by a worker thread before each chunk it runs (a
    seam for the fault tests, installed through the daemon's test hook; None otherwise).
    """

    def __init__(self, runs: RunManager, *, max_retries: int = DEFAULT_RETRIES) -> None:
        self._runs = runs
        self._max_retries = max_retries
        self.before_chunk: Callable[[pb.MapStart, Sequence[int]], None] | None = None

    def run(self, start: pb.MapStart, requests: Iterator[pb.MapRequest]) -> Iterator[Batch]:
        """Run every item of the stream; yields batches of (index, outcome) as they are
        stored. Raises MapStopped after the last batch when the map was stopped (or,
        before any, when it cannot start: a busy or different map, a bad id)."""
        runs = self._runs
        runs.retry_unstored()  # a disk that was full may take writes again
        if start.resume and runs.is_active(start.run_id):
            raise MapStopped(
                f"map {start.run_id} is still running on this cluster; wait for it to end "
                f"(`rhcli get {start.run_id}`) or cancel it, then resume it",
                StopKind.REFUSED,
            )
        digest = payload_digest(pb.CallRequest(function=start.function, args=b"map"))
        try:
            map_items.open_map(runs.store, start, digest=digest)
        except map_items.MapRefused as exc:
            raise MapStopped(str(exc), StopKind.REFUSED, changed_input=exc.changed_input) from None
        except Exception as exc:
            raise stop_for(exc, f"recording map {start.run_id}") from exc
        active = ActiveRun(run_id=start.run_id)
        runs.track(active)
        run = MapRun(start=start, active=active)
        parallel = self._parallelism(start)
        chunk_size = (
            1
            if start.timeout_s > 0
            else max(
                1, min(MAX_CHUNK, math.ceil(start.total / (parallel * 4)) if start.total else 16)
            )
        )
        inbox: queue.Queue[_Chunk | None] = queue.Queue(maxsize=parallel * 4)
        outbox: queue.Queue[_Done | None] = queue.Queue()
        replies: queue.Queue[Batch | None] = queue.Queue()
        threads = [
            threading.Thread(
                target=self._feed,
                args=(run, requests, inbox, parallel, chunk_size, outbox),
                name=f"map-feed:{start.run_id}",
                daemon=True,
            ),
            *(
                threading.Thread(
                    target=self._work,
                    args=(run, inbox, outbox),
                    name=f"map-work:{start.run_id}",
                    daemon=True,
                )
                for _ in range(parallel)
            ),
            threading.Thread(
                target=self._collect,
                args=(run, outbox, replies, parallel),
                name=f"map-collect:{start.run_id}",
                daemon=True,
            ),
        ]
        for thread in threads:
            thread.start()
        while (batch := replies.get()) is not _DONE:
            yield batch
        if run.stopped is not None:
            raise run.stopped

    def _parallelism(self, start: pb.MapStart) -> int:
        """How many workers of this shape the whole cluster holds (at least one)."""
        key = self._runs.executor.pool_key(start.function, start.resources)
        total = self._runs.executor.capacity()
        fits = [total.get(name, 0.0) / amount for name, amount in key.shape if amount > 0]
        return max(1, min(MAX_PARALLEL, int(min(fits)) if fits else MAX_PARALLEL))

    def _feed(
        self,
        run: MapRun,
        requests: Iterator[pb.MapRequest],
        inbox: queue.Queue[_Chunk | None],
        parallel: int,
        chunk_size: int,
        outbox: queue.Queue[_Done | None],
    ) -> None:
        """Record each batch of items and cut it into chunks for the workers.

        The stream's own failure (the client went away) ends the feed: what arrived
        still runs. A failure of ours (recording) stops the map.
        """
        try:
            while run.stopped is None:
                try:
                    request = next(requests)
                except StopIteration:
                    break
                except Exception:
                    log.info("map %s: the item stream broke off", run.map_id, exc_info=True)
                    run.client_gone = True
                    break
                try:
                    self._take(run, request, inbox, chunk_size, outbox)
                except MapStopped as stopped:
                    run.stop(stopped)
                except Exception as exc:
                    log.exception("map %s: recording items failed", run.map_id)
                    run.stop(stop_for(exc, "recording the map's items"))
        finally:
            for _ in range(parallel):
                inbox.put(_DONE)  # the workers drain the inbox, even once stopped

    def _take(
        self,
        run: MapRun,
        request: pb.MapRequest,
        inbox: queue.Queue[_Chunk | None],
        chunk_size: int,
        outbox: queue.Queue[_Done | None],
    ) -> None:
        start, batch = run.start, request.items
        args = list(batch.args)
        indices: Sequence[int] = (
            list(batch.indices)
            if batch.indices
            else range(batch.first_index, batch.first_index + len(args))
        )
        if len(indices) != len(args) or any(
            i < 0 or (start.total and i >= start.total) for i in indices
        ):
            raise MapStopped(
                f"a batch of map {run.map_id} names items outside 0..{start.total - 1} "
                "or not one index per item",
                StopKind.REFUSED,
            )
        done: list[int] = []

        def write() -> None:
            digests = [hashlib.sha256(a).hexdigest() for a in args]
            done.extend(
                map_items.record_items(
                    self._runs.store,
                    run.map_id,
                    start.function.name,
                    indices,
                    digests,
                    resume=start.resume,
                )
            )

        try:
            if not run.record(write):
                return
        except map_items.MapRefused as exc:
            raise MapStopped(str(exc), StopKind.REFUSED, changed_input=exc.changed_input) from None
        run.received += len(args)
        if done:  # succeeded in an earlier attempt: answered from the store, not run
            self._answer_from_store(run, done, outbox)
            answered = set(done)
            keep = [k for k, i in enumerate(indices) if i not in answered]
            indices, args = [indices[k] for k in keep], [args[k] for k in keep]
        for offset in range(0, len(args), chunk_size):
            end = offset + chunk_size
            chunk = _Chunk(indices[offset:end], args[offset:end])
            while run.stopped is None:
                try:
                    inbox.put(chunk, timeout=_POLL_S)
                    break
                except queue.Full:
                    continue

    def _answer_from_store(
        self, run: MapRun, indices: list[int], outbox: queue.Queue[_Done | None]
    ) -> None:
        store = self._runs.store
        batch: Batch = []
        for index in indices:
            outcome = store.outcome(map_items.item_id(run.map_id, index))
            if outcome is None:  # a succeeded row always has its outcome
                raise MapStopped(
                    f"item {index} of map {run.map_id} has no stored outcome",
                    StopKind.INTERNAL,
                )
            batch.append((index, outcome))
        outbox.put(_Done(batch, stored=True))

    def _work(
        self, run: MapRun, inbox: queue.Queue[_Chunk | None], outbox: queue.Queue[_Done | None]
    ) -> None:
        """Run chunks until the feed ends; once the map is stopped, take chunks without
        running them (their items get the stop's failure when the map ends)."""
        executor = self._runs.executor
        slot: Slot | None = None
        unsatisfiable: Unsatisfiable | None = None
        try:
            while (chunk := inbox.get()) is not _DONE:
                if run.stopped is not None:
                    continue
                try:
                    if run.active.cancelled:
                        outcomes = [cancelled_outcome()] * len(chunk.items)
                    elif unsatisfiable is not None:
                        outcomes = [_unsatisfiable(unsatisfiable)] * len(chunk.items)
                    else:
                        if self.before_chunk is not None:
                            self.before_chunk(run.start, chunk.indices)
                        outcomes, slot = self._run_chunk(run.start, run.active, chunk, slot)
                except Unsatisfiable as exc:
                    unsatisfiable = exc
                    outcomes = [_unsatisfiable(exc)] * len(chunk.items)
                except Exception as exc:
                    log.exception("map %s: running a chunk failed", run.map_id)
                    first, last = chunk.indices[0], chunk.indices[-1]
                    run.stop(stop_for(exc, f"running items {first}-{last}"))
                    continue
                outbox.put(_Done(list(zip(chunk.indices, outcomes, strict=True))))
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
            outcomes, healthy = executor.run_batch(slot, start, chunk.indices, chunk.items)
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
                chunk.indices[0],
                chunk.indices[-1],
                outcomes[0].reason,
                attempt,
                self._max_retries,
            )
            # Give Ray a moment to notice a lost node, so the new worker lands elsewhere.
            time.sleep(RETRY_BACKOFF_S * attempt)
            executor.refresh_capacity()

    def _collect(
        self,
        run: MapRun,
        outbox: queue.Queue[_Done | None],
        replies: queue.Queue[Batch | None],
        workers: int,
    ) -> None:
        """Store each batch of outcomes (one transaction), then hand it to the stream;
        settle the map once every worker is done. A batch that cannot be stored stops
        the map and is not sent: the client never holds a result the store lacks."""
        store = self._runs.store
        remaining = workers
        try:
            while remaining:
                done = outbox.get()
                if done is _DONE:
                    remaining -= 1
                    continue
                if not done.stored:
                    try:
                        store.finish_many(
                            (map_items.item_id(run.map_id, i), o) for i, o in done.batch
                        )
                    except Exception as exc:
                        log.exception("map %s: storing outcomes failed", run.map_id)
                        run.stop(stop_for(exc, "storing the outcomes of items"))
                        continue
                replies.put(done.batch)
                missing = next(
                    (o for _, o in done.batch if o.failure == pb.ENTRYPOINT_NOT_FOUND), None
                )
                if missing is not None:  # every item would fail so: stop at once
                    run.stop(MapStopped(missing.reason, StopKind.ENTRYPOINT))
        except BaseException as exc:  # a bug of ours: the map must still end, loudly
            log.exception("map %s: the collector failed", run.map_id)
            run.stop(stop_for(exc, "collecting outcomes"))
        finally:
            try:
                run.end(self._runs)
            finally:
                replies.put(_DONE)


def _unsatisfiable(exc: Unsatisfiable) -> pb.RunOutcome:
    return pb.RunOutcome(
        status=pb.FAILED,
        failure=pb.RESOURCES_UNAVAILABLE,
        reason=str(exc),
        ended_at=time.time(),
    )
