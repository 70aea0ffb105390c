"""What every command shares: the global options and where output goes.

Human text goes to stdout, progress and status to stderr (Rich); with --json every command
prints exactly one JSON document on stdout and nothing else there.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any


@dataclass
class Globals:
    """The options given before the command: -f, -c, --json, --debug."""

    file: str | None = None
    cluster: str | None = None
    json: bool = False
    debug: bool = False


# Set by the root callback; read by commands and by the error boundary, which runs after
# Typer has parsed the options.
current = Globals()


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout."""
    sys.stdout.write(json.dumps(document, default=str) + "\n")
    sys.stdout.flush()


def err(message: str) -> None:
    """One line for people on stderr."""
    print(message, file=sys.stderr, flush=True)


def detached(run_id: str) -> None:
    """After Ctrl-C: the run goes on; say how to follow or stop it."""
    if not run_id:
        err("interrupted before the call was sent")
        return
    err(
        f"detached: run {run_id} goes on. Follow it with `rhcli logs -f {run_id}`, "
        f"fetch its result with `rhcli get {run_id}`, stop it with `rhcli cancel {run_id}`"
    )
