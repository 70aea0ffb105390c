"""How the cluster commands print: a cluster's status (each node's use and GPUs included),
SkyPilot's view of it, a sync.

JSON documents of the cluster commands all name the cluster `cluster` (status included),
and a daemon that is down has null for everything only a daemon could say.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from typing import Any

from rhcli.cli import context, style
from rhcli.cli.render import seconds

# What only a running daemon can tell: null in the document of a cluster that is down.
_DAEMON_FIELDS = (
    "address",
    "version",
    "pid",
    "uptime_s",
    "python",
    "resources",
    "available",
    "runs_running",
    "runs_queued",
    "queue_depths",
    "workers",
    "nodes",
)


def status_document(state: Any) -> dict[str, Any]:
    """A ClusterStatus as JSON: `cluster`, `type`, `up`, `reason` (why it is down, or
    null), `home`, then the daemon's fields (null when it is down)."""
    fields = asdict(state)
    document: dict[str, Any] = {
        "cluster": fields.pop("name"),
        "type": fields.pop("type"),
        "up": fields.pop("up"),
        "reason": fields.pop("reason") or None,
        "home": fields.pop("home") or None,
    }
    for name in _DAEMON_FIELDS:
        value = fields.pop(name)
        document[name] = value if state.up else None
    if state.up:
        document["uptime_s"] = seconds(state.uptime_s)
    document.update(fields)  # a field added to ClusterStatus later is not lost
    return document


def down_reason(state: Any) -> str:
    """Why a cluster is down, and how to start it."""
    reason = state.reason or f"no daemon running (root {state.home})"
    return reason if "`" in reason else f"{reason}; start it with `rhcli up {state.name}`"


def print_status(state: Any) -> None:
    if context.current.json:
        context.emit_json(status_document(state))
        return
    out = sys.stdout
    if not state.up:
        down = style.paint("down", style.DOWN, out)
        print(f"{state.name} ({state.type}): {down} - {down_reason(state)}")
        return
    resources = state.resources
    lines = [
        f"{state.name} ({state.type}): {style.paint('up', style.UP, out)}",
        f"  daemon     rhcli {state.version}, pid {state.pid}, up {_clock(state.uptime_s)}",
        f"  address    {state.address}",
        f"  root       {state.home}",
        f"  python     {state.python}",
        f"  ray        CPU {_amount(resources, 'CPU')} "
        f"(free {_amount(state.available, 'CPU')}), GPU {_amount(resources, 'GPU')} "
        f"(free {_amount(state.available, 'GPU')}), memory "
        f"{resources.get('memory', 0) / 2**30:.1f} GiB",
        f"  runs       {state.runs_running} running, {state.runs_queued} queued; "
        f"{state.workers} warm workers",
    ]
    lines += [f"  queue      {name}: {depth}" for name, depth in sorted(state.queue_depths.items())]
    for node in state.nodes:
        lines += node_lines(node, out)
    print("\n".join(lines))


def node_lines(node: dict[str, Any], out: Any) -> list[str]:
    """A node of `rhcli status`: its Ray resources, what it uses now, each GPU."""
    res = node["resources"]
    alive = (
        style.paint("alive", style.UP, out)
        if node["alive"]
        else style.paint("LOST", style.DOWN, out) + " "
    )
    lines = [
        f"  node       {node['address']:<15} {alive} "
        f"CPU {_amount(res, 'CPU')}, GPU {_amount(res, 'GPU')}, memory "
        f"{res.get('memory', 0) / 2**30:.1f} GiB{' (head)' if node['head'] else ''}"
    ]
    use = []
    if node.get("cpu_percent") is not None:
        use.append(f"CPU {node['cpu_percent']:.0f}%")
    if node.get("memory_total"):
        use.append(f"memory {_gib(node['memory_used'])} of {_gib(node['memory_total'])} GiB")
    if node.get("runs"):
        use.append(f"{len(node['runs'])} running")
    if use:
        lines.append(f"    in use   {', '.join(use)}")
    for gpu in node.get("gpus", []):
        lines.append(
            f"    gpu {gpu['index']:<4} {gpu['name']}: {gpu['utilization']:.0f}% busy, memory "
            f"{_gib(gpu['memory_used'])} of {_gib(gpu['memory_total'])} GiB"
        )
    if node.get("usage_error"):
        lines.append(f"    figures  {node['usage_error']}")
    return lines


def _gib(size: int) -> str:
    return f"{size / 2**30:.1f}"


def print_sky_view(record: Any) -> None:
    """SkyPilot's side of a sky cluster, under the daemon's."""
    if record is None:
        print("  skypilot   no such cluster (launch it with `rhcli up`)")
        return
    autostop = (
        "off"
        if record.autostop_mins is None
        else f"{'down' if record.to_down else 'stop'} after {record.autostop_mins} idle min"
    )
    cost = f", ${record.cost_per_hour:.2f}/h" if record.cost_per_hour is not None else ""
    print(
        f"  skypilot   {record.status}, {record.resources or '?'}, autostop {autostop}{cost}"
        + (f"\n  head       {record.ssh_user}@{record.head_ip}" if record.head_ip else "")
    )


def print_sync(name: str, result: Any, *, dry_run: bool) -> None:
    verb = "would send" if dry_run else "sent"
    for path, size in result.transferred:
        print(f"{size:>12,}  {path}")
    for path in result.deleted:
        print(f"{'deleted':>12}  {path}")
    print(
        f"{name}: {verb} {len(result.transferred)} files "
        f"({result.transferred_bytes:,} bytes), {len(result.deleted)} deleted"
    )


def _amount(resources: dict[str, float], name: str) -> str:
    return f"{resources.get(name, 0.0):g}"


def _clock(seconds_up: float) -> str:
    return (
        time.strftime("%H:%M:%S", time.gmtime(seconds_up))
        if seconds_up < 86400
        else (f"{seconds_up / 86400:.1f} days")
    )
