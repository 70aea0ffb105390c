"""Room that Ray Serve replicas hold, kept out of the warm worker pool's ledger.

The pool decides whether a new worker fits by what its own workers hold against Ray's
total; replicas of HTTP endpoints hold Ray resources too, unseen by that ledger. Without
this, a call would start a worker Ray can never place while an endpoint holds the room,
and wait forever. Each endpoint reserves the most its replicas may hold (replicas, or
max_replicas when autoscaling, times one replica's resources); the pool sees what is left.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping


class Reservations:
    """Resources held outside the worker pool, by owner; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, dict[str, float]] = {}

    def set(self, owner: str, resources: Mapping[str, float] | None) -> bool:
        """Reserve resources for owner (None: release); True when that grew what is held
        in some resource (idle workers may then have to go)."""
        with self._lock:
            before = self._held.get(owner, {})
            if resources:
                self._held[owner] = dict(resources)
            else:
                self._held.pop(owner, None)
            after = self._held.get(owner, {})
            return any(amount > before.get(name, 0.0) for name, amount in after.items())

    def total(self) -> dict[str, float]:
        with self._lock:
            summed: dict[str, float] = {}
            for held in self._held.values():
                for name, amount in held.items():
                    summed[name] = summed.get(name, 0.0) + amount
            return summed

    def total_of(self, owner: str) -> dict[str, float]:
        with self._lock:
            return dict(self._held.get(owner, {}))

    def left_of(self, total: Mapping[str, float]) -> dict[str, float]:
        """total minus what is reserved (never below zero)."""
        reserved = self.total()
        return {name: max(0.0, amount - reserved.get(name, 0.0)) for name, amount in total.items()}
