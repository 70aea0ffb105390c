"""What the dashboard's pages show, as JSON-ready dicts built from the library's values.

Pure functions: no I/O here, so each page's content is tested without a browser.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rhcli.outcomes import Outcome
    from rhcli.runs_api import RunInfo

# A map's item grid travels as one character per item: short however many items there are.
ITEM_CODES = {
    "queued": "q",
    "running": "r",
    "succeeded": "s",
    "failed": "f",
    "cancelled": "c",
    "timed_out": "t",
}
ENDED = frozenset({"succeeded", "failed", "cancelled", "timed_out"})
# The timeline shows at most this many of the latest items (the browser draws each).
TIMELINE_SPANS = 3000
# The failed items listed by name (the grid shows them all; the count says how many).
FAILED_LISTED = 500
THROUGHPUT_BUCKETS = 120


def run_summary(info: RunInfo) -> dict[str, Any]:
    """One row of the runs page."""
    return {
        "run_id": info.run_id,
        "function": info.function,
        "status": info.status,
        "failure": info.failure,
        "reason": info.reason,
        "created_at": info.created_at,
        "started_at": info.started_at,
        "ended_at": info.ended_at,
        "duration_s": info.duration_s,
        "parent": info.parent,
        "items": info.items,
        "items_failed": info.items_failed,
        "is_map": _is_map(info),
    }


def _is_map(info: RunInfo) -> bool:
    return info.items > 0 and not info.parent


def run_detail(info: RunInfo, outcome: Outcome | None, *, cluster: str) -> dict[str, Any]:
    """The run page: the record, how it ended (once it has), and the commands for it."""
    found = run_summary(info)
    found["args_summary"] = info.args_summary
    found["worker"] = info.worker
    found["cluster"] = cluster
    found["commands"] = run_commands(info, cluster=cluster)
    if outcome is not None:
        found["worker"] = outcome.worker or info.worker
        found["result_repr"] = outcome.result_repr if outcome.succeeded else ""
        found["result_size"] = outcome.result_size
        if outcome.error is not None:
            found["error"] = {
                "type": outcome.error.type_name,
                "message": outcome.error.message,
                "traceback": outcome.error.traceback,
            }
    return found


def run_commands(info: RunInfo, *, cluster: str) -> dict[str, str]:
    """The shell commands that act on this run (quoted: ids and names are pasted)."""
    where = f" -c {shlex.quote(cluster)}"
    run_id = shlex.quote(info.run_id)
    found = {
        "get": f"rhcli{where} get {run_id}",
        "logs": f"rhcli{where} logs {run_id} -f",
    }
    if info.status in ("queued", "running"):
        found["cancel"] = f"rhcli{where} cancel {run_id}"
    if _is_map(info):
        found["resume"] = (
            f"rhcli{where} map {shlex.quote(info.function)} --input INPUT.jsonl --resume {run_id}"
        )
    return found


def log_target(run_id: str, parent: str | None) -> tuple[str, int | None]:
    """Whose log holds a run's lines: a map item's lines are in its map's log, tagged
    with the item's index; any other run has its own."""
    if parent and run_id.startswith(parent + "."):
        index = run_id[len(parent) + 1 :]
        if index.isdigit():
            return parent, int(index)
    return run_id, None


def map_state(info: RunInfo, items: list[RunInfo], *, cluster: str) -> dict[str, Any]:
    """The map page: progress, the item grid, failures, throughput and the timeline.

    items are the map's items that have ended, any order; every other index the map
    counts is running or waiting its turn ("r": the daemon records an item as running
    when it arrives, so the two are not told apart).
    """
    ended = [item for item in items if item.status in ENDED]
    by_index = {_index(item.run_id): item for item in ended}
    total = max(info.items, (max(by_index) + 1) if by_index else 0)
    grid = "".join(
        ITEM_CODES.get(by_index[i].status, "?") if i in by_index else "r" for i in range(total)
    )
    failed = sorted(
        (item for item in ended if item.status != "succeeded"), key=lambda i: _index(i.run_id)
    )
    counts: dict[str, int] = {}
    for code in grid:
        counts[code] = counts.get(code, 0) + 1
    return {
        "map": run_detail(info, None, cluster=cluster),
        "total": total,
        "done": len(ended),
        "counts": {name: counts.get(code, 0) for name, code in ITEM_CODES.items()},
        "grid": grid,
        "failed_total": len(failed),
        "failed": [
            {
                "index": _index(item.run_id),
                "run_id": item.run_id,
                "status": item.status,
                "failure": item.failure,
                "reason": item.reason,
            }
            for item in failed[:FAILED_LISTED]
        ],
        "throughput": throughput(ended),
        "timeline": timeline(ended),
    }


def _index(run_id: str) -> int:
    return int(run_id.rsplit(".", 1)[1])


def throughput(ended: list[RunInfo]) -> dict[str, list[float]]:
    """Items ended per second over time: {"t": bucket starts, "rate": items/s}."""
    times = sorted(item.ended_at for item in ended if item.ended_at is not None)
    if not times:
        return {"t": [], "rate": []}
    first, last = times[0], times[-1]
    width = max(1.0, (last - first) / THROUGHPUT_BUCKETS)
    buckets = [0] * (int((last - first) / width) + 1)
    for t in times:
        buckets[int((t - first) / width)] += 1
    return {
        "t": [first + i * width for i in range(len(buckets))],
        "rate": [round(n / width, 3) for n in buckets],
    }


def timeline(ended: list[RunInfo]) -> list[dict[str, Any]]:
    """One lane per worker ("ADDRESS:PID"), grouped by node: the latest items' spans as
    [start, end, status code, index]. Items with no worker known (ended before any ran,
    or stored by an older daemon) are left out."""
    placed = [i for i in ended if i.worker and i.started_at is not None and i.ended_at]
    placed.sort(key=lambda i: i.ended_at or 0.0)
    lanes: dict[str, list[list[Any]]] = {}
    for item in placed[-TIMELINE_SPANS:]:
        lanes.setdefault(item.worker, []).append(
            [item.started_at, item.ended_at, ITEM_CODES.get(item.status, "?"), _index(item.run_id)]
        )
    return [
        {"worker": worker, "node": worker.rsplit(":", 1)[0], "spans": spans}
        for worker, spans in sorted(lanes.items())
    ]


def node_view(node: dict[str, Any]) -> dict[str, Any]:
    """A node as the nodes page shows it (the library's record, plus shares in percent)."""
    found = dict(node)
    total = node.get("memory_total") or 0
    found["memory_percent"] = round(100.0 * node["memory_used"] / total, 1) if total else None
    for gpu in found["gpus"]:
        gpu_total = gpu.get("memory_total") or 0
        gpu["memory_percent"] = (
            round(100.0 * gpu["memory_used"] / gpu_total, 1) if gpu_total else None
        )
    return found
