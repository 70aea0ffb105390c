"""`rhcli map FN [ARGS...]`: one call per input, in parallel; JSON Lines out, in order.

Inputs are the positional ARGS, or the lines of --input (JSON Lines: an array is the
positional arguments, {"args": [...], "kwargs": {...}} both, any other value the single
argument). Keyword ARGS (name=value) go to every call. Every input line is parsed, and
--output checked, before anything is sent, so a bad line or path costs nothing but its
error. Result lines go to stdout or --output as items end, in input order (a line is
written once it and every line before it are ready), flushed as they go, so a client
that is killed keeps every line it wrote; the live display and the summary go to stderr.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from rhcli.cli import context
from rhcli.cli.args import parse_args_document, parse_call_args
from rhcli.cli.map_display import MapDisplay
from rhcli.cli.render import item_line, report_failures
from rhcli.errors import ExitCode, MapIncompleteError, UsageError

Call = tuple[tuple[Any, ...], dict[str, Any]]


def register(app: typer.Typer) -> None:
    app.command(
        "map",
        help="Call FN once per input, in parallel on the cluster; print "
        "the results as JSON Lines in input order (progress on stderr). Inputs: "
        "positional ARGS, or --input FILE|- as JSON Lines; keyword ARGS "
        "(name=value) go to every call. Exit 5 when some items failed, 3 when the "
        "cluster failed before every item had a result; both print the command that "
        "resumes the map (--resume MAP_ID: only the items without a result run again).",
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
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            help="MAP_ID of a map run before with the same inputs: run only its items "
            "without a successful result, and write every result again",
        ),
    ] = None,
    recover: Annotated[
        int,
        typer.Option(
            "--recover",
            help="sky clusters: when the cluster is lost, relaunch it and resume, N times at most",
        ),
    ] = 0,
    map_id: Annotated[
        str | None,
        typer.Option("--id", help="name the new map MAP_ID (a batch script can resume it)"),
    ] = None,
) -> None:
    from rhcli.functions import function
    from rhcli.maps import check_map_id
    from rhcli.runref import new_run_id

    if resume is not None and map_id is not None:
        raise UsageError("give --resume MAP_ID to continue a map, or --id to name a new one")
    if recover < 0:
        raise UsageError(f"--recover must be 0 or more, not {recover}")
    for named in (resume, map_id):
        if named is not None:
            check_map_id(named)
    _check_output(output)
    positional, keywords = parse_call_args(args or [])
    calls = _read_calls(input_file, positional, keywords)
    remote = function(fn, system=context.current.cluster, manifest=context.current.file)
    the_id = resume or map_id or new_run_id(remote.name)
    rerun = resume_command(fn, args or [], input_file, output, return_exceptions, timeout, the_id)
    verb = "resuming" if resume else "starting"
    context.err(f"map {the_id}: {verb}, {len(calls)} items on {remote.system.name}")
    display = MapDisplay(len(calls))
    sink = _Sink(output)
    try:
        failed = _run(
            remote,
            calls,
            sink,
            display,
            return_exceptions=return_exceptions,
            timeout=timeout,
            resume=resume,
            recover=recover,
            map_id=None if resume else the_id,
        )
    except KeyboardInterrupt:
        display.close()
        context.detached(the_id)
        context.err(f"resume it (only the items without a result run) with: {rerun}")
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except MapIncompleteError as exc:
        display.close()
        context.err(display.summary(the_id, output=output, missing=exc.missing))
        raise exc.with_hint(rerun) from exc
    finally:
        display.close()
        sink.close()
    code = report_failures(failed, len(calls), the_id, return_exceptions=return_exceptions)
    context.err(display.summary(the_id, output=output))
    if code:
        context.err(f"run only the failed items again with: {rerun}")
        raise typer.Exit(int(code))


def resume_command(
    fn: str,
    args: list[str],
    input_file: str | None,
    output: Path | None,
    return_exceptions: bool,
    timeout: float | None,
    map_id: str,
) -> str:
    """The command that resumes this map: the same inputs, options and output."""
    options = context.current
    argv = ["rhcli"]
    if options.file:
        argv += ["-f", options.file]
    if options.cluster:
        argv += ["-c", options.cluster]
    if options.json:
        argv.append("--json")
    argv += ["map", fn, *args]
    if input_file is not None:
        argv += ["--input", input_file]
    if output is not None:
        argv += ["--output", str(output)]
    if return_exceptions:
        argv.append("--return-exceptions")
    if timeout is not None:
        argv += ["--timeout", f"{timeout:g}"]
    command = shlex.join([*argv, "--resume", map_id])
    return command + (" (with the same input on stdin)" if input_file == "-" else "")


class _Sink:
    """Where result lines go: stdout, or --output opened (truncated) at the first line,
    so a map that fails before any result leaves an existing file as it was."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._file: IO[str] | None = None if path is not None else sys.stdout

    def write(self, lines: list[str]) -> None:
        if self._file is None:
            assert self._path is not None
            try:
                self._file = self._path.open("w")
            except OSError as exc:
                raise UsageError(f"cannot write --output {self._path}: {exc.strerror}") from None
        self._file.write("".join(lines))
        self._file.flush()

    def close(self) -> None:
        if self._path is not None and self._file is not None:
            self._file.close()


def _check_output(output: Path | None) -> None:
    """UsageError, before anything runs, when --output cannot be written."""
    if output is None:
        return
    folder = output.parent if str(output.parent) else Path(".")
    if output.is_dir():
        raise UsageError(f"--output {output} is a folder; name a file")
    if not folder.is_dir():
        raise UsageError(f"--output {output}: the folder {folder} does not exist")
    writable = os.access(output, os.W_OK) if output.exists() else os.access(folder, os.W_OK)
    if not writable:
        raise UsageError(f"--output {output} cannot be written (permission denied)")


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
    remote: Any,
    calls: list[Call],
    sink: _Sink,
    display: MapDisplay,
    *,
    return_exceptions: bool,
    timeout: float | None,
    resume: str | None,
    recover: int,
    map_id: str | None,
) -> dict[int, dict[str, Any]]:
    """Stream the map; write lines in input order as they become ready."""
    pending: dict[int, str] = {}
    failed: dict[int, dict[str, Any]] = {}
    next_index = 0
    outcomes = remote.map_raw(
        calls,
        total=len(calls),
        timeout=timeout,
        want_json=True,
        resume=resume,
        recover=recover,
        map_id=map_id,
    )
    for index, outcome in outcomes:
        pending[index] = item_line(outcome, failed, index, return_exceptions)
        display.item(failed=not outcome.succeeded)
        ready = []
        while next_index in pending:
            ready.append(pending.pop(next_index) + "\n")
            next_index += 1
        if ready:
            display.before_output()
            sink.write(ready)
            display.after_output()
    return failed
