"""Capturing everything a run writes, at the file-descriptor level, into its log.

A worker process points its fd 1 and 2 at pipes once, when it starts; two reader threads
turn what arrives into log records. So print, logging, C extensions and child processes
(which inherit the fds) are all captured, with no per-run cost beyond naming the log that
the next lines belong to. Between runs, output goes to the worker's original stdout and
stderr (Ray's worker logs).

At the end of a run the worker flushes Python's and C's buffers, then, holding both
readers' locks (a reader holds its lock from the moment it reads a chunk until that chunk
is handled), takes what is left in each pipe itself (FIONREAD bytes) and hands it, and a
last partial line, to the run's sink: so every byte the run wrote before it ended is in
its log, and the next run's lines cannot mix in. The same sync at the start of a run sends
what was written between runs to the original fds instead of its log. A run that printed
nothing costs a flush, two ioctls and two lock round trips: no thread wake-up. (It was a
marker written down each pipe and a wait for both readers to pass it, about 0.5 ms of a
1 ms worker call.)

A run's log file is opened on its first line: a run that prints nothing makes no file and
no folder (the daemon's end marker creates them).

A log is JSON Lines, one record per line of output:
``{"seq": 7, "stream": "out", "t": 1795689743.93, "text": "epoch 1"}`` plus ``"item": 3``
for a map item and ``"cr": true`` for a progress line redrawn with carriage returns
(throttled, so a progress bar shows as it advances without flooding the log). The daemon
appends ``{"end": true, "status": "succeeded"}`` when the run has ended.

The log file lives on the daemon's disk. A worker on the daemon's node appends to it
directly; a worker on another node of a multi-node cluster forwards its records to a
LogWriter actor on the daemon's node, which appends them (same records, same order):
see rhcli.server.log_forwarding.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import select
import struct
import sys
import termios
import threading
import time
from typing import Any

PROGRESS_INTERVAL_S = 0.5
_READ_BYTES = 65536


class LogSink:
    """Appends one run's records to its log file; shared by the two reader threads.

    The file (and its folder) is made on the first record, not before: most calls print
    nothing, and opening a new run's log was 0.4 ms of each of them.
    """

    def __init__(self, path: str, item: int | None = None) -> None:
        self._path = path
        self._item = item
        self._seq = 0
        self._lock = threading.Lock()
        self._fd = -1

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
            self._emit((json.dumps(record) + "\n").encode())

    def _emit(self, line: bytes) -> None:
        if self._fd < 0:
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
            try:
                self._fd = os.open(self._path, flags, 0o600)
            except FileNotFoundError:  # the run's folder is made with its first line
                os.makedirs(os.path.dirname(self._path), exist_ok=True)
                self._fd = os.open(self._path, flags, 0o600)
        # One write per record: the daemon tailing the file never sees half a line.
        os.write(self._fd, line)

    def close(self) -> str:
        """Close the log; returns a note record (a JSON line) for the daemon to append when
        some of the run's lines could not reach the log, else "" (a local file: never)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        return ""

    def note(self, text: str) -> str:
        """A record of text on stderr with this sink's next sequence number (JSON line)."""
        with self._lock:
            record: dict[str, Any] = {"seq": self._seq, "stream": "err", "t": time.time()}
            record["text"] = text
            if self._item is not None:
                record["item"] = self._item
            self._seq += 1
        return json.dumps(record) + "\n"


class _StreamReader:
    """Reads one pipe; hands complete lines to the current sink.

    Its thread holds `lock` from the moment it reads a chunk until the chunk is handled,
    and waits for data (poll) without it: so whoever holds the lock knows that every byte
    no longer in the pipe has reached a sink or the fallback fd (see drain).
    """

    def __init__(self, name: str, read_fd: int, fallback_fd: int, owner: OutputCapture) -> None:
        self.name = name
        self.lock = threading.Lock()
        self._read_fd = read_fd
        self.fallback_fd = fallback_fd
        self._owner = owner
        self._pending = b""
        self._last_progress = 0.0
        os.set_blocking(read_fd, False)  # a sync may have emptied the pipe since the poll
        threading.Thread(target=self._loop, name=f"capture-{name}", daemon=True).start()

    def _loop(self) -> None:
        poller = select.poll()
        poller.register(self._read_fd, select.POLLIN)
        while True:
            events = poller.poll()
            if any(mask & select.POLLNVAL for _, mask in events):
                return
            # Wait for a sync in progress: a reader busy with a flood would otherwise take
            # its lock again and again before the waiting sync gets it (locks are unfair).
            with self._owner.turnstile:
                pass
            with self.lock:
                try:
                    data = os.read(self._read_fd, _READ_BYTES)
                except BlockingIOError:  # drained by a sync meanwhile
                    continue
                if not data:  # every write end is closed
                    return
                self._feed(data)

    def drain(self) -> None:
        """Handle every byte in the pipe now, and a last line without its newline, under
        the current sink. The caller holds `lock`. Bounded by what is in the pipe when
        called (at most its capacity), so a leftover process that keeps writing cannot
        hold a run's end back: what it writes later belongs to what comes next."""
        left = _unread(self._read_fd)
        while left > 0:
            try:
                data = os.read(self._read_fd, min(left, _READ_BYTES))
            except BlockingIOError:
                break
            if not data:
                break
            left -= len(data)
            self._feed(data)
        if self._pending:
            line, self._pending = self._pending, b""
            self._line(line)

    def _feed(self, data: bytes) -> None:
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            self._line(line)
        if b"\r" in self._pending:
            self._progress()

    def _line(self, raw: bytes) -> None:
        sink = self._owner.sink
        if sink is None:
            os.write(self.fallback_fd, raw + b"\n")
            return
        # A progress bar finishing its line: keep only its final state, which is before a
        # trailing \r when it was drawn as print(..., end="\r").
        self._deliver(sink, raw.rstrip(b"\r").rsplit(b"\r", 1)[-1], progress=False)

    def _progress(self) -> None:
        now = time.monotonic()
        sink = self._owner.sink
        if sink is None or now - self._last_progress < PROGRESS_INTERVAL_S:
            return
        self._last_progress = now
        current = self._pending.rstrip(b"\r").rsplit(b"\r", 1)[-1]
        if current:
            self._deliver(sink, current, progress=True)

    def _deliver(self, sink: LogSink, text: bytes, *, progress: bool) -> None:
        try:
            sink.write(self.name, text.decode(errors="replace"), progress=progress)
        except OSError as exc:
            # The log cannot be written (a full disk): keep the line in the worker's own
            # log rather than lose it, and keep reading, or the run would block on a full
            # pipe (and the end of the run would raise).
            note = f"rhcli: could not write the run's log ({exc}); the line was: ".encode()
            os.write(self.fallback_fd, note + text + b"\n")


class OutputCapture:
    """Process-wide capture of fd 1 and 2; install() once per worker process."""

    def __init__(self) -> None:
        self.sink: LogSink | None = None
        self.turnstile = threading.Lock()  # held by a sync from start to end
        self._readers: list[_StreamReader] = []

    def install(self) -> None:
        for fd, name in ((1, "out"), (2, "err")):
            read_fd, write_fd = os.pipe()
            fallback = os.dup(fd)
            os.dup2(write_fd, fd)
            os.close(write_fd)
            self._readers.append(_StreamReader(name, read_fd, fallback, self))
        # Line-buffer Python's streams so lines reach the pipe as they are printed.
        for stream in (sys.stdout, sys.stderr):
            reconfigure = getattr(stream, "reconfigure", None)
            if reconfigure is not None:
                reconfigure(line_buffering=True)

    def start(self, sink: LogSink) -> None:
        """Send what follows to sink; what was written before (between runs, by threads or
        processes a previous run left behind) goes to the original fds, not into it."""
        self._switch(sink)

    def stop(self) -> str:
        """Return once everything written so far is in the current sink, and detach it.
        Returns the sink's note about lines that did not reach the log ("" when all did)."""
        sink = self._switch(None)
        return sink.close() if sink is not None else ""

    @property
    def original_stderr(self) -> int:
        """The fd the worker's stderr went to before install() (Ray's worker log)."""
        return self._readers[1].fallback_fd

    def _switch(self, sink: LogSink | None) -> LogSink | None:
        """Hand every byte written before this call to the current sink (or the original
        fds), then make sink the current one; returns the one it replaced."""
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        _flush_c_stdio()
        # Both locks at once (always in this order; a reader takes only its own, and the
        # turnstile never while holding it), so no reader is between reading a chunk and
        # handing it on while the sink changes. The wait is at most one chunk per reader.
        out, err = self._readers
        with self.turnstile, out.lock, err.lock:
            out.drain()
            err.drain()
            previous, self.sink = self.sink, sink
        return previous


def _unread(fd: int) -> int:
    """How many bytes wait in the pipe fd (FIONREAD)."""
    answer: int = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
    return answer


def _flush_c_stdio() -> None:
    """fflush(NULL): C extensions' printf output sits in libc's buffers otherwise."""
    global _libc_fflush
    if _libc_fflush is None:
        _libc_fflush = ctypes.CDLL(None).fflush
    _libc_fflush(None)


_libc_fflush: Any = None
