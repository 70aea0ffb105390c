"""Warm worker processes: Ray actors kept alive between calls, one pool per code root and
resource shape.

A call borrows an idle worker of its pool, or a new one when the cluster has room. Each
worker holds the Ray resources its calls need (one CPU by default, GPUs when asked) for as
long as it lives, so the pool keeps a ledger of what its workers hold: when a new worker
would not fit, idle workers of other pools are stopped (least recently used first) to make
room, and when every worker is busy the call waits for one to come back. A request that
could not fit even on an empty cluster is refused at once.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

ResourceShape = tuple[tuple[str, float], ...]


class Unsatisfiable(Exception):
    """The request exceeds what the whole cluster has."""


@dataclass(frozen=True)
class PoolKey:
    code_root: str
    shape: ResourceShape  # Ray resource names (CPU, GPU, memory, custom) -> amount, sorted


@dataclass(eq=False)
class Slot:
    """One warm worker: its actor handle, its pool, and when it was last used."""

    key: PoolKey
    handle: Any
    serial: int
    last_used: float = field(default_factory=time.monotonic)


def shape_of(resources: Mapping[str, float]) -> ResourceShape:
    return tuple(sorted((k, float(v)) for k, v in resources.items() if v))


class WorkerPool:
    """Hands out warm workers; thread-safe.

    create(key) must return a new actor handle for the key; kill(handle) must stop one;
    capacity() returns the cluster's total resources.
    """

    def __init__(
        self,
        *,
        create: Callable[[PoolKey], Any],
        kill: Callable[[Any], None],
        capacity: Callable[[], Mapping[str, float]],
    ) -> None:
        self._create = create
        self._kill = kill
        self._capacity = capacity
        self._cond = threading.Condition()
        self._idle: dict[PoolKey, list[Slot]] = {}
        self._live: set[Slot] = set()
        self._serial = itertools.count(1)

    @property
    def size(self) -> int:
        return len(self._live)

    def acquire(self, key: PoolKey) -> Slot:
        """A worker for key; blocks while the cluster is full. Raises Unsatisfiable."""
        evicted: list[Slot] = []
        try:
            with self._cond:
                while True:
                    idle = self._idle.get(key)
                    if idle:
                        return idle.pop()
                    total = self._capacity()
                    if not _fits_when_empty(key.shape, total):
                        # Refused before evicting or waiting: neither would ever help.
                        raise Unsatisfiable(_describe_shortfall(key.shape, total))
                    if self._fits(key.shape, total):
                        slot = Slot(key=key, handle=None, serial=next(self._serial))
                        self._live.add(slot)
                        break
                    victim = self._least_recently_used_idle()
                    if victim is not None:
                        self._forget(victim)
                        evicted.append(victim)
                        continue
                    if not self._live:
                        raise Unsatisfiable(_describe_shortfall(key.shape, total))
                    self._cond.wait(timeout=1.0)
        finally:
            for victim in evicted:
                log.info(
                    "stopping idle worker %d of %s to make room",
                    victim.serial,
                    victim.key.code_root,
                )
                self._kill(victim.handle)
        try:
            slot.handle = self._create(key)
        except BaseException:
            with self._cond:
                self._live.discard(slot)
                self._cond.notify_all()
            raise
        return slot

    def release(self, slot: Slot) -> None:
        """Give a healthy worker back for the next call."""
        with self._cond:
            if slot not in self._live:  # reset() ran meanwhile: it must not come back
                self._kill(slot.handle)
                return
            slot.last_used = time.monotonic()
            self._idle.setdefault(slot.key, []).append(slot)
            self._cond.notify_all()

    def discard(self, slot: Slot) -> None:
        """Stop a worker that must not be reused (timed out, cancelled, died)."""
        with self._cond:
            self._forget(slot)
            self._cond.notify_all()
        self._kill(slot.handle)

    def drop_idle(self) -> None:
        """Stop every idle worker (a node was lost: some of them may be dead); busy ones
        stay (a dead one fails its call and is discarded by its caller)."""
        with self._cond:
            idle = [s for slots in self._idle.values() for s in slots]
            for slot in idle:
                self._forget(slot)
            self._cond.notify_all()
        for slot in idle:
            self._kill(slot.handle)

    def reset(self) -> None:
        """Stop every idle worker, and keep busy ones from coming back (after an install)."""
        with self._cond:
            idle = [s for slots in self._idle.values() for s in slots]
            self._idle.clear()
            self._live.clear()
            self._cond.notify_all()
        for slot in idle:
            self._kill(slot.handle)

    def _fits(self, shape: ResourceShape, total: Mapping[str, float]) -> bool:
        held: dict[str, float] = {}
        for slot in self._live:
            for name, amount in slot.key.shape:
                held[name] = held.get(name, 0.0) + amount
        return all(
            held.get(name, 0.0) + amount <= total.get(name, 0.0) + 1e-9 for name, amount in shape
        )

    def _least_recently_used_idle(self) -> Slot | None:
        idle = [s for slots in self._idle.values() for s in slots]
        return min(idle, key=lambda s: s.last_used, default=None)

    def _forget(self, slot: Slot) -> None:
        self._live.discard(slot)
        idle = self._idle.get(slot.key)
        if idle and slot in idle:
            idle.remove(slot)


def _fits_when_empty(shape: ResourceShape, total: Mapping[str, float]) -> bool:
    return all(amount <= total.get(name, 0.0) + 1e-9 for name, amount in shape)


def _describe_shortfall(shape: ResourceShape, total: Mapping[str, float]) -> str:
    wanted = ", ".join(f"{name}={amount:g}" for name, amount in shape)
    has = ", ".join(f"{name}={total.get(name, 0.0):g}" for name, _ in shape)
    return f"the call needs {wanted} but the whole cluster has {has}"
