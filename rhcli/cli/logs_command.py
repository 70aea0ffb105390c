"""`rhcli logs RUN_ID [-f]`: a run's output, whole or followed until the run ends."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from rhcli.cli import context
from rhcli.cli.render import exit_code_for
from rhcli.errors import ExitCode


def register(app: typer.Typer) -> None:
    app.command(
        "logs",
        help="Print a run's output (stdout lines on stdout, stderr lines "
        "on stderr). With -f, follow it until the run ends, then exit with the "
        "code its outcome maps to (0, 1, 4, ...). With --endpoint NAME instead of a "
        "run id: what an HTTP endpoint's replicas print (-f: until it is unserved).",
    )(logs)


def logs(
    run_id: Annotated[str | None, typer.Argument(help="a run id")] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="follow until the run ends")
    ] = False,
    item: Annotated[int | None, typer.Option("--item", help="only this map item's lines")] = None,
    cluster: Annotated[
        str | None, typer.Option("--cluster", "-c", help="the cluster the run is on")
    ] = None,
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", help="an HTTP endpoint's output instead")
    ] = None,
) -> None:
    from rhcli.clusters.registry import cluster as find_cluster
    from rhcli.errors import UsageError
    from rhcli.log_follower import LogPrinter, print_log
    from rhcli.runs_api import outcome

    if (run_id is None) == (endpoint is None):
        raise UsageError("give a RUN_ID or --endpoint NAME (one of the two)")
    target = find_cluster(cluster or context.current.cluster, manifest=context.current.file)
    printer = (
        LogPrinter(out=sys.stdout, err=sys.stdout, as_json=True)
        if context.current.json
        else LogPrinter(out=sys.stdout, err=sys.stderr)
    )
    if endpoint is not None:
        _endpoint_logs(endpoint, target, printer, follow)
        return
    assert run_id is not None
    try:
        print_log(run_id, cluster=target, printer=printer, follow=follow, item=item)
    except KeyboardInterrupt:
        context.detached(run_id)
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    if follow:
        code = exit_code_for(outcome(run_id, cluster=target, fetch=False))
        if code:
            raise typer.Exit(int(code))


def _endpoint_logs(name: str, target: Any, printer: Any, follow: bool) -> None:
    from rhcli.endpoint_api import print_endpoint_log

    try:
        print_endpoint_log(name, cluster=target, printer=printer, follow=follow)
    except KeyboardInterrupt:
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
