"""`rhcli run FN [ARGS...]`: call a function on its cluster and print the result."""

from __future__ import annotations

from typing import Annotated

import typer

from rhcli.cli import context
from rhcli.cli.args import parse_call_args
from rhcli.cli.render import render_outcome


def register(app: typer.Typer) -> None:
    app.command(
        "run",
        help="Call FN (a name from runhouse.yaml, or module:function) with ARGS: "
        "name=value is a keyword argument, anything else positional; values are JSON "
        "when they parse as JSON, else strings. Put `--` before a value that starts "
        "with '-'.",
    )(run)


def run(
    fn: Annotated[str, typer.Argument(help="function name in runhouse.yaml, or module:function")],
    args: Annotated[list[str] | None, typer.Argument(help="call arguments")] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="seconds; the run is stopped and the exit code is 4"),
    ] = None,
    args_json: Annotated[
        str | None,
        typer.Option("--args-json", help='exact arguments: {"args": [...], "kwargs": {...}}'),
    ] = None,
) -> None:
    from rhcli.remote_function import function

    call_args, call_kwargs = parse_call_args(args or [], args_json)
    options = context.current
    remote = function(fn, system=options.cluster, manifest=options.file)
    run_id, outcome = remote.call_raw(
        tuple(call_args), call_kwargs, timeout=timeout, want_json=True
    )
    code = render_outcome(run_id, outcome)
    if code:
        raise typer.Exit(int(code))
