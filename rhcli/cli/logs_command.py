"""`rhcli logs RUN_ID [-f]`: a run's output, whole or followed until the run ends; with
`--endpoint NAME` instead, what an HTTP endpoint's replicas print.

Starts nothing: a daemon that is down is an error saying how to start it. With -f, the
log is followed to the run's end, then the run's outcome is told on stderr (why, for a
run that failed, timed out or was cancelled) and the exit code is the outcome's.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from rhcli.cli import context, style
from rhcli.cli.help_format import examples
from rhcli.cli.options import ClusterOpt, OptionalRunIdArg
from rhcli.cli.render import exit_code_for, outcome_document, report_failure
from rhcli.cli.timespec import duration, parse_since
from rhcli.errors import ExitCode


def register(app: typer.Typer) -> None:
    app.command(
        "logs",
        short_help="Print a run's output; -f follows it to its end.",
        help="Print a run's output: its stdout lines on stdout, its stderr lines on "
        "stderr. With -f, follow it until the run ends, then tell its outcome on stderr "
        "and exit with the code it maps to (0, 1, 4, ...). With --endpoint NAME instead "
        "of a run id: what an HTTP endpoint's replicas print (-f: until it is unserved).",
        epilog=examples(
            "rhcli logs -f last",
            "rhcli logs $ID --tail 20",
            "rhcli logs $ID --since 5m --timestamps",
            "rhcli logs $MAP_ID --item 3",
            "rhcli --json logs $ID | jq -r .text",
            "rhcli logs --endpoint sq -f",
        ),
    )(logs)


def logs(
    run_id: OptionalRunIdArg = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="follow until the run ends")
    ] = False,
    tail: Annotated[
        int | None,
        typer.Option(
            "--tail",
            "-n",
            metavar="N",
            help="only the last N lines written so far (with -f, then every new one)",
            show_default=False,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="WHEN",
            help="only lines written since WHEN: a duration back from now (30s, 10m, 2h) "
            "or a date/time (2026-11-26T11:00)",
            show_default=False,
        ),
    ] = None,
    timestamps: Annotated[
        bool, typer.Option("--timestamps", "-t", help="put each line's time (UTC) in front")
    ] = False,
    item: Annotated[
        int | None,
        typer.Option("--item", metavar="N", help="only map item N's lines", show_default=False),
    ] = None,
    cluster: ClusterOpt = None,
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint", metavar="NAME", help="an HTTP endpoint's output instead of a run's"
        ),
    ] = None,
) -> None:
    from rhcli.clusters.registry import cluster as find_cluster
    from rhcli.errors import UsageError
    from rhcli.log_follower import LogPrinter, print_log
    from rhcli.runs_api import outcome, resolve_run_id

    if (run_id is None) == (endpoint is None):
        raise UsageError("give a RUN_ID or --endpoint NAME (one of the two)")
    if tail is not None and tail < 0:
        raise typer.BadParameter(f"{tail} is not 0 or more", param_hint="'--tail'")
    if item is not None and item < 0:
        raise typer.BadParameter(f"{item} is not 0 or more", param_hint="'--item'")
    since_t = parse_since(since) if since else None
    target = find_cluster(cluster or context.current.cluster, manifest=context.current.file)
    printer = (
        LogPrinter(out=sys.stdout, err=sys.stdout, as_json=True)
        if context.current.json
        else LogPrinter(out=sys.stdout, err=sys.stderr, timestamps=timestamps)
    )
    if endpoint is not None:
        _endpoint_logs(endpoint, target, printer, follow)
        return
    assert run_id is not None
    run_id = resolve_run_id(run_id, cluster=target, start=False)
    try:
        print_log(
            run_id,
            cluster=target,
            printer=printer,
            follow=follow,
            item=item,
            tail=tail,
            since=since_t,
            start=False,
        )
    except KeyboardInterrupt:
        context.detached(run_id)
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    if not follow:
        return
    ended = outcome(run_id, cluster=target, fetch=False, start=False)
    code = exit_code_for(ended)
    if context.current.json:
        # The last line of the stream: how the run ended (its result aside: `rhcli get`).
        document = outcome_document(ended)
        context.emit_json(
            {
                "end": True,
                "run_id": run_id,
                "status": ended.status,
                "error": document["error"],
                "duration_s": document["duration_s"],
                "exit_code": int(code),
            }
        )
    elif code == ExitCode.OK:
        took = f" in {duration(ended.duration_s)}" if ended.duration_s is not None else ""
        context.err(f"run {run_id} {style.status('succeeded', sys.stderr)}{took}")
    else:
        report_failure(ended)
    if code:
        raise typer.Exit(int(code))


def _endpoint_logs(name: str, target: Any, printer: Any, follow: bool) -> None:
    from rhcli.endpoint_api import print_endpoint_log

    try:
        print_endpoint_log(name, cluster=target, printer=printer, follow=follow)
    except KeyboardInterrupt:
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
