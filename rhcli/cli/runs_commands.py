"""`rhcli get`, `rhcli runs`, `rhcli cancel`: runs after their call."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from rhcli.cli import context, render
from rhcli.errors import ExitCode

RunIdArg = Annotated[str, typer.Argument(help="a run id (printed by `run --detach`)")]
ClusterOpt = Annotated[
    str | None, typer.Option("--cluster", "-c", help="the cluster the run is on")
]


def register(app: typer.Typer) -> None:
    app.command("get", help="Wait for a run and print its result (exit code as `run`).")(get)
    app.command("runs", help="List runs: id, function, status, start, duration.")(runs)
    app.command("cancel", help="Stop a queued or running run (a no-op once it ended).")(cancel)


def _cluster(name: str | None) -> Any:
    from rhcli.clusters.registry import cluster

    return cluster(name or context.current.cluster, manifest=context.current.file)


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
    from rhcli import runs_api as library

    target = _cluster(cluster)
    outcome = library.outcome(
        run_id, cluster=target, timeout=0.001 if no_wait else timeout, fetch=False
    )
    if not outcome.ended:  # the wait ended first
        if context.current.json:
            context.emit_json({"run_id": run_id, "status": outcome.status})
        context.err(
            f"run {run_id} has not ended yet ({outcome.status}); wait with "
            f"`rhcli get {run_id}`, or stop it with `rhcli cancel {run_id}`"
        )
        raise typer.Exit(int(ExitCode.TIMED_OUT))
    items = library.map_size(outcome, cluster=target)
    if items:
        _print_map(target, run_id, items, output)
        return
    outcome = render.with_json(outcome.fetch_result(target.client().read_result))
    if output is not None and render.exit_code_for(outcome) == ExitCode.OK:
        render.write_result(output, outcome)
        if context.current.json:
            context.emit_json({"run_id": run_id, "status": "succeeded", "output": str(output)})
        return
    code = render.render_outcome(outcome)
    if code:
        raise typer.Exit(int(code))


def _print_map(target: Any, map_id: str, items: int, output: Path | None) -> None:
    """A map's results as `rhcli map` prints them: JSON Lines in input order, exit 5 when
    items failed. --output receives the lines, written whole or not at all."""
    from rhcli.runs_api import map_item_outcomes

    failed: dict[int, dict[str, Any]] = {}
    lines = []
    for index, outcome in enumerate(map_item_outcomes(map_id, items, cluster=target, fetch=True)):
        lines.append(render.item_line(render.with_json(outcome), failed, index, False) + "\n")
    if output is None:
        sys.stdout.writelines(lines)
    else:
        tmp = output.with_name(f".{output.name}.part")
        tmp.write_text("".join(lines))
        tmp.replace(output)
    code = render.report_failures(failed, items, map_id, return_exceptions=False)
    if code:
        raise typer.Exit(int(code))


def runs(
    limit: Annotated[int, typer.Option("--limit", "-n", help="how many, newest first")] = 20,
    function: Annotated[str, typer.Option("--function", help="only this function")] = "",
    items: Annotated[bool, typer.Option("--items", help="also list map items")] = False,
    cluster: ClusterOpt = None,
) -> None:
    from rhcli.runs_api import runs as list_runs

    found = list_runs(
        cluster=_cluster(cluster), limit=limit, function=function, include_items=items
    )
    if context.current.json:
        context.emit_json([render.run_document(info) for info in found])
        return
    render.print_runs(found)


def cancel(run_id: RunIdArg, cluster: ClusterOpt = None) -> None:
    from rhcli.runs_api import cancel as cancel_run

    info = cancel_run(run_id, cluster=_cluster(cluster))
    if context.current.json:
        context.emit_json(render.run_document(info))
    else:
        print(f"{run_id}: {info.status}")
