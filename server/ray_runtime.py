"""Starting and stopping the daemon's Ray.

The daemon is Ray's driver. By default it starts a private Ray instance (address "local"),
so it never attaches by accident to another Ray on the machine, with a temp dir of its own
so several daemons on one machine never share a session folder. Every process this Ray
starts inherits OWNER_ENV, by which its leftovers are found and stopped
(rhcli.config.root_processes).

Ray's own ports (GCS, raylet, object manager, workers) listen on the node's address, not
on loopback, so every Ray rhcli starts runs with token authentication on, whatever the
environment says: `RAY_AUTH_MODE=disabled` or a `RAY_AUTH_TOKEN` in the user's
environment would otherwise turn it off or swap the token. The token is the root's
`ray_token` file (mode 0600): made anew at each start of a private Ray, put there by the
client on every node of a multi-node cluster. `ray_env` is what every process of that
Ray (the daemon, `ray start` on a node) gets.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from rhcli.config.root_processes import OWNER_ENV
from rhcli.config.token_file import InsecureTokenFileError, check_token_file, create_token

log = logging.getLogger(__name__)

# Token auth came in Ray 2.52; 2.59 checks it on every port (Serve replicas' own gRPC
# port included) and is the first to turn it on by default for local clusters. setup.cfg
# requires it; this refuses an older Ray found at run time (a venv changed by hand).
MIN_RAY_VERSION = (2, 59)


class RayAuthError(RuntimeError):
    """Ray cannot be started with token authentication; the message says what to do."""


def ray_env(token_path: Path) -> dict[str, str]:
    """The variables every process of an rhcli Ray gets: token auth with the token at
    token_path, no usage stats, and SPT_NOENV, so that Ray's processes renaming
    themselves (setproctitle) leave /proc/PID/environ readable and the owner marker of
    rhcli.config.root_processes finds every one of them.

    RAY_AUTH_TOKEN is dropped by apply_ray_env: Ray prefers it to the file, so a token in
    the user's environment would replace the cluster's."""
    return {
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(token_path),
        "RAY_USAGE_STATS_ENABLED": "0",
        "SPT_NOENV": "1",
    }


def apply_ray_env(env: MutableMapping[str, str], token_path: Path) -> None:
    """Put ray_env(token_path) into env (os.environ, or a child's environment)."""
    env.pop("RAY_AUTH_TOKEN", None)
    env.update(ray_env(token_path))


def check_ray_version(version: str) -> None:
    """Raise RayAuthError when this Ray is older than MIN_RAY_VERSION."""
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if parts < MIN_RAY_VERSION:
        wanted = ".".join(map(str, MIN_RAY_VERSION))
        raise RayAuthError(
            f"Ray {version} is installed, rhcli needs Ray {wanted} or newer (token "
            f"authentication on every Ray port): pip install 'ray[default]>={wanted}'"
        )


def prepare_token(token_path: Path, *, new: bool) -> None:
    """A fresh token for a private Ray (new), else check the one the client put there."""
    if new:
        create_token(token_path)
        return
    try:
        check_token_file(token_path)
    except FileNotFoundError:
        raise RayAuthError(
            f"no Ray token at {token_path}: the cluster's Ray cannot be joined without it; "
            "run `rhcli up` for this cluster again"
        ) from None
    except InsecureTokenFileError as exc:
        raise RayAuthError(str(exc)) from None


def start_ray(*, address: str, temp_dir: Path, owner_marker: str, token_path: Path) -> None:
    """Initialise Ray as this process's driver, with token authentication (blocks for a
    few seconds). Raises RayAuthError for a Ray too old or a missing or loose token."""
    os.environ[OWNER_ENV] = owner_marker
    prepare_token(token_path, new=address == "local")
    apply_ray_env(os.environ, token_path)
    import ray  # the client side never imports ray; the daemon imports it here only

    check_ray_version(ray.__version__)

    if address == "local":  # attached to a cluster, Ray uses the cluster's temp dir
        temp_dir.mkdir(parents=True, exist_ok=True)
        prune_sessions(temp_dir)
    ray.init(
        address=address,
        include_dashboard=False,
        log_to_driver=False,
        namespace="rhcli",
        _temp_dir=str(temp_dir) if address == "local" else None,
    )
    log.info("ray ready at %s: %s", address, ray.cluster_resources())


def prune_sessions(temp_dir: Path, keep: int = 1) -> list[Path]:
    """Remove this root's old Ray session folders (logs, sockets), all but the newest
    `keep`; returns the removed ones. Each start of a private Ray makes a new session
    folder under /tmp and Ray never removes one, so a root started daily would fill /tmp;
    the newest is kept for a look at how the last daemon ended. Call only while no
    process of this root's Ray runs (after the leftover sweep, before ray.init)."""
    sessions = sorted(
        (
            entry
            for entry in temp_dir.glob("session_2*")
            if entry.is_dir() and not entry.is_symlink()
        ),
        key=lambda entry: entry.stat().st_mtime,
    )
    removed = sessions[: max(0, len(sessions) - keep)]
    for old in removed:
        shutil.rmtree(old, ignore_errors=True)  # a file left is retried at the next start
    if removed:
        log.info("removed %d old Ray session folders of this root", len(removed))
    return removed


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
