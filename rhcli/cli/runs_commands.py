"""`rhcli get`, `rhcli runs`, `rhcli cancel`: runs after their call."""

from __future__ import annotations

import contextlib
import json
import pickle
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from rhcli.cli import context
from rhcli.cli.render import exit_code_for, render_outcome
from rhcli.errors import ExitCode
from rhcli.protocol import daemon_pb2 as pb
from rhcli.protocol.statuses import STATUS_NAMES

RunIdArg = Annotated[str, typer.Argument(help="a run id (printed by `run --detach`)")]
ClusterOpt = Annotated[
    str | None, typer.Option("--cluster", "-c", help="the cluster the run is on")
]


def register(app: typer.Typer) -> None:
    app.command("get", help="Wait for a run and print its result (exit code as `run`).")(get)
    app.command("runs", help="List runs: id, function, status, start, duration.")(runs)
    app.command("cancel", help="Stop a queued or running run (a no-op once it ended).")(cancel)


def _client(cluster: str | None) -> Any:
    from rhcli.clusters.base import cluster as find_cluster

    target = find_cluster(cluster or context.current.cluster, manifest=context.current.file)
    return target.client()


def get(
    run_id: RunIdArg,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="do not wait: exit 4 when the run has not ended")
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="wait at most this many seconds (exit 4 after)"),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="write the result "
            "to FILE: bytes as they are, else JSON (or the pickle when the "
            "result is not JSON)",
        ),
    ] = None,
    cluster: ClusterOpt = None,
) -> None:
    client = _client(cluster)
    outcome = client.wait(run_id, timeout=0.001 if no_wait else timeout)
    if outcome.status in (pb.QUEUED, pb.RUNNING):  # the wait ended first
        state = STATUS_NAMES[outcome.status]
        if context.current.json:
            context.emit_json({"run_id": run_id, "status": state})
        context.err(
            f"run {run_id} has not ended yet ({state}); wait with "
            f"`rhcli get {run_id}`, or stop it with `rhcli cancel {run_id}`"
        )
        raise typer.Exit(int(ExitCode.TIMED_OUT))
    from rhcli.runs import map_size

    items = map_size(client, run_id, outcome)
    if items:
        _print_map(client, run_id, items, output)
        return
    if outcome.result_size:
        outcome.result = bytes(client.read_result(run_id))
    _fill_json(outcome)
    if output is not None and exit_code_for(outcome) == ExitCode.OK:
        _write_result(output, outcome)
        if context.current.json:
            context.emit_json({"run_id": run_id, "status": "succeeded", "output": str(output)})
        return
    code = render_outcome(run_id, outcome)
    if code:
        raise typer.Exit(int(code))


def _print_map(client: Any, map_id: str, items: int, output: Path | None) -> None:
    """A map's results as `rhcli map` prints them: JSON Lines in input order, exit 5 when
    items failed. --output receives the lines, written whole or not at all."""
    from rhcli.cli.map_command import item_line, report_failures
    from rhcli.runs import map_item_outcomes

    failed: dict[int, dict[str, Any]] = {}
    lines = []
    for index, outcome in map_item_outcomes(client, map_id, items):
        if outcome.result_size:
            outcome.result = bytes(client.read_result(f"{map_id}.{index}"))
        _fill_json(outcome)
        lines.append(item_line(f"{map_id}.{index}", outcome, failed, index, False) + "\n")
    if output is None:
        sys.stdout.writelines(lines)
    else:
        tmp = output.with_name(f".{output.name}.part")
        tmp.write_text("".join(lines))
        tmp.replace(output)
    report_failures(failed, items, map_id, return_exceptions=False)


def runs(
    limit: Annotated[int, typer.Option("--limit", "-n", help="how many, newest first")] = 20,
    function: Annotated[str, typer.Option("--function", help="only this function")] = "",
    items: Annotated[bool, typer.Option("--items", help="also list map items")] = False,
    cluster: ClusterOpt = None,
) -> None:
    found = _client(cluster).list_runs(
        pb.ListRunsRequest(limit=limit, function=function, include_items=items)
    )
    if context.current.json:
        context.emit_json([_run_document(info) for info in found])
        return
    if not found:
        print("no runs")
        return
    rows = [("RUN ID", "FUNCTION", "STATUS", "STARTED", "DURATION")]
    for info in found:
        doc = _run_document(info)
        rows.append(
            (
                info.run_id,
                info.function,
                doc["status"] + _items_note(info),
                _clock(info.started_at or info.created_at),
                _seconds(doc["duration_s"]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def cancel(run_id: RunIdArg, cluster: ClusterOpt = None) -> None:
    info = _client(cluster).cancel(run_id)
    doc = _run_document(info)
    if context.current.json:
        context.emit_json(doc)
    else:
        print(f"{run_id}: {doc['status']}")


def _run_document(info: Any) -> dict[str, Any]:
    ended = info.ended_at or None
    started = info.started_at or None
    return {
        "run_id": info.run_id,
        "function": info.function,
        "status": STATUS_NAMES.get(info.status, "unknown"),
        "reason": info.reason,
        "created_at": info.created_at,
        "started_at": started,
        "ended_at": ended,
        "duration_s": round((ended or time.time()) - started, 3) if started else None,
        "items": info.items,
        "items_failed": info.items_failed,
    }


def _items_note(info: Any) -> str:
    if not info.items:
        return ""
    return f" ({info.items} items, {info.items_failed} failed)"


def _clock(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp)) if timestamp else "-"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}s"


def _fill_json(outcome: Any) -> None:
    """Render the result as JSON here when the run was not asked to (a .remote() call)."""
    if outcome.status != pb.SUCCEEDED or outcome.HasField("result_json"):
        return
    # Not importable here, or not JSON: the repr stands in.
    with contextlib.suppress(Exception):
        outcome.result_json = json.dumps(pickle.loads(outcome.result), allow_nan=False)


def _write_result(path: Path, outcome: Any) -> None:
    try:
        value = pickle.loads(outcome.result)
    except Exception:
        value = None
    if isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    elif outcome.HasField("result_json"):
        data = outcome.result_json.encode() + b"\n"
    else:
        data = outcome.result
        print(f"the result is not JSON: {path} holds its pickle", file=sys.stderr)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(data)
    tmp.replace(path)
