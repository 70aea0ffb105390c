"""What `rhcli map` shows while it runs and when it ends, on stderr only.

- A live line (bar, done/total, failed, rate, time left) while items end, drawn only
  when stderr is a terminal, and cleared before each result line is written when stdout
  is that same terminal, so result lines and the bar never share a line. A pipe or file
  on stderr gets no live line and no stray empty line.
- One summary line at the end, whatever happened: done, failed, time, rate, output file.
- The rate is shown only once it means something: MIN_RATE_ITEMS items over at least
  MIN_RATE_S seconds, counted from the first item's end (a cluster's start-up, minutes
  for a launch, is not the map's pace).
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import IO

MIN_RATE_S = 2.0
MIN_RATE_ITEMS = 10
REDRAW_S = 0.1
_CLEAR = "\r\x1b[2K"


class MapDisplay:
    """The live line and the summary of one map. total 0: not known."""

    def __init__(self, total: int, *, err: IO[str] | None = None, out: IO[str] | None = None):
        self.total = total
        self.done = 0
        self.failed = 0
        self._err = err or sys.stderr
        self._live = _is_terminal(self._err)
        self._shares_terminal = self._live and _is_terminal(out or sys.stdout)
        self._started = time.monotonic()
        self._first_at: float | None = None  # when the first item ended
        self._drawn = False
        self._drawn_at = 0.0

    def item(self, *, failed: bool) -> None:
        """One more item ended."""
        if self._first_at is None:
            self._first_at = time.monotonic()
        self.done += 1
        self.failed += int(failed)
        if self._live and time.monotonic() - self._drawn_at >= REDRAW_S:
            self._draw()

    def before_output(self) -> None:
        """Result lines are about to go to stdout: take the live line off its terminal."""
        if self._drawn and self._shares_terminal:
            self._clear()

    def after_output(self) -> None:
        if self._live and not self._drawn:
            self._draw()

    def close(self) -> None:
        """Take the live line away (before the summary and any error)."""
        if self._drawn:
            self._clear()

    def seconds(self) -> float:
        return time.monotonic() - self._started

    def rate(self) -> float | None:
        """Items per second since the first item ended, once enough time and items have
        passed to mean something; None before."""
        if self._first_at is None:
            return None
        elapsed = time.monotonic() - self._first_at
        if elapsed < MIN_RATE_S or self.done < MIN_RATE_ITEMS:
            return None
        return (self.done - 1) / elapsed

    def summary(self, map_id: str, *, output: Path | None, missing: int = 0) -> str:
        """One line: what ended how, in how long, and where the results are."""
        succeeded = self.done - self.failed
        parts = [f"{succeeded} succeeded", f"{self.failed} failed"]
        if missing:
            parts.append(f"{missing} without a result")
        rate = self.rate()
        pace = f" ({_rate(rate)})" if rate is not None else ""
        where = f"; results in {output}" if output is not None else ""
        return f"map {map_id}: {', '.join(parts)} in {self.seconds():.1f} s{pace}{where}"

    def _draw(self) -> None:
        width = max(20, shutil.get_terminal_size((80, 24)).columns - 1)
        counts = f"{self.done}/{self.total}" if self.total else f"{self.done}"
        tail = [counts]
        if self.failed:
            tail.append(f"{self.failed} failed")
        rate = self.rate()
        if rate is not None:
            tail.append(_rate(rate))
            if self.total and rate > 0:
                tail.append(f"{_clock((self.total - self.done) / rate)} left")
        text = "  ".join(tail)
        room = width - len(text) - len("map  ") - 2
        if self.total and room >= 10:
            filled = round(room * self.done / self.total)
            text = f"map [{'#' * filled}{'-' * (room - filled)}] {text}"
        else:
            text = f"map {text}"
        self._err.write(_CLEAR + text[:width])
        self._err.flush()
        self._drawn = True
        self._drawn_at = time.monotonic()

    def _clear(self) -> None:
        self._err.write(_CLEAR)
        self._err.flush()
        self._drawn = False


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _rate(per_second: float) -> str:
    return f"{per_second:,.0f} items/s" if per_second >= 10 else f"{per_second:.1f} items/s"


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"
