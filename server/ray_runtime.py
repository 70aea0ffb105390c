"""Starting and stopping the daemon's Ray, and sweeping up what Ray leaves behind.

The daemon is Ray's driver. By default it starts a private Ray instance (address "local"),
so it never attaches by accident to another Ray on the machine, with a temp dir of its own
so several daemons on one machine never share a session folder.

When its driver is killed (kill -9), Ray stops most of its processes but leaves a few
agents running, re-parented to init and with their command lines rewritten. Every process
this Ray starts inherits OWNER_ENV from the daemon, so leftovers are found by it and
stopped: before a new daemon starts its Ray, and after a daemon stops. Rewriting the command
line ("ray::DashboardAgent") can overwrite the memory /proc/PID/environ reads, so a process
so renamed is also taken as a leftover when it holds a file open in this root's Ray temp dir.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

log = logging.getLogger(__name__)

OWNER_ENV = "RHCLI_RAY_OWNER"


def start_ray(*, address: str, temp_dir: Path, owner_marker: str) -> None:
    """Initialise Ray as this process's driver (blocks for a few seconds)."""
    os.environ[OWNER_ENV] = owner_marker
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray  # the client side never imports ray; the daemon imports it here only

    temp_dir.mkdir(parents=True, exist_ok=True)
    ray.init(
        address=address,
        include_dashboard=False,
        log_to_driver=False,
        namespace="rhcli",
        _temp_dir=str(temp_dir) if address == "local" else None,
    )
    log.info("ray ready at %s: %s", address, ray.cluster_resources())


def stop_ray() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()


def sweep_leftovers(owner_marker: str, *, temp_dir: Path | None = None) -> int:
    """Kill every process (but this one) that carries owner_marker, or that is a renamed
    Ray process ("ray::...") holding a file open under temp_dir; returns how many."""
    needle = f"{OWNER_ENV}={owner_marker}".encode()
    prefix = f"{temp_dir}{os.sep}" if temp_dir is not None else None
    me = os.getpid()
    killed = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone already, or not ours to read
            continue
        if needle in environ.split(b"\0") or (prefix and _renamed_ray_process_in(entry, prefix)):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
    if killed:
        log.info("stopped %d leftover Ray processes of this root", killed)
    return killed


def _renamed_ray_process_in(proc: Path, prefix: str) -> bool:
    try:
        if not (proc / "cmdline").read_bytes().startswith(b"ray::"):
            return False
        return any(os.readlink(fd).startswith(prefix) for fd in (proc / "fd").iterdir())
    except OSError:  # gone already, or not ours to read
        return False
