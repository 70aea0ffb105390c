"""Capturing everything a run writes, at the file-descriptor level, into its log.

A worker process points its fd 1 and 2 at pipes once, when it starts; two reader threads
turn what arrives into log records. So print, logging, C extensions and child processes
(which inherit the fds) are all captured, with no per-run cost beyond naming the log that
the next lines belong to. Between runs, output goes to the worker's original stdout and
stderr (Ray's worker logs).

At the end of a run the worker flushes Python's and C's buffers and writes a sync marker
down each pipe; once both readers have passed their marker, every byte the run wrote is in
its log, and the next run's lines cannot mix in. The same sync at the start of a run
keeps what was written between runs out of its log.

A log is JSON Lines, one record per line of output:
``{"seq": 7, "stream": "out", "t": 1795689743.93, "text": "epoch 1"}`` plus ``"item": 3``
for a map item and ``"cr": true`` for a progress line redrawn with carriage returns
(throttled, so a progress bar shows as it advances without flooding the log). The daemon
appends ``{"end": true, "status": "succeeded"}`` when the run has ended.
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import sys
import threading
import time
from typing import Any

PROGRESS_INTERVAL_S = 0.5
_READ_BYTES = 65536


class LogSink:
    """Appends one run's records to its log file; shared by the two reader threads."""

    def __init__(self, path: str, item: int | None = None) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._item = item
        self._seq = 0
        self._lock = threading.Lock()

    def write(self, stream: str, text: str, *, progress: bool = False) -> None:
        with self._lock:
            record: dict[str, Any] = {
                "seq": self._seq,
                "stream": stream,
                "t": time.time(),
                "text": text,
            }
            if self._item is not None:
                record["item"] = self._item
            if progress:
                record["cr"] = True
            self._seq += 1
            # One write per record: the daemon tailing the file never sees half a line.
            os.write(self._fd, (json.dumps(record) + "\n").encode())

    def close(self) -> None:
        os.close(self._fd)


class _StreamReader:
    """Reads one pipe; hands complete lines to the current sink."""

    def __init__(self, name: str, read_fd: int, fallback_fd: int, owner: OutputCapture) -> None:
        self.name = name
        self._read_fd = read_fd
        self._fallback_fd = fallback_fd
        self._owner = owner
        self._pending = b""
        self._last_progress = 0.0
        self.synced = threading.Event()
        threading.Thread(target=self._loop, name=f"capture-{name}", daemon=True).start()

    def _loop(self) -> None:
        while True:
            data = os.read(self._read_fd, _READ_BYTES)
            if not data:
                return
            self._pending += data
            *lines, self._pending = self._pending.split(b"\n")
            for line in lines:
                self._line(line)
            if b"\r" in self._pending:
                self._progress()

    def _line(self, raw: bytes) -> None:
        marker = self._owner.marker
        if raw.endswith(marker):  # after a last partial line, if there was one
            if len(raw) > len(marker):
                self._line(raw[: -len(marker)])
            self.synced.set()
            return
        sink = self._owner.sink
        if sink is None:
            os.write(self._fallback_fd, raw + b"\n")
            return
        # A progress bar finishing its line: keep only its final state, which is before a
        # trailing \r when it was drawn as print(..., end="\r").
        text = raw.rstrip(b"\r").rsplit(b"\r", 1)[-1]
        sink.write(self.name, text.decode(errors="replace"))

    def _progress(self) -> None:
        now = time.monotonic()
        sink = self._owner.sink
        if sink is None or now - self._last_progress < PROGRESS_INTERVAL_S:
            return
        self._last_progress = now
        current = self._pending.rstrip(b"\r").rsplit(b"\r", 1)[-1]
        if current:
            sink.write(self.name, current.decode(errors="replace"), progress=True)


class OutputCapture:
    """Process-wide capture of fd 1 and 2; install() once per worker process."""

    def __init__(self) -> None:
        self.sink: LogSink | None = None
        self.marker = b"\x00rhcli-sync-" + secrets.token_hex(8).encode()
        self._readers: dict[int, _StreamReader] = {}

    def install(self) -> None:
        for fd, name in ((1, "out"), (2, "err")):
            read_fd, write_fd = os.pipe()
            fallback = os.dup(fd)
            os.dup2(write_fd, fd)
            os.close(write_fd)
            self._readers[fd] = _StreamReader(name, read_fd, fallback, self)
        # Line-buffer Python's streams so lines reach the pipe as they are printed.
        for stream in (sys.stdout, sys.stderr):
            reconfigure = getattr(stream, "reconfigure", None)
            if reconfigure is not None:
                reconfigure(line_buffering=True)

    def start(self, sink: LogSink) -> None:
        """Send what follows to sink; what was written before (between runs, by threads or
        processes a previous run left behind) goes to the original fds, not into it."""
        self._sync()
        self.sink = sink

    def stop(self, timeout: float = 2.0) -> None:
        """Wait until everything written so far is in the current sink, then detach it."""
        self._sync(timeout)
        sink, self.sink = self.sink, None
        if sink is not None:
            sink.close()

    def _sync(self, timeout: float = 2.0) -> None:
        """Return once the readers have handled every byte written before this call."""
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        _flush_c_stdio()
        for fd, reader in self._readers.items():
            reader.synced.clear()
            os.write(fd, self.marker + b"\n")
        for reader in self._readers.values():
            reader.synced.wait(timeout)


def _flush_c_stdio() -> None:
    """fflush(NULL): C extensions' printf output sits in libc's buffers otherwise."""
    global _libc_fflush
    if _libc_fflush is None:
        _libc_fflush = ctypes.CDLL(None).fflush
    _libc_fflush(None)


_libc_fflush: Any = None
