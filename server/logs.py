"""Reading run logs on the daemon: whole, or followed as they grow, until the end marker.

Workers append records to runs/<run id>/log.jsonl (see logcapture); the daemon appends the
end marker once the run's outcome is stored. A follower polls the file every few
milliseconds while the run is live, sends every complete record exactly once and in file
order, and stops after the end marker, so a client never misses the last lines.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

LOG_NAME = "log.jsonl"
POLL_S = 0.005
IDLE_POLL_S = 0.05
BATCH_LINES = 500


def log_path(runs_dir: Path, run_id: str) -> Path:
    return runs_dir / run_id / LOG_NAME


def append_end(path: Path, status: str) -> None:
    """Append the end-of-run marker (creating the log of a run that printed nothing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    record = json.dumps({"end": True, "status": status, "t": time.time()})
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (record + "\n").encode())
    finally:
        os.close(fd)


def read_records(
    path: Path,
    *,
    follow: bool,
    finished: Callable[[], bool],
    cancelled: Callable[[], bool],
    item: int | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Batches of records of one log, up to and including its end marker.

    Without follow, stops at the end of what is written now. With follow, waits for more
    until the end marker, until finished() says the run ended and nothing more came, or
    until cancelled() (the client went away). item keeps one map item's lines.
    """
    handle = None
    pending = b""
    quiet_polls = 0  # polls since data last came: past 1 s, poll less often
    polls_after_end = 0
    try:
        while not cancelled():
            if handle is None:
                try:
                    handle = open(path, "rb")
                except FileNotFoundError:
                    if not follow or finished():
                        return
                    time.sleep(IDLE_POLL_S)
                    continue
            data = handle.read(1 << 20)
            if data:
                quiet_polls = 0
                pending += data
                *lines, pending = pending.split(b"\n")
                batch, ended = _parse(lines, item)
                if batch:
                    yield batch
                if ended:
                    return
                continue
            if not follow:
                return
            if finished():
                # Ended, and no marker yet: one more read catches a marker written just
                # now; past that, the daemon that ran it died before writing one.
                polls_after_end += 1
                if polls_after_end > 2:
                    return
            quiet_polls += 1
            time.sleep(POLL_S if quiet_polls < 200 else IDLE_POLL_S)
    finally:
        if handle is not None:
            handle.close()


def _parse(lines: list[bytes], item: int | None) -> tuple[list[dict[str, Any]], bool]:
    batch = []
    for raw in lines:
        if not raw:
            continue
        record = json.loads(raw)
        if record.get("end"):
            batch.append(record)
            return batch, True
        if item is None or record.get("item") == item:
            batch.append(record)
    return batch, False
