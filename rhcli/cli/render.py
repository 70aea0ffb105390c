"""Everything the CLI prints, in one place: outcomes, map lines, run tables, status.

Results print as JSON when they are JSON, else as their repr; a failure prints the remote
traceback and one line on stderr. With --json, one document on stdout either way. Every
function here takes the library's plain values (Outcome, RunInfo, ClusterStatus).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import pickle
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rhcli.cli import context
from rhcli.errors import ExitCode
from rhcli.outcomes import Outcome
from rhcli.runs_api import RunInfo

if TYPE_CHECKING:  # `rhcli --help` imports this module: the endpoint API only when used
    from rhcli.endpoint_api import Endpoint

_FAILURE_EXIT = {
    "entrypoint_not_found": ExitCode.USAGE,
    "timeout": ExitCode.TIMED_OUT,
    "resources_unavailable": ExitCode.UNREACHABLE,
}


# --- one run's outcome ---------------------------------------------------------------------


def exit_code_for(outcome: Outcome) -> ExitCode:
    if outcome.status == "succeeded":
        return ExitCode.OK
    if outcome.status == "timed_out":
        return ExitCode.TIMED_OUT
    return _FAILURE_EXIT.get(outcome.failure, ExitCode.FUNCTION_RAISED)


def outcome_document(outcome: Outcome) -> dict[str, Any]:
    """The JSON form of an outcome (what `--json` prints)."""
    document: dict[str, Any] = {"run_id": outcome.run_id, "status": outcome.status}
    if outcome.status == "succeeded":
        document["result"] = (
            json.loads(outcome.result_json) if outcome.result_json is not None else None
        )
        document["result_repr"] = outcome.result_repr
    else:
        error = outcome.error
        document["error"] = {
            "type": (error.type_name if error else "") or outcome.failure,
            "message": (error.message if error else "") or outcome.reason,
            "reason": outcome.reason,
            "traceback": error.traceback if error else "",
        }
    if outcome.started_at:
        document["duration_s"] = round(outcome.duration_s or 0.0, 6)
    return document


def render_outcome(outcome: Outcome) -> ExitCode:
    """Print the outcome the way the global options ask; returns the exit code."""
    code = exit_code_for(outcome)
    if context.current.json:
        context.emit_json(outcome_document(outcome))
    elif outcome.status == "succeeded":
        text = outcome.result_json if outcome.result_json is not None else outcome.result_repr
        print(text, flush=True)
    if code != ExitCode.OK:
        if outcome.error is not None and outcome.error.traceback and outcome.failure == "raised":
            context.err(outcome.error.traceback.rstrip("\n"))
        context.err(f"error: run {outcome.run_id} {outcome.status}: {outcome.reason}")
    return code


def with_json(outcome: Outcome) -> Outcome:
    """The outcome with its result rendered as JSON here when the run was not asked to
    (a .remote() call): not importable here, or not JSON, and the repr stands in."""
    if outcome.status != "succeeded" or outcome.result_json is not None:
        return outcome
    with contextlib.suppress(Exception):
        rendered = json.dumps(pickle.loads(outcome.result), allow_nan=False)
        return dataclasses.replace(outcome, result_json=rendered)
    return outcome


def write_result(path: Path, outcome: Outcome) -> None:
    """Write a succeeded run's result to path, whole or not at all: bytes as they are,
    else JSON, else (not JSON) its pickle, saying so on stderr."""
    try:
        value = pickle.loads(outcome.result)
    except Exception:
        value = None
    if isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    elif outcome.result_json is not None:
        data = outcome.result_json.encode() + b"\n"
    else:
        data = outcome.result
        print(f"the result is not JSON: {path} holds its pickle", file=sys.stderr)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(data)
    tmp.replace(path)


# --- maps ---------------------------------------------------------------------------------


def item_line(
    outcome: Outcome, failed: dict[int, dict[str, Any]], index: int, return_exceptions: bool
) -> str:
    """One item's JSON line: its result, or (failed) null or its error; failures noted."""
    if outcome.status == "succeeded":
        if outcome.result_json is not None:
            return outcome.result_json
        return json.dumps({"repr": outcome.result_repr})
    document = outcome_document(outcome)
    failed[index] = document
    if return_exceptions:
        return json.dumps({"error": {k: document["error"][k] for k in ("type", "message")}})
    return "null"


def report_failures(
    failed: dict[int, dict[str, Any]], total: int, map_id: str, *, return_exceptions: bool
) -> ExitCode:
    """Name each failed item on stderr; MAP_PARTIAL unless the errors took their lines."""
    if not failed:
        return ExitCode.OK
    for index, document in sorted(failed.items()):
        error = document["error"]
        context.err(f"item {index} ({document['run_id']}): {error['type']}: {error['message']}")
    context.err(f"error: {len(failed)} of {total} items failed (map {map_id})")
    return ExitCode.OK if return_exceptions else ExitCode.MAP_PARTIAL


# --- run records ------------------------------------------------------------------------


def run_document(info: RunInfo) -> dict[str, Any]:
    duration = info.duration_s
    return {
        "run_id": info.run_id,
        "function": info.function,
        "status": info.status,
        "reason": info.reason,
        "created_at": info.created_at,
        "started_at": info.started_at,
        "ended_at": info.ended_at,
        "duration_s": round(duration, 3) if duration is not None else None,
        "items": info.items,
        "items_failed": info.items_failed,
        "items_succeeded": info.items_succeeded,
        "attempts": info.attempts,
    }


def print_runs(found: list[RunInfo]) -> None:
    if not found:
        print("no runs")
        return
    rows = [("RUN ID", "FUNCTION", "STATUS", "STARTED", "DURATION")]
    for info in found:
        duration = info.duration_s
        rows.append(
            (
                info.run_id,
                info.function,
                info.status + _items_note(info),
                _clock(info.started_at or info.created_at),
                "-" if duration is None else f"{round(duration, 3):.3f}s",
            )
        )
    _print_table(rows)


def _items_note(info: RunInfo) -> str:
    """A map's items: how many, failed, without an outcome here, and its attempts."""
    if not info.items:
        return ""
    note = f" ({info.items} items, {info.items_failed} failed"
    unsettled = info.items - info.items_failed - info.items_succeeded
    if unsettled > 0 and info.status not in ("running", "queued"):
        note += f", {unsettled} not run"
    if info.attempts > 1:
        note += f", attempt {info.attempts}"
    return note + ")"


def _clock(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp)) if timestamp else "-"


# --- HTTP endpoints ----------------------------------------------------------------------


def print_endpoint(endpoint: Endpoint) -> None:
    """A served endpoint: where it answers and how to call it (never its token)."""
    print(
        f"{endpoint.name}: {endpoint.status}, {endpoint.replicas_running}/{endpoint.wanted} "
        f"replicas on {endpoint.cluster}\n"
        f"  url        {endpoint.url}"
        + (f"\n  public url {endpoint.public_url}" if endpoint.public_url else "")
        + "\n  call it    curl -H \"Authorization: Bearer $TOKEN\" -d '{...}' "
        f"{endpoint.url}\n"
        f"  token      rhcli -c {endpoint.cluster} --json endpoints --show-token",
        flush=True,
    )


def print_endpoints(found: list[Endpoint]) -> None:
    if not found:
        print("no endpoints")
        return
    rows = [("NAME", "ROUTE", "REPLICAS", "STATUS", "URL")]
    for e in found:
        url = e.url + (f"  (public: {e.public_url})" if e.public_url else "")
        rows.append((e.name, e.route, f"{e.replicas_running}/{e.wanted}", e.status, url))
    _print_table(rows)
    for e in found:
        if e.message and e.status != "running":
            print(f"{e.name}: {e.message}")


def _print_table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


# --- clusters ----------------------------------------------------------------------------


def print_status(state: Any) -> None:
    if context.current.json:
        context.emit_json(dataclasses.asdict(state))
        return
    if not state.up:
        print(
            f"{state.name} ({state.type}): down - no daemon running (root {state.home}); "
            f"start it with `rhcli up {state.name}`"
        )
        return
    resources = state.resources
    lines = [
        f"{state.name} ({state.type}): up",
        f"  daemon     rhcli {state.version}, pid {state.pid}, up {_duration(state.uptime_s)}",
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
        lines += node_lines(node)
    print("\n".join(lines))


def node_lines(node: dict[str, Any]) -> list[str]:
    """A node of `rhcli status`: its Ray resources, what it uses now, each GPU."""
    res = node["resources"]
    lines = [
        f"  node       {node['address']:<15} {'alive' if node['alive'] else 'LOST':<5} "
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


def print_dashboard_started(started: Any) -> None:
    """The address to open (with its token: this is the user's own terminal)."""
    if context.current.json:
        context.emit_json({"cluster": started.cluster, "url": started.url, "port": started.port})
        return
    print(f"Dashboard for {started.cluster}: {started.url}   (Ctrl-C to stop)", flush=True)


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


def _duration(seconds: float) -> str:
    return (
        time.strftime("%H:%M:%S", time.gmtime(seconds))
        if seconds < 86400
        else (f"{seconds / 86400:.1f} days")
    )
