"""The `rhcli runs` table: newest first, times relative, statuses coloured on a terminal.

On a terminal the table fits its width: when it would not, the FUNCTION column goes first
(the run id starts with the function's name anyway), then the STATUS column's map note is
shortened. In a pipe every column is printed whole, for grep and awk.
"""

from __future__ import annotations

import shutil
import sys
from typing import IO

from rhcli.cli import style
from rhcli.cli.timespec import age, duration
from rhcli.runs_api import RunInfo

HEADERS = ("RUN ID", "FUNCTION", "STATUS", "STARTED", "DURATION")
GAP = "  "


def print_runs(found: list[RunInfo], *, out: IO[str] | None = None) -> None:
    """Print the table (or `no runs`) on out (default stdout)."""
    stream = out or sys.stdout
    if not found:
        print("no runs", file=stream)
        return
    rows = [
        [
            info.run_id,
            info.function,
            info.status + _items_note(info),
            age(info.started_at or info.created_at),
            duration(info.duration_s),
        ]
        for info in found
    ]
    columns = list(range(len(HEADERS)))
    if style.is_terminal(stream):
        columns = _fit(rows, columns, shutil.get_terminal_size().columns)
    widths = {i: max(len(HEADERS[i]), *(len(row[i]) for row in rows)) for i in columns}
    print(_line([HEADERS[i] for i in columns], [widths[i] for i in columns]), file=stream)
    for info, row in zip(found, rows, strict=True):
        cells = [row[i].ljust(widths[i]) for i in columns]
        if 2 in columns:  # the status in its colour (on a terminal), padding outside it
            at = columns.index(2)
            status = row[2]
            cells[at] = style.status(info.status, stream, status) + cells[at][len(status) :]
        print(GAP.join(cells).rstrip(), file=stream)


def _items_note(info: RunInfo) -> str:
    """A map's items after its status: "(3 items, 1 failed)", then how many an ended map
    never ran ("2 not run") and its attempt when resumed ("attempt 2")."""
    if not info.items:
        return ""
    note = f" ({info.items} items, {info.items_failed} failed"
    unsettled = info.items - info.items_failed - info.items_succeeded
    if unsettled > 0 and info.status not in ("running", "queued"):
        note += f", {unsettled} not run"
    if info.attempts > 1:
        note += f", attempt {info.attempts}"
    return note + ")"


def _fit(rows: list[list[str]], columns: list[int], width: int) -> list[int]:
    """The columns to show in width: FUNCTION dropped first, then map notes shortened
    ("failed (3 items, 1 failed)" becomes "failed (1/3 failed)")."""

    def total(cols: list[int]) -> int:
        return sum(max(len(HEADERS[i]), *(len(r[i]) for r in rows)) for i in cols) + len(GAP) * (
            len(cols) - 1
        )

    if total(columns) <= width:
        return columns
    columns = [i for i in columns if i != 1]
    if total(columns) > width:
        for row in rows:
            status, _, note = row[2].partition(" (")
            if note:
                items, _, failed = note.rstrip(")").partition(" items, ")
                row[2] = f"{status} ({failed.split()[0]}/{items} failed)"
    return columns


def _line(cells: list[str], widths: list[int]) -> str:
    return GAP.join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
