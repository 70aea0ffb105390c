"""The life of a run on the daemon: recorded, queued or started, waited on, cancelled.

Every run is recorded in the run store before anything else happens to it, and its outcome
is stored before anyone waiting on it is woken. Runs go three ways:
- a blocking call runs in the RPC's own thread (no hand-off: the fastest path);
- a submitted run (.remote) runs in a thread of the dispatch pool and the RPC answers at once;
- an enqueued run waits in its function's FIFO queue, whose single thread runs one at a
  time, so two enqueued runs of one function never overlap, whoever sent them.
Queued runs keep their request in the store, so a restarted daemon runs them in order;
runs that were running when a daemon died are failed, never re-run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from rhcli.protocol import daemon_pb2 as pb
from rhcli.protocol.statuses import STATUS_NAMES
from rhcli.server import dependencies
from rhcli.server.blobs import BlobStore
from rhcli.server.executor import Executor, RunHandle
from rhcli.server.function_queue import FunctionQueue, queue_key
from rhcli.server.outcomes import cancelled_outcome, held_reply
from rhcli.server.result_files import is_disk_full
from rhcli.server.run_logs import append_end
from rhcli.server.runstore import FINISHED, RunStore, payload_digest

log = logging.getLogger(__name__)

CANCEL_WAIT_S = 10.0


class UnknownRunError(KeyError):
    """No record of this run id (never made, or deleted by retention)."""


@dataclass(eq=False)
class ActiveRun(RunHandle):
    """A run this daemon is queueing or running now."""

    run_id: str = ""
    done: threading.Event = field(default_factory=threading.Event)
    queue: FunctionQueue | None = None
    # Once done: the reply with the outcome as stored, result included, when it is small
    # enough to travel inline (None: read it from the store), and the result's size. A
    # waiter that held this run answers with it: no query, no read of the row back, and
    # no copy of the result into another message (about 1.5 ms per MB in protobuf).
    reply: pb.CallReply | None = None
    reply_result_bytes: int = 0

    def held(self, max_inline: int | None) -> pb.CallReply | None:
        """The reply kept at the end, if its result fits in max_inline bytes."""
        if self.reply is None or (max_inline is not None and self.reply_result_bytes > max_inline):
            return None
        return self.reply


class RunManager:
    """Starts, tracks, waits on and cancels runs; thread-safe."""

    def __init__(self, store: RunStore, executor: Executor, blobs: BlobStore) -> None:
        self.store = store
        self.executor = executor
        self.blobs = blobs
        self._active: dict[str, ActiveRun] = {}
        self._queues: dict[str, FunctionQueue] = {}
        self._lock = threading.Lock()
        self._enqueue_lock = threading.Lock()
        self._dispatch = ThreadPoolExecutor(max_workers=256, thread_name_prefix="run")
        # Outcomes that could not be stored (a full disk), kept until a write succeeds,
        # and other writes put off for the same reason (a map's unfinished items).
        self._unstored: dict[str, pb.RunOutcome] = {}
        self._deferred: list[Callable[[], object]] = []

    # --- starting -----------------------------------------------------------------------

    def call(self, request: pb.CallRequest, *, max_inline: int | None = None) -> pb.CallReply:
        """Run (or enqueue) the call and block until it ends; the reply with its outcome
        (max_inline as for wait)."""
        if request.enqueue:
            self._enqueue(request)
        elif (active := self._record(request)) is not None:
            self.execute(active, request)
            held = active.held(max_inline)  # as stored: no need to read it back
            if held is not None:
                return held
        return self.wait_reply(request.run_id, timeout=None, max_inline=max_inline)

    def call_async(
        self, request: pb.CallRequest, *, max_inline: int | None = None
    ) -> Future[pb.CallReply]:
        """call() in a thread of the dispatch pool: its outcome (or its exception, such
        as DuplicateRunError) once the run has ended, its outcome stored and its log
        closed."""
        return self._dispatch.submit(self.call, request, max_inline=max_inline)

    def submit(self, request: pb.CallRequest) -> pb.RunInfo:
        """Record the call and start or queue it; returns at once."""
        if request.enqueue:
            self._enqueue(request)
        elif (active := self._record(request)) is not None:
            self._dispatch.submit(self.execute, active, request)
        return self.info(request.run_id)

    def _enqueue(self, request: pb.CallRequest) -> None:
        # Recorded and queued under one lock: otherwise two clients enqueueing at once
        # could be queued in the other order than recorded, and the queue's order must be
        # the arrival order the records show (and a restarted daemon requeues by).
        with self._enqueue_lock:
            active = self._record(request)
            if active is not None:
                self._queue_for(request).put(active, request)

    def recover(self) -> None:
        """After a restart: fail what was running, requeue what was queued, in order."""
        failed = self.store.fail_running()
        if failed:
            log.warning(
                "failed %d runs the previous daemon left running: %s",
                len(failed),
                ", ".join(failed),
            )
        raw: bytes
        for raw in self.store.queued_requests():
            request = pb.CallRequest.FromString(raw)
            active = ActiveRun(run_id=request.run_id)
            self.track(active)
            self._queue_for(request).put(active, request)

    def track(self, active: ActiveRun) -> None:
        """Count a run started elsewhere (a map) as active, so it can be cancelled."""
        with self._lock:
            self._active[active.run_id] = active

    def untrack(self, active: ActiveRun) -> None:
        with self._lock:
            self._active.pop(active.run_id, None)
        active.done.set()

    def _record(self, request: pb.CallRequest) -> ActiveRun | None:
        """Record a new run and track it; None when run_id is a retry of a known run."""
        created = self.store.create(
            run_id=request.run_id,
            function=request.function.name,
            args_digest=payload_digest(request),
            status=pb.QUEUED if request.enqueue else pb.RUNNING,
            request=request.SerializeToString() if request.enqueue else None,
            args_summary=request.args_summary,
        )
        if not created:
            return None
        self.retry_unstored()  # the disk takes writes again: store what it refused before
        active = ActiveRun(run_id=request.run_id)
        self.track(active)
        return active

    def execute(self, active: ActiveRun, request: pb.CallRequest) -> None:
        """Run it now, in this thread, and store how it ended (see end)."""
        try:
            if active.cancelled:
                outcome = cancelled_outcome()
            else:
                if request.enqueue:
                    self.store.mark_running(request.run_id)
                outcome = self._run(active, request)
        except Exception as exc:
            log.exception("run %s failed inside the daemon", request.run_id)
            outcome = pb.RunOutcome(
                status=pb.FAILED,
                failure=pb.INTERNAL,
                ended_at=time.time(),
                reason=f"the daemon failed to run the call: {exc!r}",
            )
        # A large result travels beside the outcome (see Executor.run): never copied.
        result, active.result = active.result, None
        self.end(active, outcome, result=result)

    def end(
        self,
        active: ActiveRun,
        outcome: pb.RunOutcome,
        *,
        result: bytes | memoryview | None = None,
    ) -> bool:
        """Store the outcome, close the log with its end marker, wake the waiters: in
        this order, so whoever is woken finds both. False when the outcome could not be
        stored as it is (a failure saying why was stored or kept instead)."""
        stored = True
        try:
            self.store.finish(active.run_id, outcome, result=result)
            status: int = outcome.status
            active.reply, active.reply_result_bytes = held_reply(active.run_id, outcome, result)
        except Exception as exc:  # a full disk: the waiters must still be told
            status = self._store_failure(active.run_id, exc)
            stored = False
        try:
            append_end(self.store.log_path(active.run_id), STATUS_NAMES[status])
        except OSError as exc:
            log.error("could not close the log of run %s: %s", active.run_id, exc)
        self.untrack(active)
        return stored

    def _store_failure(self, run_id: str, exc: Exception) -> int:
        """The outcome could not be stored: store a failure saying why instead (a small
        row, no result file), or keep that failure here until the store takes writes."""
        log.error("could not store the outcome of run %s: %s", run_id, exc)
        why = (
            "the daemon's disk is full; free space under its root"
            if is_disk_full(exc)
            else "see the daemon's log (`rhcli status --logs`)"
        )
        failed = pb.RunOutcome(
            status=pb.FAILED,
            failure=pb.INTERNAL,
            ended_at=time.time(),
            reason=f"the run ended but its outcome could not be stored ({exc}): {why}",
        )
        try:
            self.store.finish(run_id, failed)
        except Exception:
            with self._lock:
                self._unstored[run_id] = failed
        return pb.FAILED

    def defer(self, write: Callable[[], object]) -> None:
        """Keep a write the store refused (a full disk) to try again with retry_unstored."""
        with self._lock:
            self._deferred.append(write)

    def retry_unstored(self) -> None:
        """Store the outcomes and writes the store refused before; stops at the first
        that fails again (the disk is still full), keeping it and the rest."""
        with self._lock:
            pending = list(self._unstored.items())
            deferred = list(self._deferred)
        for run_id, outcome in pending:
            try:
                self.store.finish(run_id, outcome)
            except Exception:
                return
            with self._lock:
                self._unstored.pop(run_id, None)
        for write in deferred:
            try:
                write()
            except Exception:
                return
            with self._lock:
                self._deferred.remove(write)

    def is_active(self, run_id: str) -> bool:
        """Whether this daemon is queueing or running run_id now."""
        with self._lock:
            return run_id in self._active

    def _run(self, active: ActiveRun, request: pb.CallRequest) -> pb.RunOutcome:
        refs = dependencies.resolve(
            request.depends_on, wait=self._wait_for_dependency, info=self.info
        )
        if isinstance(refs, pb.RunOutcome):  # an argument run did not succeed
            return refs
        args: bytes | memoryview = (
            self.blobs.take(request.args_blob) if request.args_blob else request.args
        )
        return self.executor.run(request, active, args=args, refs=refs)

    # --- waiting and looking ----------------------------------------------------------------

    def wait_reply(
        self, run_id: str, timeout: float | None, *, max_inline: int | None = None
    ) -> pb.CallReply:
        """wait() as the reply of Call and Wait (the one kept at the run's end when this
        waited on the run and it has one)."""
        with self._lock:
            active = self._active.get(run_id)
        if active is not None and active.done.wait(timeout):
            held = active.held(max_inline)
            if held is not None:
                return held
        return pb.CallReply(run_id=run_id, outcome=self.wait(run_id, 0, max_inline=max_inline))

    def wait(
        self, run_id: str, timeout: float | None, *, max_inline: int | None = None
    ) -> pb.RunOutcome:
        """The run's outcome once it ends; after timeout, an outcome saying it has not.

        A stored result larger than max_inline bytes (None: no limit) is left out, with
        result_size saying how large it is: it is streamed from its file instead.
        Raises UnknownRunError for a run id with no record.
        """
        with self._lock:
            active = self._active.get(run_id)
        if active is not None:
            if not active.done.wait(timeout):
                return pb.RunOutcome(status=self.store.status(run_id) or pb.RUNNING)  # type: ignore[arg-type]
            held = active.held(max_inline)
            if held is not None:
                return held.outcome
        outcome = self.store.outcome(run_id, max_inline=max_inline)
        if outcome is None:
            with self._lock:
                unstored = self._unstored.get(run_id)
            if unstored is not None:
                return unstored
            status = self.store.status(run_id)
            if status is None:
                raise UnknownRunError(run_id)
            if status in FINISHED:  # a map: its items hold the results
                info = self.info(run_id)
                return pb.RunOutcome(
                    status=info.status,
                    failure=info.failure,
                    reason=info.reason,
                    started_at=info.started_at,
                    ended_at=info.ended_at,
                )
            return pb.RunOutcome(status=status)  # type: ignore[arg-type]
        return outcome

    def _wait_for_dependency(self, run_id: str) -> pb.RunOutcome:
        return self.wait(run_id, timeout=None)

    def info(self, run_id: str) -> pb.RunInfo:
        info = self.store.info(run_id)
        if info is None:
            raise UnknownRunError(run_id)
        return self._as_ended(info)

    def list_runs(self, **query: Any) -> list[pb.RunInfo]:
        """RunStore.list_runs, each run as this daemon knows it (see info)."""
        return [self._as_ended(info) for info in self.store.list_runs(**query)]

    def _as_ended(self, info: pb.RunInfo) -> pb.RunInfo:
        """The record with the ending the store could not take yet (a full disk), if any:
        a run this daemon ended is never shown running."""
        with self._lock:
            unstored = self._unstored.get(info.run_id)
        if unstored is not None:
            info.status = unstored.status
            info.failure = unstored.failure
            info.reason = unstored.reason
            info.ended_at = unstored.ended_at
        return info

    def counts(self) -> tuple[int, int, dict[str, int]]:
        """(running, queued, depth of each non-empty queue)."""
        with self._lock:
            queues = list(self._queues.values())
            active = len(self._active)
        depths = {q.name: q.depth for q in queues if q.depth}
        queued = sum(max(0, d - 1) for d in depths.values())
        return active - queued, queued, depths

    # --- cancelling ---------------------------------------------------------------------

    def cancel(self, run_id: str) -> pb.RunInfo:
        """Stop a queued or running run; a run that has ended is left as it is."""
        with self._lock:
            active = self._active.get(run_id)
        if active is None:
            return self.info(run_id)  # ended already (or unknown: raises)
        if active.cancelled:  # a second cancel: the first one's stop is under way
            active.done.wait(CANCEL_WAIT_S)
            return self.info(run_id)
        active.cancelled = True
        if active.queue is not None and active.queue.remove(active):
            self.end(active, cancelled_outcome())
        else:
            self.executor.stop(active)
            active.done.wait(CANCEL_WAIT_S)
        return self.info(run_id)

    def _queue_for(self, request: pb.CallRequest) -> FunctionQueue:
        key = queue_key(request.function)
        with self._lock:
            queue = self._queues.get(key)
            if queue is None:
                queue = self._queues[key] = FunctionQueue(request.function.name, self)
            active = self._active.get(request.run_id)
            if active is not None:
                active.queue = queue
        return queue
