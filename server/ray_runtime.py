"""Starting and stopping the daemon's Ray.

The daemon is Ray's driver. By default it starts a private Ray instance (address "local"),
so it never attaches by accident to another Ray on the machine, with a temp dir of its own
so several daemons on one machine never share a session folder. Every process this Ray
starts inherits OWNER_ENV, by which its leftovers are found and stopped
(rhcli.config.root_processes).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from rhcli.config.root_processes import OWNER_ENV

log = logging.getLogger(__name__)


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


def node_id() -> str:
    """This process's Ray node (hex)."""
    import ray

    return str(ray.get_runtime_context().get_node_id())


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
