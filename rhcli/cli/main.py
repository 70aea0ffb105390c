"""The `rhcli` command: global options, the commands, and the one error boundary.

Each command parses, makes one library call and renders. Every rhcli error becomes one
line on stderr and its exit code here (and, with --json, one error document on stdout);
tracebacks only with --debug, and never with local variables (Typer's pretty exceptions
would print them, tokens included).
"""

from __future__ import annotations

import logging
import os
import select
import sys
import traceback
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperCommand, TyperGroup

from rhcli._version import __version__
from rhcli.cli import (
    cluster_commands,
    completion,
    context,
    dashboard_command,
    logs_command,
    map_command,
    plain_params,
    run_command,
    runs_commands,
    serve_commands,
)
from rhcli.cli.global_options import hoist, wants
from rhcli.cli.help_format import RhcliCommand
from rhcli.errors import ExitCode, RhcliError, UnreachableError

HELP = (
    "Run Python functions from a git repository on a cluster as if they were local.\n\n"
    f"rhcli {__version__}. Global options go before or after the command (rhcli --json "
    "runs, rhcli runs --json). Results go to stdout; progress, notes and errors to "
    "stderr; --json prints one JSON document on stdout (logs and map: JSON Lines).\n\n"
    "Exit codes: 0 ok; 1 the function raised (remote traceback on stderr); 2 usage or "
    "manifest error; 3 cluster or daemon unreachable, or refused (auth, version); 4 timed "
    "out; 5 map finished with some items failed; 130 interrupted (the run goes on); 141 "
    "stdout closed by its reader."
)
EPILOG = """Examples:

\b
  rhcli run tasks:add 2 3
  ID=$(rhcli run --detach train epochs=10); rhcli logs -f $ID
  rhcli runs --status failed --since 1d
  rhcli --json get last | jq .result
  source <(rhcli completion bash)

Docs: docs/cli.md in the rhcli repository."""

# 128 + SIGPIPE: what a shell reports for a tool whose stdout was closed under it
# (`rhcli runs | head -1`), as for `yes | head -1`; never 1, which means the function raised.
CLOSED_OUTPUT = 141


class _Interrupted(Exception):
    """Ctrl-C in a command that does not handle it itself (Typer would turn it into a
    silent exit 130, with no error document under --json)."""


class _ClosedOutput(Exception):
    """stdout or stderr was closed under us (Typer would exit 1, the function's code)."""


class RhcliGroup(TyperGroup):
    """rhcli's command group: Ctrl-C and a closed pipe reach the error boundary of
    main() as they are, instead of Typer's own endings."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:  # where -h, --version print
        try:
            return super().make_context(*args, **kwargs)
        except BrokenPipeError:
            if _output_closed():
                raise _ClosedOutput from None
            raise

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise _Interrupted from None
        except BrokenPipeError:
            if _output_closed():  # ours; another pipe's (ssh, rsync) is a fault to report
                raise _ClosedOutput from None
            raise


def _output_closed() -> bool:
    """Whether the reader of our stdout or stderr has gone (a pipe with no reader polls
    as an error; a terminal that went away, as a hang-up)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            poller = select.poll()
            poller.register(stream.fileno(), select.POLLOUT)
        except (OSError, ValueError, AttributeError):  # closed, or no file behind it
            continue
        if any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0)):
            return True
    return False


HELP_NAMES = ("-h", "--help")

app = typer.Typer(
    name="rhcli",
    cls=RhcliGroup,
    help=HELP,
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,  # `rhcli completion SHELL` instead, as gh and kubectl have it
    pretty_exceptions_enable=False,
    # Plain help: Rich-rendered help panels cost ~100 ms of every `rhcli --help`.
    rich_markup_mode=None,
    context_settings={"help_option_names": list(HELP_NAMES), "max_content_width": 100},
)


def _version(value: bool) -> None:
    if value:
        if context.current.json:
            context.emit_json({"version": __version__})
        else:
            print(f"rhcli {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    file: Annotated[
        str | None,
        typer.Option(
            "-f",
            "--file",
            metavar="PATH",
            help="runhouse.yaml to use (default: $RHCLI_FILE, or found from "
            "the current directory up to the git root)",
            show_default=False,
        ),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "-c",
            "--cluster",
            metavar="NAME",
            help="cluster to use instead of the default",
            autocompletion=completion.complete_clusters,
            show_default=False,
        ),
    ] = None,
    json_output: Annotated[
        bool,
        typer.Option("--json", help="print one JSON document on stdout and nothing else there"),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", help="on stderr: rhcli's debug log as it goes, tracebacks on errors"
        ),
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version")
    ] = False,
) -> None:
    context.current = context.Globals(file=file, cluster=cluster, json=json_output, debug=debug)
    if debug:
        _debug_log()


def _debug_log() -> None:
    """rhcli's own loggers at DEBUG on stderr (other libraries' stay as they are)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("debug %(asctime)s %(name)s: %(message)s"))
    logger = logging.getLogger("rhcli")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


cluster_commands.register(app)
run_command.register(app)
map_command.register(app)
runs_commands.register(app)
logs_command.register(app)
dashboard_command.register(app)
serve_commands.register(app)
completion.register(app)


def _polish(typer_app: typer.Typer) -> None:
    """Every command, whoever registered it: help pages without Python type names
    (RhcliCommand), and a line in `rhcli -h` that is its first sentence whole (click
    would cut a long one with "...") when it has no short_help of its own."""
    for info in typer_app.registered_commands:
        if info.cls in (None, TyperCommand):  # Typer's default: not chosen by its author
            info.cls = RhcliCommand
        if info.short_help is None and isinstance(info.help, str):
            first = info.help.split(". ", 1)[0].split("; ", 1)[0].rstrip(".")
            info.short_help = first + "."


_polish(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script; exits with the contract's exit codes.

    Called without argv (the console script), the process ends with os._exit once its
    output is flushed (see _end_process); with argv (a caller in Python, a test) it
    raises SystemExit as usual.
    """
    code = _run(argv)
    if argv is None:
        _end_process(code)
    sys.exit(code)


def _end_process(code: int) -> NoReturn:
    """End the process now, skipping the interpreter's teardown.

    A process that imported gRPC spends 0.1 to 0.4 s after its last statement in the
    interpreter's teardown (gRPC's core shutting down, every module freed), more than a
    whole warm `rhcli run` takes otherwise; `rhcli --help`, which imports no gRPC, never
    paid it. Everything of ours is done by then: results printed, files closed by their
    `with` blocks, remote runs left to the cluster; connections simply close.
    """
    logging.shutdown()  # whatever --debug's handler still buffers
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`): nothing more to say
            pass
    os._exit(code)


def _run(argv: list[str] | None) -> int:
    """Parse, run one command, and map how it ended onto the exit codes."""
    _standard_streams()
    command = typer.main.get_command(app)
    plain_params.install(command, help_names=HELP_NAMES)  # parsing without pydantic
    completion.enable()
    args = hoist(list(sys.argv[1:] if argv is None else argv), command)
    # Known before parsing, so that a usage error is a JSON document too under --json.
    context.current = context.Globals(json=wants(args, "--json"), debug=wants(args, "--debug"))
    try:
        # Not standalone: click returns a command's exit code instead of exiting, so
        # every ending passes through the boundary below.
        returned = command.main(args=args, prog_name="rhcli", standalone_mode=False)
        code = returned if isinstance(returned, int) else 0
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.TyperException as exc:  # Typer's (vendored click) usage errors
        code = _usage_error(exc)
    except _ClosedOutput:
        code = _closed_output()
    except (typer.Abort, KeyboardInterrupt, _Interrupted):
        context.err("interrupted")
        _json_error("KeyboardInterrupt", "interrupted", ExitCode.INTERRUPTED)
        code = ExitCode.INTERRUPTED
    except RhcliError as exc:
        code = _report(exc)
    except Exception as exc:  # a bug of ours: say so plainly, never dump locals
        if context.current.debug:
            traceback.print_exc()
        message = f"{type(exc).__name__}: {exc}"
        _json_error(type(exc).__name__, f"rhcli internal error: {message}", 1)
        context.err(f"rhcli internal error: {message} (run with --debug for the traceback)")
        code = ExitCode.FUNCTION_RAISED
    return int(code)


def _standard_streams() -> None:
    """Standard streams that cannot fail rhcli. One that was closed at start (`rhcli runs
    >&-`) reads and writes as /dev/null, so that rhcli still ends with its exit code
    (Python would leave sys.stdout None and fail on the first print), and no file or
    socket rhcli opens later lands on fd 1 or 2 to receive what was meant for the
    terminal."""
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        try:
            os.fstat(fd)
        except OSError:  # closed: the lowest free descriptor is this one
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != fd:  # cannot happen while the lower ones are open; be safe
                os.dup2(opened, fd)
                os.close(opened)
            if getattr(sys, name) is None:
                setattr(sys, name, open(fd, mode, closefd=False))
    # A run's output in an encoding stdout cannot write (PYTHONIOENCODING=ascii, a latin-1
    # locale) shows as \xe9 escapes, as Python's stderr always does, rather than ending
    # rhcli with a UnicodeEncodeError halfway through.
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="backslashreplace")


def _closed_output() -> int:
    """Exit quietly when the reader went away: nothing more can reach it, and Python's
    final flush of stdout must not print a BrokenPipeError either."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError):  # no file behind it (closed, or replaced)
            continue
    return CLOSED_OUTPUT


def _usage_error(exc: Any) -> int:
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    _json_error("rhcli.errors.UsageError", message, ExitCode.USAGE)
    show = getattr(exc, "show", None)
    if show is not None:
        show()
    else:
        context.error(message)
    code = getattr(exc, "exit_code", ExitCode.USAGE)
    # click's "no command given" shows the help and means no harm: exit as `-h` does.
    return int(code) if code == 0 else int(ExitCode.USAGE)


def _report(exc: RhcliError) -> int:
    from rhcli.outcomes import traceback_name

    if context.current.debug:
        traceback.print_exc()
    remote_tb = getattr(exc, "remote_traceback", "")
    if remote_tb:
        sys.stderr.write(remote_tb if remote_tb.endswith("\n") else remote_tb + "\n")
    cls = type(exc)
    _json_error(
        traceback_name(f"{cls.__module__}.{cls.__qualname__}"),
        str(exc),
        exc.exit_code,
        run_id=getattr(exc, "run_id", None),
    )
    context.error(str(exc))
    run_id = getattr(exc, "run_id", None)
    if isinstance(exc, UnreachableError) and run_id:  # the call was sent: name its run
        context.err(
            f"run {run_id} was sent before the connection was lost: once the daemon is back "
            f"(`rhcli up`), `rhcli get {run_id}` fetches its outcome"
        )
    return int(exc.exit_code)


def _json_error(kind: str, message: str, code: int, *, run_id: str | None = None) -> None:
    """Under --json, the error document on stdout: {"error": {type, message, exit_code}}
    (and run_id when the error concerns a run that was sent)."""
    if not context.current.json:
        return
    error: dict[str, Any] = {"type": kind, "message": message, "exit_code": int(code)}
    if run_id:
        error["run_id"] = run_id
    context.emit_json({"error": error})
