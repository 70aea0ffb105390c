"""The processes of one rhcli root on this machine: found by a marker, and ended.

When its driver is killed (kill -9), Ray stops most of its processes but leaves a few
agents running, re-parented to init and with their command lines rewritten, so they
cannot be found by name. The daemon puts OWNER_ENV=<its root's owner marker> in its
environment before starting Ray, and every process Ray starts inherits it: leftovers are
found by it and stopped, before a new daemon starts its Ray and after a daemon stops
(by the daemon itself, or by the client that had to kill it). Rewriting the command line
("ray::DashboardAgent") can overwrite the memory /proc/PID/environ reads, so a process so
renamed is also taken as a leftover when it holds a file open for writing in this root's
Ray temp dir.

Standard library only (reads /proc): the client and the daemon both use it.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

log = logging.getLogger(__name__)

OWNER_ENV = "RHCLI_RAY_OWNER"


def sweep_leftovers(owner_marker: str, temp_dir: Path | None = None) -> int:
    """Kill every process (but this one) of this root's Ray; returns how many.

    A process is ours when its environment carries owner_marker, or when it writes to a
    file under temp_dir (this root's Ray session folder, where every Ray process writes
    its logs). The environment alone misses some: Ray's agents rewrite their process
    title, which overwrites part of the memory /proc/PID/environ reads, and the marker
    can go with it (then they outlive a killed daemon and every later sweep).
    """
    needle = f"{OWNER_ENV}={owner_marker}".encode()
    logs = str(temp_dir).rstrip(os.sep) + os.sep if temp_dir is not None else None
    me = os.getpid()
    killed = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone already, or not ours to read
            continue
        if needle in environ.split(b"\0") or (logs and _writes_under(entry, logs)):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
    if killed:
        log.info("stopped %d leftover Ray processes of this root", killed)
    return killed


def _writes_under(process: Path, prefix: str) -> bool:
    """Whether the process holds a file under prefix open for writing (a reader, such as
    someone's `tail -f` of a Ray log, is left alone)."""
    try:
        fds = list((process / "fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            if not os.readlink(fd).startswith(prefix):
                continue
            info = (process / "fdinfo" / fd.name).read_text()
        except OSError:
            continue
        flags = next((line.split()[1] for line in info.splitlines() if line[:6] == "flags:"), "0")
        if int(flags, 8) & (os.O_WRONLY | os.O_RDWR):
            return True
    return False
