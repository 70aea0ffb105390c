"""`rhcli get`, `rhcli runs`, `rhcli cancel`: runs after their call.

All three start nothing: a daemon that is down is an error that says how to start it
(exit 3). RUN_ID may be `last`, the newest run of the cluster.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from rhcli.cli import context, render
from rhcli.cli.help_format import examples
from rhcli.cli.options import ClusterOpt, OutputOpt, RunIdArg, at_least_one, positive_seconds
from rhcli.cli.runs_table import print_runs
from rhcli.cli.timespec import parse_since
from rhcli.errors import ExitCode

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "timed_out")


def register(app: typer.Typer) -> None:
    app.command(
        "get",
        short_help="Wait for a run and print its result (exit code as run's).",
        help="Wait for a run to end and print its outcome exactly as `run` would have: "
        "the result on stdout, or the remote traceback and an error line on stderr, with "
        "the same exit code. A map's id prints its items' results.",
        epilog=examples(
            "rhcli get last",
            "rhcli get $ID --timeout 60",
            "rhcli get $ID --no-wait; echo $?        # 4 while it runs",
            "rhcli get $ID --output image.png",
        ),
    )(get)
    app.command(
        "runs",
        short_help="List runs, newest first.",
        help="List the newest runs: id, function, status, when it started, how long it "
        "ran (so far, for a running run).",
        epilog=examples(
            "rhcli runs",
            "rhcli runs --status failed --since 1d",
            "rhcli runs --function train -n 5",
            "rhcli --json runs --status running",
        ),
    )(runs)
    app.command(
        "cancel",
        short_help="Stop a queued or running run.",
        help="Stop a queued or running run and print its status; a run that has ended is "
        "left as it is (a second cancel is a no-op).",
        epilog=examples("rhcli cancel $ID", "rhcli cancel last"),
    )(cancel)


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
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            help="wait at most SECONDS (above 0), then exit 4 (the run goes on)",
            callback=positive_seconds,
            show_default=False,
        ),
    ] = None,
    output: OutputOpt = None,
    cluster: ClusterOpt = None,
) -> None:
    from rhcli import runs_api as library

    target = _cluster(cluster)
    run_id = library.resolve_run_id(run_id, cluster=target, start=False)
    outcome = library.outcome(
        run_id, cluster=target, timeout=0.001 if no_wait else timeout, fetch=False, start=False
    )
    if not outcome.ended:  # the wait ended first
        if context.current.json:
            context.emit_json(render.outcome_document(outcome))
        context.err(
            f"run {run_id} has not ended yet ({outcome.status}); wait with "
            f"`rhcli get {run_id}`, or stop it with `rhcli cancel {run_id}`"
        )
        raise typer.Exit(int(ExitCode.TIMED_OUT))
    items = library.map_size(outcome, cluster=target, start=False)
    if items:
        _print_map(target, run_id, items, output)
        return
    outcome = render.with_json(outcome.fetch_result(target.client(start=False).read_result))
    if output is not None and outcome.succeeded:
        render.save_result(output, outcome)
        return
    code = render.render_outcome(outcome)
    if code:
        raise typer.Exit(int(code))


def _print_map(target: Any, map_id: str, items: int, output: Path | None) -> None:
    """A map's results as `rhcli map` prints them: JSON Lines in input order, exit 5 when
    items failed; with --json one document holding every item's outcome. --output
    receives the lines (or the document), written whole or not at all."""
    from rhcli.runs_api import map_item_outcomes

    failed: dict[int, dict[str, Any]] = {}
    lines = []
    documents = []
    for index, outcome in enumerate(
        map_item_outcomes(map_id, items, cluster=target, fetch=True, start=False)
    ):
        outcome = render.with_json(outcome)
        lines.append(render.item_line(outcome, failed, index, False) + "\n")
        if context.current.json:
            documents.append(render.outcome_document(outcome))
    if context.current.json:
        import json

        status = "failed" if failed else "succeeded"
        document = {
            "run_id": map_id,
            "status": status,
            "items": items,
            "items_failed": len(failed),
            "outcomes": documents,
        }
        lines = [json.dumps(document, default=str) + "\n"]
    if output is None:
        sys.stdout.writelines(lines)
        sys.stdout.flush()
    else:
        tmp = output.with_name(f".{output.name}.part")
        tmp.write_text("".join(lines))
        tmp.replace(output)
    code = render.report_failures(failed, items, map_id, return_exceptions=False)
    if code:
        raise typer.Exit(int(code))


def runs(
    limit: Annotated[
        int,
        typer.Option(
            "--limit", "-n", metavar="N", help="how many (1 or more)", callback=at_least_one
        ),
    ] = 20,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            metavar="STATUS",
            help=f"only runs with this status ({', '.join(STATUSES)}); repeatable",
            autocompletion=lambda: list(STATUSES),
            show_default=False,
        ),
    ] = None,
    function: Annotated[
        str | None,
        typer.Option(
            "--function", metavar="NAME", help="only this function's runs", show_default=False
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="WHEN",
            help="only runs made since WHEN: a duration back from now (30s, 10m, 2h, "
            "3d, 1w) or a date/time (2026-11-26, 2026-11-26T11:00)",
            show_default=False,
        ),
    ] = None,
    items: Annotated[bool, typer.Option("--items", help="also list map items")] = False,
    cluster: ClusterOpt = None,
) -> None:
    from rhcli.runs_api import runs as list_runs

    found = list_runs(
        cluster=_cluster(cluster),
        limit=limit,
        function=function or "",
        include_items=items,
        statuses=tuple(status or ()),  # type: ignore[arg-type]
        since=parse_since(since) if since else None,
        start=False,
    )
    if context.current.json:
        context.emit_json([render.run_document(info) for info in found])
        return
    print_runs(found)


def cancel(run_id: RunIdArg, cluster: ClusterOpt = None) -> None:
    from rhcli.cli import style
    from rhcli.runs_api import cancel as cancel_run
    from rhcli.runs_api import resolve_run_id

    target = _cluster(cluster)
    run_id = resolve_run_id(run_id, cluster=target, start=False)
    info = cancel_run(run_id, cluster=target, start=False)
    if context.current.json:
        context.emit_json(render.run_document(info))
    else:
        print(f"{run_id}: {style.status(info.status, sys.stdout)}")
