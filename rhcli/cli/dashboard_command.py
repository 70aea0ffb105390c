"""`rhcli dashboard [CLUSTER] [--port N] [--no-open]`: a live web page of the cluster's
runs, maps, logs and nodes, served on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

from typing import Annotated

import typer

from rhcli.cli import context
from rhcli.cli.help_format import examples
from rhcli.cli.render import print_dashboard_started


def register(app: typer.Typer) -> None:
    app.command(
        "dashboard",
        help="Serve a live web page of the cluster's runs, maps, logs and nodes on "
        "127.0.0.1 (the printed address carries a token made for this run); Ctrl-C stops it.",
        epilog=examples("rhcli dashboard", "rhcli dashboard box --port 8899 --no-open"),
    )(dashboard)


def dashboard(
    cluster: Annotated[
        str | None,
        typer.Argument(help="cluster shown first (default: -c, or the manifest's default)"),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            min=0,
            max=65535,
            help="port on 127.0.0.1 (default: 8899 or the next free; 0: any)",
        ),
    ] = None,
    no_open: Annotated[
        bool, typer.Option("--no-open", help="do not open a browser (none opens without a display)")
    ] = False,
) -> None:
    from rhcli.dashboard.server import serve

    serve(
        cluster or context.current.cluster,
        port=port,
        manifest=context.current.file,
        on_start=print_dashboard_started,
        open_browser=not no_open,
    )
    context.err("dashboard stopped")
