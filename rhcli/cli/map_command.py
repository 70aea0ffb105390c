"""`rhcli map FN [ARGS...]`: one call per input, in parallel; JSON Lines out, in order.

Inputs are the positional ARGS, or the lines of --input (JSON Lines: an array is the
positional arguments, {"args": [...], "kwargs": {...}} both, any other value the single
argument). Keyword ARGS (name=value) go to every call. Every input line is parsed before
anything is sent, so a bad line costs nothing but its error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from rhcli.cli import context
from rhcli.cli.args import parse_args_document, parse_call_args
from rhcli.cli.render import item_line, report_failures
from rhcli.errors import ExitCode, UsageError

Call = tuple[tuple[Any, ...], dict[str, Any]]


def register(app: typer.Typer) -> None:
    app.command(
        "map",
        help="Call FN once per input, in parallel on the cluster; print "
        "the results as JSON Lines in input order (progress on stderr). Inputs: "
        "positional ARGS, or --input FILE|- as JSON Lines; keyword ARGS "
        "(name=value) go to every call. Exit 5 when some items failed.",
    )(map_)


def map_(
    fn: Annotated[str, typer.Argument(help="function name in runhouse.yaml, or module:function")],
    args: Annotated[list[str] | None, typer.Argument(help="inputs and name=value keywords")] = None,
    input_file: Annotated[
        str | None,
        typer.Option("--input", "-i", help="JSON Lines file, or - for stdin: one call per line"),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="write the JSON Lines here instead of stdout"),
    ] = None,
    return_exceptions: Annotated[
        bool,
        typer.Option("--return-exceptions", help="a failed item's error takes its line (exit 0)"),
    ] = False,
    timeout: Annotated[float | None, typer.Option("--timeout", help="seconds per item")] = None,
) -> None:
    from rhcli.functions import function

    positional, keywords = parse_call_args(args or [])
    calls = _read_calls(input_file, positional, keywords)
    remote = function(fn, system=context.current.cluster, manifest=context.current.file)
    sink: IO[str] = output.open("w") if output is not None else sys.stdout
    try:
        failed = _run(remote, calls, sink, return_exceptions=return_exceptions, timeout=timeout)
    except KeyboardInterrupt:
        context.detached(remote.last_map_id)
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    finally:
        if output is not None:
            sink.close()
    code = report_failures(
        failed, len(calls), remote.last_map_id, return_exceptions=return_exceptions
    )
    if code:
        raise typer.Exit(int(code))


def _read_calls(
    input_file: str | None, positional: list[Any], keywords: dict[str, Any]
) -> list[Call]:
    if input_file is None:
        if not positional:
            raise UsageError("map needs inputs: positional ARGS, or --input FILE|-")
        return [((value,), dict(keywords)) for value in positional]
    if positional:
        raise UsageError("give inputs either as positional ARGS or with --input, not both")
    stream = sys.stdin if input_file == "-" else _open(input_file)
    calls = []
    name = "stdin" if input_file == "-" else input_file
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise UsageError(f"{name}:{number}: not valid JSON ({exc}); nothing was sent") from None
        call_args, call_kwargs = _call_of(value, where=f"{name}:{number}")
        calls.append((tuple(call_args), {**keywords, **call_kwargs}))
    if not calls:
        raise UsageError(f"{name} holds no inputs")
    return calls


def _open(path: str) -> IO[str]:
    try:
        return open(path)
    except OSError as exc:
        raise UsageError(f"cannot read --input {path}: {exc.strerror}") from None


def _call_of(value: Any, *, where: str) -> tuple[list[Any], dict[str, Any]]:
    if isinstance(value, list):
        return value, {}
    if isinstance(value, dict) and value and set(value) <= {"args", "kwargs"}:
        return parse_args_document(json.dumps(value), where=where)
    return [value], {}


def _run(
    remote: Any, calls: list[Call], sink: IO[str], *, return_exceptions: bool, timeout: float | None
) -> dict[int, dict[str, Any]]:
    """Stream the map; write lines in input order as they become ready."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    pending: dict[int, str] = {}
    failed: dict[int, dict[str, Any]] = {}
    next_index = 0
    columns = (
        TextColumn("map"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        _RateColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True, console=_stderr_console()) as progress:
        task = progress.add_task("map", total=len(calls), failed=0)
        for index, outcome in remote.map_raw(
            calls, total=len(calls), timeout=timeout, want_json=True
        ):
            pending[index] = item_line(outcome, failed, index, return_exceptions)
            while next_index in pending:
                sink.write(pending.pop(next_index) + "\n")
                next_index += 1
            progress.update(task, advance=1, failed=len(failed))
    sink.flush()
    return failed


def _rate_column_class() -> Any:
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):  # type: ignore[misc]
        """Items per second, once there is a rate to show."""

        def render(self, task: Any) -> Text:
            return Text(f"{task.speed:.0f}/s" if task.speed else "")

    return RateColumn


def _RateColumn() -> Any:
    return _rate_column_class()()


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)
