"""`rhcli run` and `rhcli enqueue`: call a function on its cluster and print the result."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from rhcli.cli import context
from rhcli.cli.args import parse_call_args
from rhcli.cli.render import render_outcome
from rhcli.errors import ExitCode

FnArg = Annotated[str, typer.Argument(help="function name in runhouse.yaml, or module:function")]
ArgsArg = Annotated[list[str] | None, typer.Argument(help="call arguments")]
TimeoutOpt = Annotated[
    float | None,
    typer.Option("--timeout", help="seconds; the run is stopped and the exit code is 4"),
]
ArgsJsonOpt = Annotated[
    str | None,
    typer.Option("--args-json", help='exact arguments: {"args": [...], "kwargs": {...}}'),
]
DetachOpt = Annotated[
    bool,
    typer.Option(
        "--detach",
        "-d",
        help="print the run id and return at once (fetch the result later with `rhcli get RUN_ID`)",
    ),
]

StreamOpt = Annotated[
    bool,
    typer.Option(
        "--stream-logs/--no-stream-logs",
        help="print the run's output (on stderr) as it is produced",
    ),
]

_ARGS_HELP = (
    "ARGS: name=value is a keyword argument, anything else positional; values are JSON "
    "when they parse as JSON, else strings. Put `--` before a value that starts with '-'."
)


def register(app: typer.Typer) -> None:
    app.command(
        "run", help="Call FN (a name from runhouse.yaml, or module:function). " + _ARGS_HELP
    )(run)
    app.command(
        "enqueue",
        help="Call FN through its FIFO queue on the cluster: enqueued "
        "runs of a function never overlap and start in arrival order. " + _ARGS_HELP,
    )(enqueue)


def run(
    fn: FnArg,
    args: ArgsArg = None,
    timeout: TimeoutOpt = None,
    args_json: ArgsJsonOpt = None,
    detach: DetachOpt = False,
    stream_logs: StreamOpt = True,
) -> None:
    _call(
        fn,
        args,
        timeout=timeout,
        args_json=args_json,
        detach=detach,
        enqueue=False,
        stream_logs=stream_logs,
    )


def enqueue(
    fn: FnArg,
    args: ArgsArg = None,
    timeout: TimeoutOpt = None,
    args_json: ArgsJsonOpt = None,
    detach: DetachOpt = False,
    stream_logs: StreamOpt = True,
) -> None:
    _call(
        fn,
        args,
        timeout=timeout,
        args_json=args_json,
        detach=detach,
        enqueue=True,
        stream_logs=stream_logs,
    )


def _call(
    fn: str,
    args: list[str] | None,
    *,
    timeout: float | None,
    args_json: str | None,
    detach: bool,
    enqueue: bool,
    stream_logs: bool,
) -> None:
    from rhcli.functions import function
    from rhcli.log_follower import LogPrinter

    call_args, call_kwargs = parse_call_args(args or [], args_json)
    options = context.current
    remote = function(fn, system=options.cluster, manifest=options.file)
    # The run's output goes to stderr: stdout keeps only the result (or the JSON document).
    printer = LogPrinter(out=sys.stderr, err=sys.stderr) if stream_logs and not detach else False
    try:
        outcome = remote.call_raw(
            tuple(call_args),
            call_kwargs,
            timeout=timeout,
            want_json=True,
            enqueue=enqueue,
            detach=detach,
            stream_logs=printer,
        )
    except KeyboardInterrupt:
        # Ctrl-C detaches: the run goes on, on the cluster; say how to follow or stop it.
        context.detached(remote.last_run_id)
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    if detach:
        if options.json:
            context.emit_json({"run_id": outcome.run_id, "status": outcome.status})
        else:
            print(outcome.run_id, flush=True)
        return
    code = render_outcome(outcome)
    if code:
        raise typer.Exit(int(code))
