"""Finding, starting and stopping the daemon of this machine (the local cluster).

The daemon runs detached (its own session), so it outlives the client that started it.
A client finds it through daemon.json under the root; a pid file or daemon.json whose
process is gone (or is some other program now) is stale and ignored. Starting is guarded by
a file lock, so two clients starting at once end up with one daemon.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rhcli.config import daemon_state
from rhcli.config.daemon_settings import daemon_settings
from rhcli.config.daemon_state import is_daemon_process
from rhcli.config.paths import DaemonPaths
from rhcli.config.root_processes import sweep_leftovers
from rhcli.config.token_file import InsecureTokenFileError, read_token
from rhcli.errors import (
    DaemonNotRunningError,
    DaemonStartError,
    UnreachableError,
    UsageError,
)

START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class DaemonState:
    """What daemon.json says about a live daemon."""

    pid: int
    port: int
    version: str
    started_at: float

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


class LocalDaemon:
    """The daemon under one root on this machine."""

    def __init__(self, root: Path) -> None:
        self.paths = DaemonPaths(root)

    def state(self) -> DaemonState | None:
        """The live daemon's state, or None when none runs (stale files are ignored)."""
        raw = daemon_state.read_state(self.paths.root)
        if raw is None:
            return None
        try:
            return DaemonState(
                pid=int(raw["pid"]),  # type: ignore[call-overload]
                port=int(raw["port"]),  # type: ignore[call-overload]
                version=str(raw["version"]),
                started_at=float(raw["started_at"]),  # type: ignore[arg-type]
            )
        except (KeyError, TypeError, ValueError):
            return None

    def starting_pid(self) -> int | None:
        """The pid of a daemon that has started but does not serve yet, if any."""
        return daemon_state.starting_pid(self.paths.root)

    def start(self, *, on_wait: str | None = None) -> DaemonState:
        """Start the daemon unless one runs; blocks until it serves. Idempotent.

        Raises DaemonStartError (with the tail of the daemon's log) when it exits or does
        not serve within START_TIMEOUT_S.
        """
        daemon_settings()  # a malformed RHCLI_* setting: UsageError here, not a failed start
        with self._start_lock():
            state = self.state()
            if state is not None:
                return state
            pid = self.starting_pid()
            proc = None
            if pid is None:
                if on_wait:
                    print(on_wait, file=sys.stderr, flush=True)
                proc = self._spawn()
                pid = proc.pid
            return self._wait_until_serving(pid, proc)

    def stop(self, *, timeout: float = STOP_TIMEOUT_S) -> bool:
        """Stop the daemon (SIGTERM, then SIGKILL after timeout); False if none ran."""
        pid = self.starting_pid()
        state = self.state()
        if state is not None:
            pid = state.pid
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not is_daemon_process(pid):
                return True
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        sweep_leftovers(self.paths.owner_marker, self.paths.ray_temp_dir)
        return True

    def read_token(self) -> str:
        try:
            return read_token(self.paths.token)
        except FileNotFoundError:
            raise DaemonNotRunningError(
                f"no token at {self.paths.token}: the daemon is not running; "
                "start it with `rhcli up local`"
            ) from None
        except InsecureTokenFileError as exc:
            raise UnreachableError(str(exc)) from None

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ, RHCLI_HOME=str(self.paths.root))
        with _private_file(self.paths.log, "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "rhcli.server", "--home", str(self.paths.root)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                # Its own root, not the caller's folder: a long-lived process should not
                # pin that folder, nor import from it (a `rhcli/` folder there would
                # shadow the installed package in the daemon and its Ray workers).
                cwd=self.paths.root,
                start_new_session=True,
                close_fds=True,
            )

    def _wait_until_serving(self, pid: int, proc: subprocess.Popen[bytes] | None) -> DaemonState:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            state = self.state()
            if state is not None and state.pid == pid:
                return state
            exited = proc.poll() is not None if proc is not None else not is_daemon_process(pid)
            if exited:
                raise DaemonStartError(
                    f"the rhcli daemon exited while starting; its log ({self.paths.log}) "
                    f"ends with:\n{self._log_tail()}"
                )
            time.sleep(0.05)
        raise DaemonStartError(
            f"the rhcli daemon (pid {pid}) did not start serving within "
            f"{START_TIMEOUT_S:.0f} s; see {self.paths.log}:\n{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 15) -> str:
        try:
            text = self.paths.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    @contextlib.contextmanager
    def _start_lock(self) -> Iterator[None]:
        """Holds the root's start lock (creating the root); a root that cannot be made or
        written (an unwritable or missing HOME in a CI step) is a UsageError naming it."""
        root = self.paths.root
        try:
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle = _private_file(self.paths.start_lock, "a")
        except OSError as exc:
            raise UsageError(
                f"cannot use {root} as rhcli's root ({exc.strerror or exc}); point "
                "RHCLI_HOME at a folder this user can write (nothing was started)"
            ) from None
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _private_file(path: Path, mode: str) -> IO[Any]:
    """Open path for appending, creating it readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    return os.fdopen(fd, mode)
