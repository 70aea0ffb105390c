"""How the CLI prints a run's outcome, and the JSON documents of runs.

A result prints as JSON when it is JSON; one that is not prints as the marker
`{"repr": "..."}` with a note on stderr (never its repr passed off as a value), and
`--output FILE` saves it whole. A failure prints the remote traceback and one `error:`
line on stderr. With --json, one document on stdout either way, with the same keys for
every status (null where a value is absent). Every function here takes the library's
plain values (Outcome, RunInfo).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rhcli.cli import context
from rhcli.errors import ExitCode
from rhcli.outcomes import Outcome, error_type
from rhcli.runs_api import RunInfo

if TYPE_CHECKING:  # `rhcli --help` imports this module: the endpoint API only when used
    from rhcli.endpoint_api import Endpoint

_FAILURE_EXIT = {
    "entrypoint_not_found": ExitCode.USAGE,
    "timeout": ExitCode.TIMED_OUT,
    "resources_unavailable": ExitCode.UNREACHABLE,
}
# The most of a non-JSON result's repr that the {"repr": ...} marker carries.
MARKER_REPR_CHARS = 1000


# --- one run's outcome ---------------------------------------------------------------------


def exit_code_for(outcome: Outcome) -> ExitCode:
    if outcome.status == "succeeded":
        return ExitCode.OK
    if outcome.status == "timed_out":
        return ExitCode.TIMED_OUT
    return _FAILURE_EXIT.get(outcome.failure, ExitCode.FUNCTION_RAISED)


def seconds(value: float | None) -> float | None:
    """A duration in JSON: seconds to the millisecond, or null."""
    return None if value is None else round(value, 3)


def outcome_document(outcome: Outcome) -> dict[str, Any]:
    """The JSON form of an outcome (what `--json` prints): the same keys for every
    status, null where a value is absent. result is the JSON value (null when the result
    is not JSON: result_is_json says which, result_repr shows it)."""
    succeeded = outcome.status == "succeeded"
    is_json = succeeded and outcome.result_json is not None
    error = None
    if outcome.ended and not succeeded:
        info = outcome.error
        error = {
            "type": error_type(outcome),
            "message": (info.message if info else "") or outcome.reason or None,
            "reason": failure_text(outcome),
            # The function's own traceback; other failures' would show rhcli's insides.
            "traceback": (info.traceback if info and outcome.failure == "raised" else None) or None,
        }
    return {
        "run_id": outcome.run_id,
        "status": outcome.status,
        "result": json.loads(outcome.result_json or "null") if is_json else None,
        "result_is_json": is_json if succeeded else None,
        "result_repr": outcome.result_repr if succeeded else None,
        "error": error,
        "duration_s": seconds(outcome.duration_s),
    }


def render_outcome(outcome: Outcome) -> ExitCode:
    """Print the outcome the way the global options ask; returns the exit code."""
    code = exit_code_for(outcome)
    if context.current.json:
        context.emit_json(outcome_document(outcome))
    elif outcome.status == "succeeded":
        print(result_text(outcome), flush=True)
    if code != ExitCode.OK:
        report_failure(outcome)
    return code


def result_text(outcome: Outcome) -> str:
    """A succeeded run's result for stdout: its JSON, or (not JSON) the {"repr": ...}
    marker, with a note on stderr saying so and how to save the result itself."""
    if outcome.result_json is not None:
        return outcome.result_json
    shown = outcome.result_repr
    if len(shown) > MARKER_REPR_CHARS:
        shown = shown[:MARKER_REPR_CHARS] + f"... (cut at {MARKER_REPR_CHARS:,} characters)"
    context.note(
        f"the result of run {outcome.run_id} is not JSON, so stdout holds "
        '{"repr": ...}; `rhcli get '
        f"{outcome.run_id} --output FILE` saves the result itself (bytes as they are, "
        "anything else as its pickle)"
    )
    return json.dumps({"repr": shown})


def report_failure(outcome: Outcome) -> None:
    """On stderr: the remote traceback of a run that raised, then its `error:` line."""
    if outcome.error is not None and outcome.error.traceback and outcome.failure == "raised":
        context.err(outcome.error.traceback.rstrip("\n"))
    ended = outcome.status.replace("_", " ")
    context.error(f"run {outcome.run_id} {ended}: {failure_text(outcome)}")


def failure_text(outcome: Outcome) -> str:
    """Why a run did not succeed, in one line: the exception (as a traceback names it)
    and its message for a run that raised, else the daemon's reason."""
    info = outcome.error
    if outcome.failure == "raised" and info is not None and info.type_name:
        return f"{error_type(outcome)}: {info.message}" if info.message else error_type(outcome)
    return outcome.reason or outcome.status.replace("_", " ")


def with_json(outcome: Outcome) -> Outcome:
    """The outcome with its result rendered as JSON here when the run was not asked to
    (a .remote() call): not importable here, or not JSON, and the repr stands in."""
    if outcome.status != "succeeded" or outcome.result_json is not None:
        return outcome
    with contextlib.suppress(Exception):
        rendered = json.dumps(pickle.loads(outcome.result), allow_nan=False)
        return dataclasses.replace(outcome, result_json=rendered)
    return outcome


def write_result(path: Path, outcome: Outcome) -> int:
    """Write a succeeded run's result to path, whole or not at all: bytes as they are,
    else JSON, else (not JSON) its pickle, saying so on stderr. Returns the size."""
    try:
        value = pickle.loads(outcome.result)
    except Exception:  # its class is not importable here: the pickle is what there is
        value = None
    if isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    elif outcome.result_json is not None:
        data = outcome.result_json.encode() + b"\n"
    else:
        data = outcome.result
        context.note(f"the result is not JSON: {path} holds its pickle")
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return len(data)


def save_result(path: Path, outcome: Outcome) -> None:
    """`--output FILE`: write the result and say where it went (JSON: one document)."""
    size = write_result(path, outcome)
    if context.current.json:
        context.emit_json({"run_id": outcome.run_id, "status": outcome.status, "output": str(path)})
    else:
        context.err(f"run {outcome.run_id}: result written to {path} ({size:,} bytes)")


# --- maps ---------------------------------------------------------------------------------


def item_line(
    outcome: Outcome, failed: dict[int, dict[str, Any]], index: int, return_exceptions: bool
) -> str:
    """One item's JSON line: its result, or (failed) null or its error; failures noted."""
    if outcome.status == "succeeded":
        if outcome.result_json is not None:
            return outcome.result_json
        return json.dumps({"repr": outcome.result_repr})
    document = outcome_document(outcome)
    failed[index] = document
    if return_exceptions:
        return json.dumps({"error": {k: document["error"][k] for k in ("type", "message")}})
    return "null"


def report_failures(
    failed: dict[int, dict[str, Any]], total: int, map_id: str, *, return_exceptions: bool
) -> ExitCode:
    """Name each failed item on stderr; MAP_PARTIAL unless the errors took their lines."""
    if not failed:
        return ExitCode.OK
    for index, document in sorted(failed.items()):
        error = document["error"]
        context.err(f"item {index} ({document['run_id']}): {error['type']}: {error['message']}")
    context.err(f"error: {len(failed)} of {total} items failed (map {map_id})")
    return ExitCode.OK if return_exceptions else ExitCode.MAP_PARTIAL


# --- run records ------------------------------------------------------------------------


def run_document(info: RunInfo) -> dict[str, Any]:
    """A run's record as JSON (`runs`, `cancel`): null where a value is absent."""
    is_map = info.items > 0
    return {
        "run_id": info.run_id,
        "function": info.function,
        "status": info.status,
        # the daemon's one line, its exception named as everywhere else in the CLI
        "reason": (
            info.reason.removeprefix("builtins.") if info.failure == "raised" else info.reason
        )
        or None,
        "parent": info.parent,
        "created_at": info.created_at,
        "started_at": info.started_at,
        "ended_at": info.ended_at,
        "duration_s": seconds(info.duration_s),
        "items": info.items if is_map else None,
        "items_failed": info.items_failed if is_map else None,
        "items_succeeded": info.items_succeeded if is_map else None,
        "attempts": info.attempts if is_map else None,
    }


# --- HTTP endpoints ----------------------------------------------------------------------


def print_endpoint(endpoint: Endpoint) -> None:
    """A served endpoint: where it answers and how to call it (never its token)."""
    print(
        f"{endpoint.name}: {endpoint.status}, {endpoint.replicas_running}/{endpoint.wanted} "
        f"replicas on {endpoint.cluster}\n"
        f"  url        {endpoint.url}"
        + (f"\n  public url {endpoint.public_url}" if endpoint.public_url else "")
        + "\n  call it    curl -H \"Authorization: Bearer $TOKEN\" -d '{...}' "
        f"{endpoint.url}\n"
        f"  token      rhcli -c {endpoint.cluster} --json endpoints --show-token",
        flush=True,
    )


def print_endpoints(found: list[Endpoint]) -> None:
    if not found:
        print("no endpoints")
        return
    rows = [("NAME", "ROUTE", "REPLICAS", "STATUS", "URL")]
    for e in found:
        url = e.url + (f"  (public: {e.public_url})" if e.public_url else "")
        rows.append((e.name, e.route, f"{e.replicas_running}/{e.wanted}", e.status, url))
    _print_table(rows)
    for e in found:
        if e.message and e.status != "running":
            print(f"{e.name}: {e.message}")


def _print_table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


# --- the dashboard -----------------------------------------------------------------------


def print_dashboard_started(started: Any) -> None:
    """The address to open (with its token: this is the user's own terminal)."""
    if context.current.json:
        context.emit_json({"cluster": started.cluster, "url": started.url, "port": started.port})
        return
    print(f"Dashboard for {started.cluster}: {started.url}   (Ctrl-C to stop)", flush=True)
