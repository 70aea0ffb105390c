"""Colour for people at a terminal, and never anywhere else.

A stream gets colour when it is a terminal (or FORCE_COLOR is set), through Rich (which
also knows TERM=dumb), unless NO_COLOR is set (no-color.org). A pipe or a file gets the
text unchanged, without importing Rich at all: scripts, CI logs and `--json` never see an
escape code.
"""

from __future__ import annotations

import functools
import os
import shutil
from typing import IO, Any

# What each run status looks like (Rich style names).
STATUS_STYLES = {
    "succeeded": "green",
    "failed": "red",
    "timed_out": "red",
    "cancelled": "yellow",
    "running": "cyan",
    "queued": "blue",
}
ERROR = "bold red"
WARNING = "yellow"
NOTE = "dim"
UP = "bold green"
DOWN = "bold red"


def paint(text: str, style: str, stream: IO[str]) -> str:
    """text styled for stream: with escape codes on a colour terminal, else as it is."""
    console = _console_for(stream)
    if console is None or not text:
        return text
    from rich.text import Text

    with console.capture() as captured:
        console.print(Text(text, style=style), end="")
    return str(captured.get())


def status(name: str, stream: IO[str], text: str | None = None) -> str:
    """A run status (or text standing for it) in its colour."""
    return paint(text if text is not None else name, STATUS_STYLES.get(name, ""), stream)


def colours(stream: IO[str]) -> bool:
    """Whether stream gets escape codes."""
    return _console_for(stream) is not None


def _console_for(stream: IO[str]) -> Any:
    if os.environ.get("NO_COLOR"):  # no-color.org: no escape codes at all, then
        return None
    if not (is_terminal(stream) or os.environ.get("FORCE_COLOR")):
        return None
    return _console(id(stream), stream)


@functools.lru_cache(maxsize=4)
def _console(_key: int, stream: IO[str]) -> Any:
    from rich.console import Console

    # soft_wrap: never break a long line at the terminal's width (the terminal wraps it,
    # and a copied line stays whole); no highlighting of numbers and paths. The width is
    # shutil's, never 0: Rich takes COLUMNS=0 (set by some CI runners) as a width of 0 and
    # would print nothing at all.
    console = Console(
        file=stream,
        width=shutil.get_terminal_size().columns or 80,
        highlight=False,
        soft_wrap=True,
        emoji=False,
        markup=False,
    )
    return console if console.is_terminal and console.color_system else None


def is_terminal(stream: IO[str]) -> bool:
    """Whether stream is a terminal (a closed stream, or no file at all, is not)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed, or not a file at all
        return False
