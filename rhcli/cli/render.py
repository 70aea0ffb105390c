"""Printing a run's outcome, and the exit code it maps to.

Results print as JSON when they are JSON, else as their repr; a failure prints the remote
traceback and one line on stderr. With --json, one document on stdout either way.
"""

from __future__ import annotations

import json
from typing import Any

from rhcli.cli import context
from rhcli.errors import ExitCode
from rhcli.protocol import daemon_pb2 as pb
from rhcli.protocol.statuses import STATUS_NAMES

_FAILURE_EXIT = {
    pb.ENTRYPOINT_NOT_FOUND: ExitCode.USAGE,
    pb.TIMEOUT: ExitCode.TIMED_OUT,
    pb.RESOURCES_UNAVAILABLE: ExitCode.UNREACHABLE,
}


def exit_code_for(outcome: pb.RunOutcome) -> ExitCode:
    if outcome.status == pb.SUCCEEDED:
        return ExitCode.OK
    if outcome.status == pb.TIMED_OUT:
        return ExitCode.TIMED_OUT
    return _FAILURE_EXIT.get(outcome.failure, ExitCode.FUNCTION_RAISED)


def outcome_document(run_id: str, outcome: pb.RunOutcome) -> dict[str, Any]:
    """The JSON form of an outcome (what `--json` prints)."""
    document: dict[str, Any] = {
        "run_id": run_id,
        "status": STATUS_NAMES.get(outcome.status, "unknown"),
    }
    if outcome.status == pb.SUCCEEDED:
        document["result"] = (
            json.loads(outcome.result_json) if outcome.HasField("result_json") else None
        )
        document["result_repr"] = outcome.result_repr
    else:
        document["error"] = {
            "type": outcome.error.type_name or pb.FailureKind.Name(outcome.failure).lower(),
            "message": outcome.error.message or outcome.reason,
            "reason": outcome.reason,
            "traceback": outcome.error.traceback,
        }
    if outcome.started_at:
        document["duration_s"] = round(max(0.0, outcome.ended_at - outcome.started_at), 6)
    return document


def render_outcome(run_id: str, outcome: pb.RunOutcome) -> ExitCode:
    """Print the outcome the way the global options ask; returns the exit code."""
    code = exit_code_for(outcome)
    if context.current.json:
        context.emit_json(outcome_document(run_id, outcome))
    elif outcome.status == pb.SUCCEEDED:
        text = outcome.result_json if outcome.HasField("result_json") else outcome.result_repr
        print(text, flush=True)
    if code != ExitCode.OK:
        if outcome.error.traceback and outcome.failure == pb.RAISED:
            tb = outcome.error.traceback
            context.err(tb.rstrip("\n"))
        context.err(
            f"error: run {run_id} {STATUS_NAMES.get(outcome.status, 'failed')}: {outcome.reason}"
        )
    return code
