"""A function's FIFO of enqueued runs on the daemon: one thread runs them one at a time, so
two enqueued runs of one function never overlap, whoever sent them."""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING

from rhcli.protocol import daemon_pb2 as pb

if TYPE_CHECKING:
    from rhcli.server.runs import ActiveRun, RunManager


class FunctionQueue:
    """A FIFO of one function's enqueued runs, run one at a time by its own thread."""

    def __init__(self, name: str, runner: RunManager) -> None:
        self.name = name
        self._runner = runner
        self._pending: deque[tuple[ActiveRun, pb.CallRequest]] = deque()
        self._cond = threading.Condition()
        self._busy = False
        self._thread = threading.Thread(target=self._loop, name=f"queue:{name}", daemon=True)
        self._thread.start()

    def put(self, active: ActiveRun, request: pb.CallRequest) -> None:
        with self._cond:
            self._pending.append((active, request))
            self._cond.notify()

    def remove(self, active: ActiveRun) -> bool:
        """Take a run out before it starts; False when it has started already."""
        with self._cond:
            for entry in self._pending:
                if entry[0] is active:
                    self._pending.remove(entry)
                    return True
        return False

    @property
    def depth(self) -> int:
        """Runs waiting plus the one running."""
        with self._cond:
            return len(self._pending) + int(self._busy)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._busy = False
                    self._cond.wait()
                active, request = self._pending.popleft()
                self._busy = True
            self._runner.execute(active, request)
