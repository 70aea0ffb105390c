"""Where each worker runs, and which runs are running where.

Every worker is asked for its (Ray node id, pid) when it is made (the answer is queued
ahead of its first call, so it costs that call nothing). From that, this module knows:
- the pid of a worker on this node, which a cancel signals;
- a worker's label, "ADDRESS:PID", stored with every outcome it produced (the map page's
  per-worker timeline, a run's "ran on");
- the runs running on each node now (the nodes page), a map counted once per node.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)

_IDENTITY_TIMEOUT_S = 2.0


class Placements:
    """Thread-safe; ray is the ray module (passed in: the daemon imports Ray lazily)."""

    def __init__(self, ray: Any) -> None:
        self._ray = ray
        self._lock = threading.Lock()
        self._pending: dict[int, Any] = {}  # id(actor) -> ObjectRef of (node id, pid)
        self._known: dict[int, tuple[str, int]] = {}
        self._addresses: dict[str, str] = {}  # node id -> address
        # (run id, id(actor)) -> [how many blocks hold it, the actor]
        self._running: dict[tuple[str, int], list[Any]] = {}

    def made(self, actor: Any) -> None:
        """Ask a new worker where it is; call once, right after making it."""
        ref = actor.identity.remote()
        with self._lock:
            self._pending[id(actor)] = ref

    def forget(self, actor: Any) -> None:
        with self._lock:
            self._pending.pop(id(actor), None)
            self._known.pop(id(actor), None)

    def identity(self, actor: Any, timeout: float = _IDENTITY_TIMEOUT_S) -> tuple[str, int] | None:
        """(node id, pid) of the worker; None when it has not answered within timeout
        seconds (still starting, or died first). Once known, answered at once."""
        key = id(actor)
        with self._lock:
            known = self._known.get(key)
            ref = self._pending.get(key)
        if known is not None or ref is None:
            return known
        try:
            node_id, pid = self._ray.get(ref, timeout=timeout)
        except Exception:  # died, or never answered: nothing is known of it
            return None
        found = (str(node_id), int(pid))
        with self._lock:
            if key in self._pending:  # not forgotten meanwhile
                self._known[key] = found
                self._pending.pop(key, None)
        return found

    def local_pid(
        self, actor: Any, node_id: str, timeout: float = _IDENTITY_TIMEOUT_S
    ) -> int | None:
        """The worker's pid when it runs on node_id (this node), else None."""
        found = self.identity(actor, timeout)
        return found[1] if found is not None and found[0] == node_id else None

    def is_elsewhere(self, actor: Any, node_id: str) -> bool:
        """Whether the worker is known to run on another node than node_id."""
        with self._lock:
            known = self._known.get(id(actor))
        return known is not None and known[0] != node_id

    def label(self, actor: Any) -> str:
        """ "ADDRESS:PID" of the worker; "" when it is not known."""
        found = self.identity(actor)
        if found is None:
            return ""
        return f"{self.address(found[0])}:{found[1]}"

    def address(self, node_id: str) -> str:
        """The node's address as Ray knows it (its id when Ray no longer lists it)."""
        with self._lock:
            known = self._addresses.get(node_id)
        if known is not None:
            return known
        try:
            nodes = self._ray.nodes()
        except Exception:  # Ray going down with the daemon
            log.debug("ray.nodes() failed", exc_info=True)
            return node_id
        with self._lock:
            for node in nodes:
                self._addresses[str(node.get("NodeID", ""))] = str(
                    node.get("NodeManagerAddress", "")
                )
            return self._addresses.get(node_id, node_id)

    def started(self, run_id: str, actor: Any) -> None:
        """Count run_id as running on actor's node until finished() (call both, in a
        try/finally: a plain pair costs a call less than a context manager)."""
        key = (run_id, id(actor))
        with self._lock:
            self._running.setdefault(key, [0, actor])[0] += 1

    def finished(self, run_id: str, actor: Any) -> None:
        key = (run_id, id(actor))
        with self._lock:
            held = self._running[key]
            held[0] -= 1
            if held[0] <= 0:
                del self._running[key]

    def runs_by_node(self) -> dict[str, list[str]]:
        """node id -> the ids of runs running there now (a map's id once per node)."""
        with self._lock:
            running = [(run_id, held[1]) for (run_id, _), held in self._running.items()]
        found: dict[str, list[str]] = {}
        for run_id, actor in running:
            where = self.identity(actor)
            if where is None:
                continue
            runs = found.setdefault(where[0], [])
            if run_id not in runs:
                runs.append(run_id)
        return found
