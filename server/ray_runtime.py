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
from typing import Any

log = logging.getLogger(__name__)

OWNER_ENV = "RHCLI_RAY_OWNER"


def start_ray(*, address: str, temp_dir: Path, owner_marker: str) -> None:
    """Initialise Ray as this process's driver (blocks for a few seconds)."""
    os.environ[OWNER_ENV] = owner_marker
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray  # the client side never imports ray; the daemon imports it here only

    if address == "local":  # attached to a cluster, Ray uses the cluster's temp dir
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


def cluster_nodes() -> list[dict[str, Any]]:
    """Every node Ray has seen in this cluster (a lost one stays listed, not alive)."""
    import ray

    here = str(ray.get_runtime_context().get_node_id())
    nodes = []
    for node in ray.nodes():
        node_id = str(node.get("NodeID", ""))
        nodes.append(
            {
                "node_id": node_id,
                "address": str(node.get("NodeManagerAddress", "")),
                "alive": bool(node.get("Alive")),
                "head": node_id == here,
                "resources": {
                    name: float(amount)
                    for name, amount in (node.get("Resources") or {}).items()
                    if not name.startswith("node:")  # Ray's per-node marker resources
                },
            }
        )
    # Alive first, then by address: a node that came back hides its lost former self.
    return sorted(nodes, key=lambda n: (not n["alive"], n["address"]))


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
