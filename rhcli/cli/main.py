"""The `rhcli` command: global options, the commands, and the one error boundary.

Each command parses, makes one library call and renders. Every rhcli error becomes one
line on stderr and its exit code here; tracebacks only with --debug, and never with local
variables (Typer's pretty exceptions would print them, tokens included).
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import Annotated

import typer

from rhcli._version import __version__
from rhcli.cli import (
    cluster_commands,
    context,
    dashboard_command,
    logs_command,
    map_command,
    run_command,
    runs_commands,
    serve_commands,
)
from rhcli.errors import ExitCode, RhcliError

HELP = (
    "Run Python functions from a git repository on a cluster as if they were local.\n\n"
    f"rhcli {__version__}. Exit codes: 0 ok; 1 the function raised (remote traceback on "
    "stderr); 2 usage or manifest error; 3 cluster or daemon unreachable, or refused "
    "(auth, version); 4 timed out; 5 map finished with some items failed; "
    "130 interrupted (the run goes on)."
)

app = typer.Typer(
    name="rhcli",
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: Rich-rendered help panels cost ~100 ms of every `rhcli --help`.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"rhcli {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    file: Annotated[
        str | None,
        typer.Option(
            "-f",
            "--file",
            help="runhouse.yaml to use (default: $RHCLI_FILE, or found from "
            "the current directory up to the git root)",
        ),
    ] = None,
    cluster: Annotated[
        str | None, typer.Option("-c", "--cluster", help="cluster to use instead of the default")
    ] = None,
    json_output: Annotated[
        bool,
        typer.Option("--json", help="print one JSON document on stdout and nothing else there"),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="show tracebacks and debug logs on stderr")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version")
    ] = False,
) -> None:
    context.current = context.Globals(file=file, cluster=cluster, json=json_output, debug=debug)
    if debug:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)


cluster_commands.register(app)
run_command.register(app)
map_command.register(app)
runs_commands.register(app)
logs_command.register(app)
dashboard_command.register(app)
serve_commands.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script; exits with the contract's exit codes."""
    command = typer.main.get_command(app)
    try:
        # Not standalone: click returns a command's exit code instead of exiting, so
        # every ending passes through the boundary below.
        returned = command.main(args=argv, prog_name="rhcli", standalone_mode=False)
        code = returned if isinstance(returned, int) else 0
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.TyperException as exc:  # Typer's (vendored click) usage errors
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            context.err(f"error: {exc}")
        code = ExitCode.USAGE
    except (typer.Abort, KeyboardInterrupt):
        context.err("interrupted")
        code = ExitCode.INTERRUPTED
    except RhcliError as exc:
        code = _report(exc)
    except Exception as exc:  # a bug of ours: say so plainly, never dump locals
        if context.current.debug:
            traceback.print_exc()
        context.err(
            f"rhcli internal error: {type(exc).__name__}: {exc} "
            "(run with --debug for the traceback)"
        )
        code = ExitCode.FUNCTION_RAISED
    sys.exit(code)


def _report(exc: RhcliError) -> int:
    if context.current.debug:
        traceback.print_exc()
    remote_tb = getattr(exc, "remote_traceback", "")
    if remote_tb:
        sys.stderr.write(remote_tb if remote_tb.endswith("\n") else remote_tb + "\n")
    if context.current.json:
        context.emit_json(
            {
                "error": {
                    "type": type(exc).__name__,
                    "message": str(exc),
                    "exit_code": int(exc.exit_code),
                }
            }
        )
    context.err(f"error: {exc}")
    return int(exc.exit_code)
