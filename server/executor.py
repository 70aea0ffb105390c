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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rhcli.protocol import daemon_pb2 as pb
from rhcli.server.outcomes import cancelled_outcome, death_reason, timed_out, to_proto
from rhcli.server.pool import PoolKey, Slot, Unsatisfiable, WorkerPool, shape_of
from rhcli.server.reservations import Reservations
from rhcli.server.result_files import INLINE_RESULT_LIMIT
from rhcli.server.run_logs import log_path
from rhcli.server.worker import BatchCall, RunCall, Worker, WorkerOutcome

log = logging.getLogger(__name__)

_CAPACITY_TTL_S = 5.0
_NODES_POLL_S = 1.0
# Seconds a cancelled call has, after SIGTERM, to end before its worker is killed.
CANCEL_GRACE_S = 5.0
# How often a call with a memory limit has its worker's resident memory checked.
_MEMORY_POLL_S = 0.05
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


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
    result: bytes | None = None

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
        # Each worker's (node, pid), asked for when it is made (the answer is queued ahead
        # of its first call, so it costs that call nothing): what a cancel signals.
        self._identities: dict[int, Any] = {}
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
            from rhcli.server.output_capture import start_log_writer

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
        ref = slot.handle.run.remote(call, _for_ray(args))
        if request.resources.HasField("memory") and request.resources.memory > 0:
            over = self._watch_memory(ref, slot, int(request.resources.memory), request.timeout_s)
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
        if len(outcome.result) > INLINE_RESULT_LIMIT:
            handle.result, outcome.result = outcome.result, b""
        return to_proto(outcome)

    def run_batch(
        self, slot: Slot, request: pb.MapStart, first_index: int, items: list[bytes]
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
            first_index,
        )
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
        return [to_proto(outcome) for outcome in outcomes], True

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

    def _watch_memory(
        self, ref: Any, slot: Slot, limit: int, timeout_s: float
    ) -> pb.RunOutcome | None:
        """Wait for ref while checking the worker's resident memory against limit (the
        call's `memory` resource, which Ray itself only schedules by).

        Returns None once the call ended; a failed outcome (the worker is killed by the
        caller) when the worker went over the limit or, TIMED_OUT, past timeout_s. Only
        workers on this node are measured; elsewhere it waits as without a limit.
        """
        pid = self._local_pid(slot.handle)
        deadline = time.monotonic() + timeout_s if timeout_s > 0 else None
        started = time.time()
        while True:
            wait_s = _MEMORY_POLL_S
            if deadline is not None:
                wait_s = min(wait_s, max(0.0, deadline - time.monotonic()))
            ready, _ = self._ray.wait([ref], timeout=wait_s)
            if ready:
                return None
            if deadline is not None and time.monotonic() >= deadline:
                return pb.RunOutcome(status=pb.TIMED_OUT)
            rss = _resident_bytes(pid) if pid is not None else None
            if rss is not None and rss > limit:
                return pb.RunOutcome(
                    status=pb.FAILED,
                    failure=pb.WORKER_DIED,
                    started_at=started,
                    ended_at=time.time(),
                    reason=f"the call used {rss:,} bytes of memory, over its limit of "
                    f"{limit:,} bytes (its `memory` resource); the worker was killed",
                )

    def _local_pid(self, actor: Any) -> int | None:
        """The worker's pid when it runs on this node, else None."""
        ref = self._identities.get(id(actor))
        if ref is None:
            return None
        try:
            node_id, pid = self._ray.get(ref, timeout=2.0)
        except Exception:  # died, or never answered: kill it instead
            return None
        return int(pid) if node_id == self._node_id else None

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
        self._identities[id(actor)] = actor.identity.remote()
        return actor

    def _kill(self, handle: Any) -> None:
        self._identities.pop(id(handle), None)
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


def _resident_bytes(pid: int) -> int | None:
    """The resident memory of pid, from /proc (None when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/statm").read_text().split()
    except OSError:
        return None
    return int(fields[1]) * _PAGE_BYTES
