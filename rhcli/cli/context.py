"""What every command shares: the global options and where output goes.

Results and human text go to stdout; progress, notes and errors to stderr. With --json,
every command prints exactly one JSON document on stdout and nothing else there (`logs`
and `map`: JSON Lines). Colour only on a terminal (rhcli.cli.style).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from rhcli.cli import style


@dataclass
class Globals:
    """The global options: -f, -c, --json, --debug (before or after the command)."""

    file: str | None = None
    cluster: str | None = None
    json: bool = False
    debug: bool = False


# Set by the root callback; read by commands and by the error boundary, which runs after
# Typer has parsed the options.
current = Globals()


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout (one line)."""
    sys.stdout.write(json.dumps(document, default=str) + "\n")
    sys.stdout.flush()


def err(message: str) -> None:
    """One line for people on stderr; a leading `error:`, `note:` or `detached:` is
    coloured on a terminal (map's failure lines too, which come through here)."""
    label, sep, rest = message.partition(" ")
    if sep and label in _LABELS:
        message = style.paint(label, _LABELS[label], sys.stderr) + sep + rest
    print(message, file=sys.stderr, flush=True)


_LABELS = {"error:": style.ERROR, "note:": style.WARNING, "detached:": style.WARNING}


def error(message: str) -> None:
    """An `error: ...` line on stderr."""
    err(f"error: {message}")


def note(message: str) -> None:
    """A `note: ...` line on stderr: something the user should know, not a failure."""
    err(f"note: {message}")


def detached(run_id: str) -> None:
    """After Ctrl-C: the run goes on; say how to follow or stop it."""
    if not run_id:
        message = "interrupted before the call was sent"
    else:
        message = (
            f"detached: run {run_id} goes on. Follow it with `rhcli logs -f {run_id}`, "
            f"fetch its result with `rhcli get {run_id}`, stop it with `rhcli cancel {run_id}`"
        )
    err(message)
    if current.json:  # the one document: what happened, and the run to go on with
        error = {"type": "KeyboardInterrupt", "message": message, "exit_code": 130}
        emit_json({"error": {**error, "run_id": run_id or None}})
