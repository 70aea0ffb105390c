"""One node's share of a multi-node cluster: `python -m rhcli.server.node start|stop|state`.

Run over SSH on every node by the client (rhcli.clusters.multinode), from the node's venv:

    start --root R --ip IP --head [--port P]     Ray's head, listening on IP (not loopback)
    start --root R --ip IP --address HEAD:PORT   join the head's Ray as a worker node
    stop --root R                                stop this node's Ray (every process of it)
    state --root R                               print {"running": bool, ...} as JSON

Ray's token authentication is always on, whatever RAY_AUTH_MODE says in the node's
environment: the token is in R/ray_token (mode 0600, written there over SSH by the client)
and Ray reads it through RAY_AUTH_TOKEN_PATH, so it is never on a command line nor in this
program's output (rhcli.server.ray_runtime.apply_ray_env). The node's Ray gets a temp
dir and an owner marker of its own (not the daemon's), so a daemon restart on the head,
which sweeps the daemon's own Ray leftovers, never touches the cluster's Ray;
RHCLI_NODE_ROOT tells the node's workers where their copy of the code is (see
worker.node_path).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from rhcli.config.paths import RAY_TOKEN_FILE
from rhcli.config.root_processes import OWNER_ENV, sweep_leftovers
from rhcli.server.ray_runtime import RayAuthError, apply_ray_env, check_ray_version

STATE_FILE = "ray_node.json"


def node_marker(root: Path) -> str:
    return "node-" + hashlib.sha256(str(root).encode()).hexdigest()[:16]


def node_temp_dir(root: Path) -> Path:
    """Short and under /tmp: Ray's unix socket paths must stay under ~107 bytes."""
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:10]
    return Path("/tmp") / f"rhcli-rayn-{digest}"  # noqa: S108 - a private, per-root name


def start(root: Path, ip: str, *, head: bool, port: int, address: str) -> dict[str, object]:
    token = root / RAY_TOKEN_FILE
    if not token.is_file() or token.stat().st_mode & 0o077:
        raise SystemExit(f"{token} is missing or readable by others; run `rhcli up` again")
    try:
        check_ray_version(metadata.version("ray"))
    except RayAuthError as exc:
        raise SystemExit(str(exc)) from None
    if state(root)["running"]:
        stop(root)  # a half-dead or stale Ray of this root: start clean
    env = dict(os.environ)
    apply_ray_env(env, token)
    env.update(
        {OWNER_ENV: node_marker(root), "RHCLI_NODE_ROOT": str(root), "RHCLI_HOME": str(root)}
    )
    command = [
        sys.executable,
        "-m",
        "ray.scripts.scripts",
        "start",
        f"--node-ip-address={ip}",
        f"--temp-dir={node_temp_dir(root)}",
        "--disable-usage-stats",
    ]
    if head:
        # Notice a lost node in about 5 s (Ray's default is several times that), so a
        # map's retries soon go to the nodes that are left.
        env.setdefault("RAY_health_check_period_ms", "1000")
        env.setdefault("RAY_health_check_failure_threshold", "5")
        port = port or _free_port(ip)
        command += ["--head", f"--port={port}", "--include-dashboard=false"]
        address = f"{ip}:{port}"
    else:
        command += [f"--address={address}"]
    done = subprocess.run(
        command, env=env, cwd=root, capture_output=True, text=True, timeout=180, check=False
    )
    if done.returncode != 0:
        stop(root)
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise SystemExit(f"`ray start` on {ip} failed (exit {done.returncode}):\n{tail}")
    found = {"address": address, "ip": ip, "head": head}
    (root / STATE_FILE).write_text(json.dumps(found))
    return found


def stop(root: Path) -> int:
    """Kill every process of this node's Ray; returns how many."""
    killed = sweep_leftovers(node_marker(root), node_temp_dir(root))
    (root / STATE_FILE).unlink(missing_ok=True)
    return killed


def state(root: Path) -> dict[str, object]:
    """Whether this node's Ray runs (its raylet is alive), and what it was started as."""
    needle = f"{OWNER_ENV}={node_marker(root)}".encode()
    running = False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in environ and b"raylet" in cmdline.split(b"\0")[0]:
            running = True
            break
    try:
        found = json.loads((root / STATE_FILE).read_text())
    except (OSError, ValueError):
        found = {}
    return {**found, "running": running}


def _free_port(ip: str) -> int:
    with socket.socket() as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rhcli.server.node")
    parser.add_argument("action", choices=("start", "stop", "state"))
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--ip", default="")
    parser.add_argument("--head", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--address", default="")
    args = parser.parse_args(argv)
    root = args.root.expanduser().resolve()
    os.umask(0o077)
    if args.action == "start":
        found = start(root, args.ip, head=args.head, port=args.port, address=args.address)
        print(json.dumps(found))
    elif args.action == "stop":
        print(json.dumps({"stopped": stop(root)}))
    else:
        print(json.dumps(state(root)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
