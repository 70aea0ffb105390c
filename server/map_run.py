"""One map on the daemon while it runs: what arrived, what stopped it, and how it ends.

Exact accounting: every item of a map ends with exactly one stored outcome, or the map
fails loudly. A failure of the daemon's own at any stage (recording items, running a
chunk, storing outcomes, a full disk) stops the map: no further item starts, items
already running finish and are stored, every recorded item still without an outcome is
failed with the reason, the map's record ends FAILED with it, and the RPC ends with an
error (MapStopped). A map is SUCCEEDED only when every one of its items succeeded.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from dataclasses import dataclass, field

from rhcli.protocol import daemon_pb2 as pb
from rhcli.server import map_items
from rhcli.server.result_files import is_disk_full
from rhcli.server.runs import ActiveRun, RunManager

log = logging.getLogger(__name__)


class StopKind(enum.Enum):
    """Why a map stopped, which decides the RPC's status code."""

    INTERNAL = "internal"  # the daemon's own failure
    DISK_FULL = "disk_full"  # the daemon's disk took no more
    ENTRYPOINT = "entrypoint"  # the function cannot be found: every item would fail so
    REFUSED = "refused"  # the map could not start as asked (busy, changed input, ...)


class MapStopped(Exception):
    """The daemon stopped the map; raised to the RPC after the last batch of outcomes."""

    def __init__(self, reason: str, kind: StopKind, *, changed_input: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.changed_input = changed_input


def stop_for(exc: BaseException, doing: str) -> MapStopped:
    """The stop a failure of the daemon's own while `doing` something stands for."""
    if is_disk_full(exc):
        return MapStopped(
            f"the daemon's disk is full ({exc}) while {doing}; free space under its root, "
            "then resume the map",
            StopKind.DISK_FULL,
        )
    return MapStopped(f"the daemon failed while {doing}: {exc!r}", StopKind.INTERNAL)


@dataclass(eq=False)
class MapRun:
    """The state one map's threads share. Thread-safe."""

    start: pb.MapStart
    active: ActiveRun
    received: int = 0
    client_gone: bool = False
    _stopped: MapStopped | None = None
    _closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def map_id(self) -> str:
        return self.start.run_id

    @property
    def stopped(self) -> MapStopped | None:
        return self._stopped

    def stop(self, stopped: MapStopped) -> None:
        """Stop the map (the first reason wins): no item starts after this."""
        with self.lock:
            if self._stopped is None:
                self._stopped = stopped
                log.error("map %s stopped: %s", self.map_id, stopped.reason)

    def record(self, write: object) -> bool:
        """Run write() (recording items) unless the map has ended; False when it has.

        Under the lock the ending takes too, so no item is recorded after the map's
        unfinished items were failed (it would stay running forever).
        """
        with self.lock:
            if self._closed or self._stopped is not None:
                return False
            write()  # type: ignore[operator]
            return True

    def end(self, runs: RunManager) -> MapStopped | None:
        """Settle the map's record once its threads are done; returns the stop, if any.

        Never raises: a store that refuses the writes (a full disk) has them kept by the
        run manager and written once it takes writes again.
        """
        with self.lock:
            self._closed = True
            stopped = self._stopped
        store = runs.store
        map_id = self.map_id
        if stopped is not None:
            not_run = pb.RunOutcome(
                status=pb.FAILED,
                failure=pb.ENTRYPOINT_NOT_FOUND
                if stopped.kind is StopKind.ENTRYPOINT
                else pb.INTERNAL,
                reason=f"not run or not stored: the map stopped ({stopped.reason})",
                ended_at=time.time(),
            )

            def fail_rest() -> None:
                map_items.fail_unfinished(store, map_id, not_run)

            try:
                fail_rest()
            except Exception as exc:
                log.error("map %s: could not fail its unfinished items: %s", map_id, exc)
                runs.defer(fail_rest)
        runs.end(self.active, self._outcome(runs, stopped))
        return stopped

    def _outcome(self, runs: RunManager, stopped: MapStopped | None) -> pb.RunOutcome:
        status: int = pb.FAILED
        reason = stopped.reason if stopped is not None else ""
        if self.active.cancelled:
            status, reason = pb.CANCELLED, "cancelled"
        elif stopped is None:
            status, reason = self._settled(runs)
        return pb.RunOutcome(
            status=status,  # type: ignore[arg-type]
            failure=pb.INTERNAL if stopped is not None else pb.FAILURE_KIND_UNSPECIFIED,
            reason=reason,
            ended_at=time.time(),
        )

    def _settled(self, runs: RunManager) -> tuple[int, str]:
        """How a map that was not stopped ended, from its items: succeeded only when every
        item did (those the client holds from a lost cluster count: held_by_client)."""
        total = max(self.start.total, self.received)
        held = self.start.held_by_client
        try:
            succeeded, recorded = map_items.item_counts(runs.store, self.map_id)
        except Exception as exc:  # reads rarely fail; the map is failed if they do
            log.error("map %s: could not count its items: %s", self.map_id, exc)
            return pb.FAILED, "its items could not be counted (see the daemon's log)"
        succeeded, recorded = succeeded + held, recorded + held
        if succeeded == total:
            return pb.SUCCEEDED, ""
        if recorded < total:
            why = "the client went away" if self.client_gone else "the item stream ended"
            return pb.FAILED, (
                f"{why} before sending every item: {total - recorded} of {total} were never "
                "received; resume the map to run them"
            )
        return pb.FAILED, f"{total - succeeded} of {total} items failed"
