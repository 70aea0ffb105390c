"""Printing a run's log as it is written: for ``stream_logs=True``, ``rhcli run`` and
``rhcli logs -f``.

A follower reads the daemon's log stream for one run until its end marker, so every line
is printed exactly once, in order, and the last lines are never cut off: a blocking call
returns its result only after its follower has printed the end of its log.
"""

from __future__ import annotations

import datetime
import json
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rhcli.clusters.base import Cluster


class LogPrinter:
    """Writes log lines: stdout lines to out, stderr lines to err; map items prefixed.

    A progress record (a line redrawn with carriage returns) is drawn as a terminal
    would show it: on a terminal, redrawn in place and replaced by whatever comes next
    (its final state, usually); elsewhere, each on a line of its own, with the final
    line left out when it repeats the last progress record of its stream. timestamps
    puts each line's time (UTC, ISO 8601) in front of it.
    """

    def __init__(
        self,
        *,
        out: IO[str] | None = None,
        err: IO[str] | None = None,
        as_json: bool = False,
        timestamps: bool = False,
    ) -> None:
        self._out = out
        self._err = err
        self._as_json = as_json
        self._timestamps = timestamps
        self._lock = threading.Lock()
        self._drawn: IO[str] | None = None  # a terminal whose last line is a progress
        self._last_progress: dict[str, str] = {}  # stream -> its last progress line (pipe)

    def print_batch(self, batch: Any) -> None:
        """Print a LogBatch; its end marker finishes a progress line left drawn."""
        self.print_lines(batch.lines)
        if batch.end:
            with self._lock:
                self.finish()

    def print_lines(self, lines: Any) -> None:
        with self._lock:
            for line in lines:
                self._print(line)

    def _print(self, line: Any) -> None:
        target = (self._out if line.stream == "out" else self._err) or sys.stderr
        if self._as_json:
            target.write(json.dumps(_record(line)) + "\n")
            target.flush()
            return
        prefix = f"[{line.item}] " if line.HasField("item") else ""
        if self._timestamps:
            prefix = f"{_utc(line.t)} {prefix}"
        text = prefix + line.text
        if target.isatty():
            if self._drawn is not None:  # clear the progress line: this one takes it
                self._drawn.write(_CLEAR_LINE)
                if self._drawn is not target:
                    self._drawn.flush()
            target.write(text if line.progress else text + "\n")
            self._drawn = target if line.progress else None
        elif line.progress:
            target.write(text + "\n")
            self._last_progress[line.stream] = line.text
        else:
            if self._last_progress.pop(line.stream, None) != line.text:
                target.write(text + "\n")
        target.flush()

    def finish(self) -> None:
        """End a progress line left drawn on a terminal, so that what is printed next
        starts on a line of its own. Idempotent."""
        if self._drawn is not None:
            self._drawn.write("\n")
            self._drawn.flush()
            self._drawn = None


# Back to the start of the line, and erase it (ANSI "erase in line").
_CLEAR_LINE = "\r\x1b[K"


def _record(line: Any) -> dict[str, Any]:
    record = {"seq": line.seq, "stream": line.stream, "t": line.t, "text": line.text}
    if line.HasField("item"):
        record["item"] = line.item
    if line.progress:
        record["progress"] = True
    return record


def _utc(t: float) -> str:
    """2026-11-26T11:42:35.123Z"""
    stamp = datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def printer_for(stream_logs: bool | LogPrinter) -> LogPrinter:
    """The printer stream_logs asks for: itself, or one to this process's stdout/stderr."""
    if isinstance(stream_logs, LogPrinter):
        return stream_logs
    return LogPrinter(out=sys.stdout, err=sys.stderr)


def batch_printer(stream_logs: bool | LogPrinter) -> Callable[[Any], None]:
    """Prints the batches of a call's log; a line seen already (the call was retried
    after a reconnect, and its log sent again from the start) is not printed twice."""
    printer = printer_for(stream_logs)
    printed = -1

    def show(batch: Any) -> None:
        nonlocal printed
        fresh = [line for line in batch.lines if line.seq > printed]
        if fresh:
            printer.print_lines(fresh)
            printed = fresh[-1].seq

    return show


def print_log(
    run_id: str,
    *,
    cluster: Cluster,
    printer: LogPrinter,
    follow: bool,
    item: int | None = None,
    tail: int | None = None,
    since: float | None = None,
    start: bool = True,
) -> str:
    """Print a run's log (following it until it ends when follow); its end status, or ""
    when the log ended without one (not following). item: only that map item's lines;
    tail: only the last N lines written so far (then the new ones, when following);
    since (unix seconds): only lines written at or after it. start=False starts no
    daemon (a down one raises DaemonNotRunningError)."""
    client = cluster.client(start=start)
    try:
        for batch in client.logs(run_id, follow=follow, item=item, tail=tail, since=since or 0.0):
            printer.print_batch(batch)
            if batch.end:
                return str(batch.status)
        return ""
    finally:
        printer.finish()


class Follower:
    """Follows one run's log in a background thread while the caller waits for its call.

    Never fails silently: when the stream breaks, or does not reach the end of the log
    within finish()'s timeout, finish() says so on stderr (which lines may be missing, and
    the `rhcli logs RUN_ID` command that prints them all); the call's own result is not
    affected.
    """

    def __init__(
        self, client: Any, run_id: str, printer: LogPrinter, *, warn: IO[str] | None = None
    ) -> None:
        self._client = client
        self._run_id = run_id
        self._printer = printer
        self._warn = warn
        self._stream: Any = None
        self._error: BaseException | None = None
        self._ended = False  # the end marker arrived: every line was printed
        self._cancelled = False
        self._printed = 0  # lines printed so far
        self._thread = threading.Thread(target=self._follow, name=f"logs:{run_id}", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        try:
            self._stream = self._client.logs(self._run_id, follow=True)
            if self._cancelled:  # cancel() came before the stream existed
                self._stream.cancel()
            for batch in self._stream:
                self._printer.print_batch(batch)
                self._printed += len(batch.lines)
                if batch.end:
                    self._ended = True
                    return
        except Exception as exc:  # reported by finish(): the call itself goes on
            self._error = exc

    def finish(self, timeout: float = 30.0) -> bool:
        """Wait until the end of the log has been printed (the call has returned).

        Returns True when every line was printed; else stops following, tells the user on
        stderr what may be missing and how to see it, and returns False."""
        self._thread.join(timeout)
        if self._ended:
            return True
        if self._thread.is_alive():
            why = f"its log did not reach its end within {timeout:g} s of the call's return"
            self.cancel()
        elif self._error is not None:
            why = f"streaming its log failed ({type(self._error).__name__}: {self._error})"
        else:
            why = "its log stream stopped before the end of the log"
        (self._warn or sys.stderr).write(
            f"rhcli: warning: run {self._run_id} ended, but {why}: any line after the "
            f"{self._printed} printed here may be missing. `rhcli logs {self._run_id}` "
            "prints them all.\n"
        )
        return False

    def cancel(self) -> None:
        self._cancelled = True
        stream = self._stream
        if stream is not None and hasattr(stream, "cancel"):
            stream.cancel()


@dataclass(frozen=True)
class LogLine:
    """One line of a run's log, in plain values: its sequence number, "out" or "err",
    when the worker read it (unix seconds), the text, the map item that printed it (None
    for a plain run), and whether it is a progress line redrawn in place."""

    seq: int
    stream: str
    t: float
    text: str
    item: int | None = None
    progress: bool = False


@dataclass(frozen=True)
class LogPart:
    """Some lines of a log; end says the run has ended (status: how) and nothing follows."""

    lines: list[LogLine]
    end: bool = False
    status: str = ""


class LogStream:
    """A run's log as LogParts, for watchers that are not a terminal (the dashboard).

    Iterating blocks while following a run that has not ended; cancel(), from any
    thread, ends the iteration (the daemon stops reading for it). Raises UnknownRunError
    when the cluster does not know the run (after the daemon's wait for its record).
    """

    def __init__(
        self, run_id: str, *, cluster: Cluster, follow: bool, item: int | None = None
    ) -> None:
        self._stream = cluster.client().logs(run_id, follow=follow, item=item)

    def __iter__(self) -> Iterator[LogPart]:
        for batch in self._stream:
            lines = [
                LogLine(
                    seq=line.seq,
                    stream=line.stream,
                    t=line.t,
                    text=line.text,
                    item=line.item if line.HasField("item") else None,
                    progress=line.progress,
                )
                for line in batch.lines
            ]
            yield LogPart(lines=lines, end=batch.end, status=str(batch.status))
            if batch.end:
                return

    def cancel(self) -> None:
        self._stream.cancel()
