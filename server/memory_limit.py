"""A call's memory limit, enforced: Ray only schedules by the `memory` resource, so the
daemon watches the worker's resident memory while the call runs and stops it above it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rhcli.protocol import daemon_pb2 as pb

# How often a call with a memory limit has its worker's resident memory checked.
_MEMORY_POLL_S = 0.05
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def watch_memory(
    ray: Any, ref: Any, locate: Callable[[], int | None], limit: int, timeout_s: float
) -> pb.RunOutcome | None:
    """Wait for ref while checking the worker's resident memory against limit (the
    call's `memory` resource, which Ray itself only schedules by).

    Returns None once the call ended; a failed outcome (the worker is killed by the
    caller) when the worker went over the limit or, TIMED_OUT, past timeout_s.

    locate() is the worker's pid on this node: None while that is not known yet (a new
    worker may take seconds to start on a busy machine), so it is asked again at each
    check; 0 when the worker runs on another node, where this waits as without a limit.
    """
    deadline = time.monotonic() + timeout_s if timeout_s > 0 else None
    started = time.time()
    pid: int | None = None
    while True:
        wait_s = _MEMORY_POLL_S
        if deadline is not None:
            wait_s = min(wait_s, max(0.0, deadline - time.monotonic()))
        ready, _ = ray.wait([ref], timeout=wait_s)
        if ready:
            return None
        if deadline is not None and time.monotonic() >= deadline:
            return pb.RunOutcome(status=pb.TIMED_OUT)
        if pid is None:
            pid = locate()
        rss = _resident_bytes(pid) if pid else None
        if rss is not None and rss > limit:
            return pb.RunOutcome(
                status=pb.FAILED,
                failure=pb.WORKER_DIED,
                started_at=started,
                ended_at=time.time(),
                reason=f"the call used {rss:,} bytes of memory, over its limit of "
                f"{limit:,} bytes (its `memory` resource); the worker was killed",
            )


def _resident_bytes(pid: int) -> int | None:
    """The resident memory of pid, from /proc (None when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/statm").read_text().split()
    except OSError:
        return None
    return int(fields[1]) * _PAGE_BYTES
