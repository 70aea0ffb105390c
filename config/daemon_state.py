"""A daemon's state files as every reader sees them: is a daemon alive under this root?

A daemon writes ``daemon.pid`` as it starts and ``daemon.json`` (pid, port, version, start
time) once it serves; it removes both when it stops. A file whose process is gone, or whose
pid now belongs to another program, is stale and reads as "no daemon".

Standard library only, on purpose: the same code answers for the local cluster, for the
keep-alive beside a sky cluster's daemon, and inside the probe script that an SSH host's
bare ``python3`` runs before rhcli is installed there (``rhcli.transport.bootstrap`` sends
this module's source as the first part of that script).
"""

from __future__ import annotations

import json
import os

STATE_FILE = "daemon.json"
PID_FILE = "daemon.pid"
TOKEN_FILE = "token"  # noqa: S105 - a file name, not a secret
DAEMON_MODULE = b"rhcli.server"


def is_daemon_process(pid: int) -> bool:
    """True when pid is alive and runs `rhcli.server` (a reused pid is not ours)."""
    try:
        with open(f"/proc/{int(pid)}/cmdline", "rb") as f:
            return DAEMON_MODULE in f.read()
    except (OSError, ValueError):
        return False


def read_state(root: str | os.PathLike[str]) -> dict[str, object] | None:
    """daemon.json under root when its daemon is alive, else None (missing, malformed or
    stale files included)."""
    try:
        with open(os.path.join(root, STATE_FILE)) as f:
            state = json.load(f)
        alive = isinstance(state, dict) and is_daemon_process(int(state["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state if alive else None


def starting_pid(root: str | os.PathLike[str]) -> int | None:
    """The pid in daemon.pid under root when it is a live daemon (one that may not serve
    yet), else None."""
    try:
        with open(os.path.join(root, PID_FILE)) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    return pid if is_daemon_process(pid) else None
