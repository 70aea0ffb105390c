"""Every process a test session started, found by a marker in its environment.

tests/conftest.py puts SESSION_ENV=<a new id> in os.environ when it is imported, so every
process the session starts inherits it: daemons, their Ray (whose agents re-parent to
init), sshds, SkyPilot's API server and executors, ssh masters. The test sshds pass it on
to their sessions with `SetEnv` (session_env), so what runs "on a host" carries it too.
Other agents' processes on a shared machine never carry this session's id, so they are
never counted, nor touched.

SPT_NOENV=1 goes with it: processes that rename themselves with setproctitle (Ray's
agents, SkyPilot's executors) otherwise overwrite the memory /proc/PID/environ reads,
and the marker with it.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

SESSION_ENV = "RHCLI_TEST_SESSION"
_CARRIED = (SESSION_ENV, "SPT_NOENV")


@dataclass(frozen=True)
class SessionProcess:
    pid: int
    command: str  # its command line, for the report

    def __str__(self) -> str:
        return f"{self.pid} {self.command}"


def session_env() -> dict[str, str]:
    """The variables that mark processes as this session's (for a test sshd's SetEnv)."""
    return {name: os.environ[name] for name in _CARRIED if os.environ.get(name)}


def session_processes(session_id: str) -> list[SessionProcess]:
    """Live processes (zombies excluded: they have ended) whose environment carries
    session_id; never this process itself."""
    needle = f"{SESSION_ENV}={session_id}".encode()
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").strip()
        except (OSError, IndexError):  # gone meanwhile, or not readable
            continue
        if state not in ("Z", "X"):
            found.append(SessionProcess(int(entry.name), command.decode(errors="replace")[:160]))
    return found


def end_leftovers(session_id: str, *, grace: float) -> list[SessionProcess]:
    """Wait up to grace seconds for the session's processes to end by themselves; SIGKILL
    those still running then, and return them (empty: nothing was left)."""
    deadline = time.monotonic() + grace
    left = session_processes(session_id)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = session_processes(session_id)
    for process in left:
        try:
            os.kill(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left
