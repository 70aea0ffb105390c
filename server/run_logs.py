"""Reading run logs on the daemon: whole, or followed as they grow, until the end marker.

Workers append records to runs/<run id>/log.jsonl (see logcapture); the daemon appends the
end marker once the run's outcome is stored. A follower sends every complete record
exactly once and in file order, and stops after the end marker, so a client never misses
the last lines.

A follower wakes as soon as the log is written, whoever writes it (the worker is another
process; on another node some day, writing through a shared or relayed file): it waits on
an inotify watch of the run's folder, and re-reads at least every WATCH_TIMEOUT_S in case
an event was missed. Where inotify is unavailable (not Linux, or the per-user limit of
inotify instances is reached) it polls instead, every POLL_S while lines come. Polling
every 5 ms cost a blocking call with stream_logs=True about 8 ms: the end marker is
written just before the call answers, and the follower slept through it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import logging
import os
import select
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

LOG_NAME = "log.jsonl"
POLL_S = 0.005
IDLE_POLL_S = 0.05
WATCH_TIMEOUT_S = 0.05
BATCH_LINES = 500

log = logging.getLogger(__name__)


def log_path(runs_dir: Path, run_id: str) -> Path:
    return runs_dir / run_id / LOG_NAME


def append_end(path: Path, status: str) -> None:
    """Append the end-of-run marker, if the run's folder exists.

    It exists once the run printed a line (the worker makes it then) or a follower watched
    the run (_Watch.of makes it). Where it does not, the run printed nothing and nobody
    follows it: no log and no folder are made (that was a mkdir and a file on every quiet
    call's answer path), and a later reader finds no log, which reads as no lines; a
    follower gets the end from the run's record (DaemonServicer.Logs).
    """
    record = json.dumps({"end": True, "status": status, "t": time.time()})
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except FileNotFoundError:
        return
    try:
        os.write(fd, (record + "\n").encode())
    finally:
        os.close(fd)


def append_note(path: Path, note: str) -> None:
    """Append a worker's note record (a JSON line: some of the run's output did not reach
    this log, and where it is instead) to the log at path, and say it in daemon.log, so
    the loss is seen by whoever reads either. A no-op for an empty note."""
    if not note:
        return
    log.warning("%s: %s", path.parent.name, json.loads(note).get("text", note))
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, note.encode())
    finally:
        os.close(fd)


def read_records(
    path: Path,
    *,
    follow: bool,
    finished: Callable[[], bool],
    cancelled: Callable[[], bool],
    item: int | None = None,
    tail: int | None = None,
    since: float = 0.0,
) -> Iterator[list[dict[str, Any]]]:
    """Batches of records of one log, up to and including its end marker.

    Without follow, stops at the end of what is written now. With follow, waits for more
    until the end marker, until finished() says the run ended and nothing more came, or
    until cancelled() (the client went away). item keeps one map item's lines; since
    (unix seconds) the lines written at or after it; tail the last `tail` of the lines
    written before the log was opened (every line written after follows).
    """
    keep = _Filter(item, since)
    handle = None
    pending = b""
    quiet_polls = 0  # polls since data last came: past 1 s, poll less often
    polls_after_end = 0
    watch = _Watch.of(path.parent) if follow else None
    try:
        while not cancelled():
            if handle is None:
                try:
                    handle = open(path, "rb")
                except FileNotFoundError:
                    if not follow or finished():
                        return
                    tail = None  # nothing written yet: every line to come is new
                    if watch is not None:
                        watch.wait(WATCH_TIMEOUT_S)
                    else:
                        time.sleep(IDLE_POLL_S)
                    continue
                if tail is not None:
                    shown, pending, ended = _last_records(handle, keep, tail)
                    if shown:
                        yield shown
                    if ended:
                        return
                    tail = None
                    continue
            data = handle.read(1 << 20)
            if data:
                quiet_polls = 0
                pending += data
                *lines, pending = pending.split(b"\n")
                batch, ended = keep.parse(lines)
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
            if watch is not None:
                watch.wait(WATCH_TIMEOUT_S)
            else:
                time.sleep(POLL_S if quiet_polls < 200 else IDLE_POLL_S)
    finally:
        if handle is not None:
            handle.close()
        if watch is not None:
            watch.close()


def _last_records(
    handle: Any, keep: _Filter, tail: int
) -> tuple[list[dict[str, Any]], bytes, bool]:
    """The last `tail` kept records of what handle holds now (read to its end, holding
    no more than `tail` records), then the end marker if it came; the incomplete last
    line; whether the marker came."""
    last: deque[dict[str, Any]] = deque(maxlen=tail)
    pending = b""
    while data := handle.read(1 << 20):
        pending += data
        *lines, pending = pending.split(b"\n")
        batch, ended = keep.parse(lines)
        if ended:
            end = batch.pop()
            last.extend(batch)
            return [*last, end], b"", True
        last.extend(batch)
    return list(last), pending, False


class _Filter:
    """Which records a reader keeps: one map item's, and those written since a time."""

    def __init__(self, item: int | None, since: float) -> None:
        self.item = item
        self.since = since

    def parse(self, lines: list[bytes]) -> tuple[list[dict[str, Any]], bool]:
        """The kept records of complete lines, up to an end marker (kept); and whether
        the marker came."""
        batch = []
        for raw in lines:
            if not raw:
                continue
            record = json.loads(raw)
            if record.get("end"):
                batch.append(record)
                return batch, True
            if self.item is not None and record.get("item") != self.item:
                continue
            if self.since and record.get("t", 0.0) < self.since:
                continue
            batch.append(record)
        return batch, False


# inotify(7): a file was written to, created in, or moved into the watched folder.
_IN_MODIFY = 0x00000002
_IN_CREATE = 0x00000100
_IN_MOVED_TO = 0x00000080
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC
_libc: Any = None


class _Watch:
    """An inotify watch of one folder: wait() returns when something in it was written.

    Its inotify instance comes from a small pool and goes back there on close(): closing
    an inotify instance waits for the kernel's SRCU grace period, about 12 ms here, and
    a streamed call closes its follower's watch on its answer path (that close was most
    of what stream_logs=True cost). Removing a watch from an instance is cheap.
    """

    def __init__(self, fd: int, wd: int) -> None:
        self._fd = fd
        self._wd = wd

    @classmethod
    def of(cls, folder: Path) -> _Watch | None:
        """A watch of folder (made if missing: a run's folder may not exist before its
        first line); None where inotify is unavailable, and the caller polls."""
        fd = _take_instance()
        if fd is None:
            return None
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            _give_back(fd)
            return None
        mask = _IN_MODIFY | _IN_CREATE | _IN_MOVED_TO
        wd = _libc.inotify_add_watch(fd, os.fsencode(folder), mask)
        if wd < 0:
            _give_back(fd)
            return None
        return cls(fd, wd)

    def wait(self, timeout: float) -> None:
        """Until the folder changes (events since the last wait count) or timeout."""
        ready, _, _ = select.select([self._fd], [], [], timeout)
        if ready:
            _drain(self._fd)

    def close(self) -> None:
        """Stop watching; the instance goes back to the pool (or is closed: see
        _give_back). Idempotent."""
        if self._fd < 0:
            return
        fd, self._fd = self._fd, -1
        if _libc.inotify_rm_watch(fd, self._wd) < 0:  # the folder went: watch gone too
            os.close(fd)
            return
        _give_back(fd)


# Idle inotify instances, ready for the next watch. Bounded: each counts against the
# per-user limit of instances (128 by default), shared with every other program.
_POOL_MAX = 8
_pool: list[int] = []
_pool_lock = threading.Lock()


def _take_instance() -> int | None:
    global _libc
    with _pool_lock:
        if _pool:
            return _pool.pop()
    try:
        if _libc is None:
            _libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        fd = _libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
    except (OSError, AttributeError):  # no libc inotify (not Linux)
        return None
    return None if fd < 0 else int(fd)  # fd < 0: EMFILE, the per-user limit


def _give_back(fd: int) -> None:
    _drain(fd)  # the removed watch's last events (IN_IGNORED): the next user starts clean
    with _pool_lock:
        if len(_pool) < _POOL_MAX:
            _pool.append(fd)
            return
    os.close(fd)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass
