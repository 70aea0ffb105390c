"""`rhcli logs RUN_ID [-f]`: a run's output, whole or followed until the run ends."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from rhcli.cli import context
from rhcli.cli.render import exit_code_for
from rhcli.errors import ExitCode


def register(app: typer.Typer) -> None:
    app.command(
        "logs",
        help="Print a run's output (stdout lines on stdout, stderr lines "
        "on stderr). With -f, follow it until the run ends, then exit with the "
        "code its outcome maps to (0, 1, 4, ...).",
    )(logs)


def logs(
    run_id: Annotated[str, typer.Argument(help="a run id")],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="follow until the run ends")
    ] = False,
    item: Annotated[int | None, typer.Option("--item", help="only this map item's lines")] = None,
    cluster: Annotated[
        str | None, typer.Option("--cluster", "-c", help="the cluster the run is on")
    ] = None,
) -> None:
    from rhcli.clusters.registry import cluster as find_cluster
    from rhcli.log_follower import LogPrinter, print_log
    from rhcli.runs_api import outcome

    target = find_cluster(cluster or context.current.cluster, manifest=context.current.file)
    printer = (
        LogPrinter(out=sys.stdout, err=sys.stdout, as_json=True)
        if context.current.json
        else LogPrinter(out=sys.stdout, err=sys.stderr)
    )
    try:
        print_log(run_id, cluster=target, printer=printer, follow=follow, item=item)
    except KeyboardInterrupt:
        context.detached(run_id)
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    if follow:
        code = exit_code_for(outcome(run_id, cluster=target, fetch=False))
        if code:
            raise typer.Exit(int(code))
