"""Runs one call on a warm Ray worker and turns whatever happens into a RunOutcome.

Calls never run in the daemon's own threads: a worker process runs them, so user code
cannot stall or crash the daemon. A worker that times out is killed (and replaced on the
next call); one that dies (segfault, os._exit, out-of-memory kill) fails its run with that
reason, and the pool forgets it.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rhcli.protocol import daemon_pb2 as pb
from rhcli.server.memory_limit import watch_memory
from rhcli.server.outcomes import cancelled_outcome, death_reason, timed_out, to_proto
from rhcli.server.placement import Placements
from rhcli.server.pool import PoolKey, Slot, Unsatisfiable, WorkerPool, shape_of
from rhcli.server.reservations import Reservations
from rhcli.server.result_files import INLINE_RESULT_LIMIT
from rhcli.server.run_logs import append_note, log_path
from rhcli.server.worker import BatchCall, RunCall, Worker, WorkerOutcome

log = logging.getLogger(__name__)

_CAPACITY_TTL_S = 5.0
_NODES_POLL_S = 1.0
# Seconds a cancelled call has, after SIGTERM, to end before its worker is killed.
CANCEL_GRACE_S = 5.0


@dataclass(eq=False)
class RunHandle:
    """What a canceller needs of a running call: a flag, and the worker to stop.

    The slot is cleared under the lock before the worker goes back to the pool, so a
    late cancel can never stop a worker that has moved on to someone else's call.
    A result too large to keep in the run store's row is left in ``result`` rather than
    copied into the outcome message (protobuf copies bytes on every set and get, and a
    500 MB result copied twice is the daemon's peak memory); the store writes it to its
    file from here.
    """

    cancelled: bool = False
    slot: Slot | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    result: bytes | memoryview | None = None

    def take_slot(self) -> Slot | None:
        with self.lock:
            slot, self.slot = self.slot, None
        return slot


class Executor:
    """Owns the worker pool; run() is safe to call from many threads at once."""

    def __init__(
        self, runs_dir: Path, *, cancel_grace_s: float = CANCEL_GRACE_S, multinode: bool = False
    ) -> None:
        """multinode: Ray spans several nodes (the daemon attached to a cluster), so
        workers elsewhere forward their logs to a LogWriter on this node."""
        import ray

        self._runs_dir = runs_dir
        self._ray = ray
        self.cancel_grace_s = cancel_grace_s
        self._node_id = ray.get_runtime_context().get_node_id()
        # Where each worker is (what a cancel signals, the label outcomes carry) and
        # which runs are running where.
        self.placements = Placements(ray)
        self._actor_class = ray.remote(Worker)
        self._capacity: dict[str, float] = {}
        self._capacity_at = 0.0
        self._capacity_lock = threading.Lock()
        # What HTTP endpoints' replicas hold is not the pool's to hand out (reservations).
        self.reserved = Reservations()
        self.pool = WorkerPool(
            create=self._create,
            kill=self._kill,
            capacity=lambda: self.reserved.left_of(self.capacity()),
        )
        self._head_node_id = ""
        if multinode:  # last: the watcher thread uses everything above
            from rhcli.server.log_forwarding import start_log_writer

            self._head_node_id = str(self._node_id)
            self._log_writer = start_log_writer(str(runs_dir), self._head_node_id)
            threading.Thread(target=self._watch_nodes, name="nodes", daemon=True).start()

    def capacity(self) -> Mapping[str, float]:
        """Ray's total cluster resources, cached for a few seconds."""
        with self._capacity_lock:
            if time.monotonic() - self._capacity_at > _CAPACITY_TTL_S:
                self._capacity = dict(self._ray.cluster_resources())
                self._capacity_at = time.monotonic()
            return self._capacity

    def _watch_nodes(self) -> None:
        """Multi-node: follow nodes joining and leaving. The capacity is refreshed at
        once; and when a node is lost, idle workers are stopped, since those on that node
        are dead and the next call must not be handed one."""
        alive: set[str] = set()
        while True:
            try:
                now = {str(n["NodeID"]) for n in self._ray.nodes() if n.get("Alive")}
            except Exception:  # Ray shutting down with the daemon
                return
            if alive and now != alive:
                log.info("nodes changed: %d alive (were %d)", len(now), len(alive))
                self.refresh_capacity()
                if alive - now:
                    self.pool.drop_idle()
            alive = now
            time.sleep(_NODES_POLL_S)

    def refresh_capacity(self) -> None:
        """Forget the cached capacity (a node was lost or joined)."""
        with self._capacity_lock:
            self._capacity_at = 0.0

    def wait_ready(self, slot: Slot, timeout: float) -> bool:
        """Whether slot's worker has started within timeout (it may wait for room)."""
        ready, _ = self._ray.wait([slot.handle.ready.remote()], timeout=timeout)
        return bool(ready)

    def available(self) -> Mapping[str, float]:
        return dict(self._ray.available_resources())

    def run(
        self,
        request: pb.CallRequest,
        handle: RunHandle,
        *,
        args: bytes | memoryview,
        refs: Mapping[str, bytes],
    ) -> pb.RunOutcome:
        """Run the call and return how it ended; never raises for a failing call.

        refs holds the pickled results of the runs the arguments refer to (RunRefs).
        """
        try:
            slot = self.pool.acquire(self.pool_key(request.function, request.resources))
        except Unsatisfiable as exc:
            return pb.RunOutcome(
                status=pb.FAILED,
                failure=pb.RESOURCES_UNAVAILABLE,
                reason=str(exc),
                ended_at=time.time(),
            )
        handle.slot = slot
        if handle.cancelled:
            self._give_back(handle, discard=False)
            return cancelled_outcome()
        started = time.time()
        fn = request.function
        call: RunCall = (
            fn.entrypoint,
            fn.pickled,
            request.want_json,
            str(log_path(self._runs_dir, request.run_id)),
            dict(refs),
        )
        self.placements.started(request.run_id, slot.handle)
        try:
            return self._finish_run(request, handle, slot, started, call, args)
        finally:
            self.placements.finished(request.run_id, slot.handle)

    def _finish_run(
        self,
        request: pb.CallRequest,
        handle: RunHandle,
        slot: Slot,
        started: float,
        call: RunCall,
        args: bytes | memoryview,
    ) -> pb.RunOutcome:
        ref = slot.handle.run.remote(call, _for_ray(args))
        if request.resources.HasField("memory") and request.resources.memory > 0:
            over = watch_memory(
                self._ray,
                ref,
                lambda: self._locate(slot.handle),
                int(request.resources.memory),
                request.timeout_s,
            )
            if over is not None:
                self._give_back(handle, discard=True)
                if handle.cancelled:
                    return cancelled_outcome(started)
                if over.status == pb.TIMED_OUT:
                    return timed_out(request.timeout_s, started)
                return over
        elif request.timeout_s > 0:
            ready, _ = self._ray.wait([ref], timeout=request.timeout_s)
            if not ready:
                self._give_back(handle, discard=True)
                if handle.cancelled:
                    return cancelled_outcome(started)
                return timed_out(request.timeout_s, started)
        try:
            outcome: WorkerOutcome = self._ray.get(ref)
        except self._ray.exceptions.RayError as exc:
            self._give_back(handle, discard=True)
            if handle.cancelled:
                return cancelled_outcome(started)
            return pb.RunOutcome(
                status=pb.FAILED,
                failure=pb.WORKER_DIED,
                started_at=started,
                ended_at=time.time(),
                reason=death_reason(exc),
            )
        # A cancelled call that ended anyway (its SIGTERM turned into an exception the
        # function caught or reported) is cancelled all the same, and its worker, which
        # took a signal meant to end it, is not reused.
        self._give_back(handle, discard=handle.cancelled)
        if handle.cancelled:
            return cancelled_outcome(started)
        if len(memoryview(outcome.result)) > INLINE_RESULT_LIMIT:
            handle.result, outcome.result = memoryview(outcome.result).cast("B"), b""
        append_note(Path(call[3]), outcome.log_note)
        done = to_proto(outcome)
        done.worker = self.placements.label(slot.handle)
        return done

    def run_batch(
        self, slot: Slot, request: pb.MapStart, indices: Sequence[int], items: list[bytes]
    ) -> tuple[list[pb.RunOutcome], bool]:
        """Run map items one after another on one worker: (one outcome per item, whether
        the worker is still usable).

        With a timeout the batch holds one item, so the timeout is that item's. A worker
        that dies fails every item of its batch and is discarded.
        """
        fn = request.function
        started = time.time()
        call: BatchCall = (
            fn.entrypoint,
            fn.pickled,
            request.want_json,
            str(log_path(self._runs_dir, request.run_id)),
            indices,
        )
        self.placements.started(request.run_id, slot.handle)
        try:
            return self._finish_batch(slot, request, started, call, items)
        finally:
            self.placements.finished(request.run_id, slot.handle)

    def _finish_batch(
        self, slot: Slot, request: pb.MapStart, started: float, call: BatchCall, items: list[bytes]
    ) -> tuple[list[pb.RunOutcome], bool]:
        ref = slot.handle.run_batch.remote(call, items)
        if request.timeout_s > 0:
            ready, _ = self._ray.wait([ref], timeout=request.timeout_s)
            if not ready:
                self.pool.discard(slot)
                return [timed_out(request.timeout_s, started)] * len(items), False
        try:
            outcomes: list[WorkerOutcome] = self._ray.get(ref)
        except self._ray.exceptions.RayError as exc:
            self.pool.discard(slot)
            died = pb.RunOutcome(
                status=pb.FAILED,
                failure=pb.WORKER_DIED,
                started_at=started,
                ended_at=time.time(),
                reason=death_reason(exc),
            )
            return [died] * len(items), False
        worker = self.placements.label(slot.handle)
        done = []
        for outcome in outcomes:
            append_note(Path(call[3]), outcome.log_note)
            one = to_proto(outcome)
            one.worker = worker
            done.append(one)
        return done, True

    def stop(self, handle: RunHandle) -> None:
        """Stop the worker running handle's call (cancel): its run ends as cancelled.

        The worker gets SIGTERM first, so the function can clean up (Python's default
        handler ends the process; a handler of its own may exit more gently); whatever has
        not ended after cancel_grace_s is killed. Returns at once; the kill comes from a
        timer. A worker on another node (no pid to signal here) is killed at once.
        """
        with handle.lock:
            slot = handle.slot
        if slot is None:
            return
        pid = self._local_pid(slot.handle) if self.cancel_grace_s > 0 else None
        if pid is None:
            self._kill_if_running(handle)
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        log.info("cancel: SIGTERM to worker %d, killed in %g s if busy", pid, self.cancel_grace_s)
        timer = threading.Timer(self.cancel_grace_s, self._kill_if_running, args=(handle,))
        timer.daemon = True
        timer.start()

    def _kill_if_running(self, handle: RunHandle) -> None:
        with handle.lock:
            if handle.slot is not None:  # still on the cancelled call: kill its worker
                self.pool.discard(handle.slot)

    def _locate(self, actor: Any) -> int | None:
        """For the memory watch: the worker's pid here, 0 when it is on another node,
        None while it is not known yet (asked without waiting)."""
        node = str(self._node_id)
        if self.placements.is_elsewhere(actor, node):
            return 0
        return self.placements.local_pid(actor, node, timeout=0.0)

    def _local_pid(self, actor: Any) -> int | None:
        """The worker's pid when it runs on this node, else None."""
        return self.placements.local_pid(actor, str(self._node_id))

    def _give_back(self, handle: RunHandle, *, discard: bool) -> None:
        slot = handle.take_slot()
        if slot is None:  # a cancel stopped the worker already
            return
        if discard:
            self.pool.discard(slot)
        else:
            self.pool.release(slot)

    def pool_key(self, function: pb.FunctionRef, resources: pb.Resources) -> PoolKey:
        return PoolKey(function.code_root, shape_of(ray_resources(resources)))

    def _create(self, key: PoolKey) -> Any:
        resources = dict(key.shape)
        options: dict[str, Any] = {
            "num_cpus": resources.pop("CPU", 0.0),
            "num_gpus": resources.pop("GPU", 0.0),
            "max_restarts": 0,
        }
        if "memory" in resources:
            options["memory"] = resources.pop("memory")
        if resources:
            options["resources"] = resources
        actor: Any = self._actor_class.options(**options).remote(
            key.code_root,
            head_node_id=self._head_node_id,
            head_root=str(self._runs_dir.parent),
        )
        self.placements.made(actor)
        return actor

    def _kill(self, handle: Any) -> None:
        self.placements.forget(handle)
        try:
            self._ray.kill(handle, no_restart=True)
        except Exception:  # already dead: nothing to stop
            log.debug("worker already gone", exc_info=True)

    def shutdown(self) -> None:
        self.pool.reset()


# Arguments from this size on travel to the worker as a numpy view (see _for_ray).
_ZERO_COPY_BYTES = 1 << 20


def _for_ray(args: bytes | memoryview) -> Any:
    """The pickled arguments as Ray should carry them. Large ones go as a uint8 array:
    Ray copies an array into its object store once and the worker reads it in place
    (pickle.loads takes any buffer), where bytes are copied again on both sides."""
    if len(args) < _ZERO_COPY_BYTES:
        return bytes(args)
    try:
        import numpy
    except ImportError:  # Ray does not require it: a cluster's venv may lack it
        return bytes(args)
    return numpy.frombuffer(args, dtype=numpy.uint8)


def ray_resources(resources: pb.Resources) -> dict[str, float]:
    """Ray's resource names for a call's request; one CPU unless it says otherwise."""
    wanted = {"CPU": resources.num_cpus if resources.HasField("num_cpus") else 1.0}
    if resources.HasField("num_gpus"):
        wanted["GPU"] = resources.num_gpus
    if resources.HasField("memory"):
        wanted["memory"] = resources.memory
    wanted.update(resources.custom)
    return wanted
