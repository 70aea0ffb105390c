"""`rhcli run` and `rhcli enqueue`: call a function on its cluster and print the result."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from rhcli.cli import context
from rhcli.cli.args import parse_call_args
from rhcli.cli.options import ClusterOpt, FnArg, OutputOpt, positive_seconds
from rhcli.cli.render import exit_code_for, render_outcome, report_failure, save_result
from rhcli.errors import ExitCode

ArgsArg = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="[ARGS]...",
        help="call arguments: name=value is a keyword, anything else positional",
        show_default=False,
    ),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        help="stop the run after SECONDS (above 0) and exit 4; default: the manifest's "
        "timeout for FN, else none",
        callback=positive_seconds,
        show_default=False,
    ),
]
ArgsJsonOpt = Annotated[
    str | None,
    typer.Option(
        "--args-json",
        metavar="JSON|@FILE|-",
        help='exact arguments as {"args": [...], "kwargs": {...}}: the document itself, '
        "@FILE to read it from FILE, or - from stdin (for arguments past the shell's limit)",
        show_default=False,
    ),
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
        help="print the run's output on stderr as it is produced  [default: on]",
        show_default=False,
    ),
]

_ARGS_HELP = (
    "ARGS: name=value is a keyword argument, anything else positional; each value is "
    "read as JSON when it parses as JSON, else kept as a string. Put -- before a value "
    "that starts with '-'."
)
_RUN_EXAMPLES = """Examples:

\b
  rhcli run tasks:add 2 3
  rhcli run generate "A dog." steps=50 --timeout 600
  ID=$(rhcli run --detach train epochs=10) && rhcli logs -f $ID
  rhcli run tasks:blob 200 --output blob.bin
  rhcli run tasks:echo --args-json @args.json"""
_ENQUEUE_EXAMPLES = """Examples:

\b
  rhcli enqueue train epochs=10
  rhcli --json enqueue --detach train epochs=10"""


def register(app: typer.Typer) -> None:
    app.command(
        "run",
        short_help="Call a function on its cluster and print its result.",
        help="Call FN (a name from runhouse.yaml, or module:function) on its cluster, "
        "wait for it, and print its result on stdout. " + _ARGS_HELP,
        epilog=_RUN_EXAMPLES,
    )(run)
    app.command(
        "enqueue",
        short_help="As run, through the function's FIFO queue (never overlaps).",
        help="Call FN through its FIFO queue on the cluster: enqueued runs of a function "
        "never overlap and start in arrival order. " + _ARGS_HELP,
        epilog=_ENQUEUE_EXAMPLES,
    )(enqueue)


def run(
    fn: FnArg,
    args: ArgsArg = None,
    timeout: TimeoutOpt = None,
    args_json: ArgsJsonOpt = None,
    detach: DetachOpt = False,
    stream_logs: StreamOpt = True,
    output: OutputOpt = None,
    cluster: ClusterOpt = None,
) -> None:
    _call(fn, args, timeout, args_json, detach, stream_logs, output, cluster, enqueue=False)


def enqueue(
    fn: FnArg,
    args: ArgsArg = None,
    timeout: TimeoutOpt = None,
    args_json: ArgsJsonOpt = None,
    detach: DetachOpt = False,
    stream_logs: StreamOpt = True,
    output: OutputOpt = None,
    cluster: ClusterOpt = None,
) -> None:
    _call(fn, args, timeout, args_json, detach, stream_logs, output, cluster, enqueue=True)


def _call(
    fn: str,
    args: list[str] | None,
    timeout: float | None,
    args_json: str | None,
    detach: bool,
    stream_logs: bool,
    output: Path | None,
    cluster: str | None,
    *,
    enqueue: bool,
) -> None:
    from rhcli.functions import function
    from rhcli.log_follower import LogPrinter

    if detach and output is not None:
        raise typer.BadParameter(
            "a detached run has no result yet: fetch it later with "
            "`rhcli get RUN_ID --output FILE`",
            param_hint="'--output'",
        )
    call_args, call_kwargs = parse_call_args(args or [], args_json)
    options = context.current
    remote = function(fn, system=cluster or options.cluster, manifest=options.file)
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
    if output is not None and outcome.succeeded:
        if outcome.result_size:  # too large to have travelled inline: fetch it now
            outcome = outcome.fetch_result(remote.system.client().read_result)
        save_result(output, outcome)
        return
    if output is not None:  # failed: nothing is written, the failure is told as usual
        code = exit_code_for(outcome)
        if options.json:
            render_outcome(outcome)
        else:
            report_failure(outcome)
        raise typer.Exit(int(code))
    code = render_outcome(outcome)
    if code:
        raise typer.Exit(int(code))
