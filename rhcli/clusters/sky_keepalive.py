"""Keep an on-demand cluster from autostopping while its daemon has runs in flight.

Runs on the head node, beside the daemon (``python -m rhcli.clusters.sky_keepalive ROOT POLL_S --
CMD...``, started detached by rhcli.clusters.sky after each connect). One per root, holding
`keepalive.lock`: a second one for the same daemon exits at once, so starting it is
idempotent; one for a restarted daemon waits for the old one to let go.

Why it is needed: SkyPilot 0.14's skylet checks once a minute whether the cluster is idle,
meaning no pending or running job in *SkyPilot's* job queue and (with the default
`wait_for: jobs_and_ssh`) no SSH session holding a terminal. rhcli's runs are neither: its
calls travel over a tunnel without a terminal, and a detached run has no client at all.
So while the daemon reports runs running or queued, every POLL_S seconds this process
has CMD (the launcher's, one long-lived process fed a line per reset) reset SkyPilot's
idle timer: on SkyPilot, the skylet's own ``autostop_lib.set_last_active_time_to_now()``,
run by SkyPilot's runtime venv on the head node.
The idle minutes of `autostop_mins` then count from the end of the last run, whoever
started it. The process ends when the daemon it watched is gone.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

from rhcli.config.daemon_state import read_state
from rhcli.config.paths import DaemonPaths
from rhcli.config.token_file import read_token


def _daemon(root: Path) -> dict[str, object] | None:
    """daemon.json when its pid is a live rhcli daemon, else None."""
    return read_state(root)


def runs_in_flight(root: Path, port: int) -> int:
    """Runs running plus queued, as the daemon's Health reports them."""
    from rhcli.transport.grpc_client import DaemonClient

    client = DaemonClient(
        address=f"127.0.0.1:{port}",
        token=read_token(DaemonPaths(root).token),
        describe="the daemon (keep-alive)",
        restart_hint="",
    )
    try:
        health = client.health()
        return int(health.runs_running) + int(health.runs_queued)
    finally:
        client.close()


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print(
            "usage: python -m rhcli.clusters.sky_keepalive ROOT POLL_S -- CMD [ARGS...]",
            file=sys.stderr,
        )
        return 2
    root = Path(argv[0]).expanduser()
    poll_s = float(argv[1])
    command = [os.path.expanduser(argv[3]), *argv[4:]]
    first = _daemon(root)
    if first is None or not _take_over(root, first, poll_s):
        return 0
    # Started now, not at the first busy poll: importing the skylet takes seconds, and the
    # first reset should not wait for that.
    bumper = _start(command) if first is not None else None
    while first is not None:
        state = _daemon(root)
        if state is None or state.get("pid") != first.get("pid"):
            if bumper is not None:
                bumper.kill()
            return 0  # the daemon it watched has stopped
        try:
            busy = runs_in_flight(root, int(str(state["port"])))
        except Exception as exc:  # a daemon stopping now: check again
            print(f"keep-alive: daemon not answering: {exc}", file=sys.stderr, flush=True)
            busy = 0
        if busy:
            bumper = _bump(bumper, command)
        time.sleep(poll_s)
    return 0


_held: list[object] = []  # the lock file, open for the process's life


def _take_over(root: Path, daemon: dict[str, object], poll_s: float) -> bool:
    """Become the one keep-alive of root, for this daemon. False when another one already
    watches this daemon. One still watching a daemon that was restarted lets go within
    a poll (it sees the pid change), so wait for it rather than leave the new daemon
    unwatched."""
    lock = open(root / "keepalive.lock", "a+")
    watched = root / "keepalive.watch"
    deadline = time.monotonic() + 3 * poll_s + 5
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            try:
                if watched.read_text().strip() == str(daemon.get("pid")):
                    lock.close()
                    return False
            except OSError:
                pass
            if time.monotonic() > deadline:
                lock.close()
                return False
            time.sleep(0.2)
    watched.write_text(str(daemon.get("pid")))
    _held.append(lock)
    return True


def _start(command: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _bump(bumper: subprocess.Popen[str] | None, command: list[str]) -> subprocess.Popen[str]:
    """Send one line to the long-lived timer-reset command (starting it when it is not
    running) and wait for its "ok"; failures go to the keep-alive's log."""
    if bumper is None or bumper.poll() is not None:
        bumper = _start(command)
    assert bumper.stdin is not None and bumper.stdout is not None
    try:
        bumper.stdin.write("\n")
        bumper.stdin.flush()
        answer = bumper.stdout.readline().strip()
    except OSError as exc:
        answer = str(exc)
    if answer != "ok":
        print(f"keep-alive: {command[0]} did not reset the timer: {answer!r}", file=sys.stderr)
    return bumper


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
