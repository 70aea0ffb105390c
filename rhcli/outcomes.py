"""How runs end, as the library hands it out: the result, or the error that stands for it.

An ``Outcome`` is a run's ending in plain values (no protobuf past this module): its
status, the pickled result or the remote exception, and its times. ``unwrap`` turns it
into what a call returns: the result, or the remote exception raised as its own type
(with the run id and the remote traceback attached), or an rhcli error that says why the
run ended without one.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from rhcli.errors import (
    EntrypointNotFoundError,
    RemoteError,
    ResourcesUnavailableError,
    ResultNotSerializableError,
    RunCancelledError,
    RunError,
    RunTimeoutError,
    WaitTimeoutError,
    WorkerDiedError,
)

ENDED = frozenset({"succeeded", "failed", "cancelled", "timed_out"})

# Streams a result too large to have travelled inline: fetch(run id) -> its pickle.
Fetch = Callable[[str], "bytes | bytearray"]


@dataclass(frozen=True)
class ErrorInfo:
    """What the function raised, as the cluster described it."""

    type_name: str  # module-qualified, e.g. "builtins.ValueError"
    message: str
    traceback: str  # the remote traceback, formatted
    pickled: bytes = b""  # the exception itself, when it survived a pickle round trip


@dataclass(frozen=True)
class Outcome:
    """How a run ended, or (status queued or running) that it has not yet.

    status: queued, running, succeeded, failed, cancelled or timed_out. failure names why
    a run failed ("" when it did not): raised, entrypoint_not_found, worker_died,
    result_not_serializable, timeout, resources_unavailable or internal. result is the
    pickled result; result_size > 0 says it was too large to travel inline and must be
    fetched (``fetch_result``). result_json is set when the caller asked for JSON and the
    result is JSON.
    """

    run_id: str
    status: str
    failure: str = ""
    reason: str = ""
    result: bytes = b""
    result_json: str | None = None
    result_repr: str = ""
    result_size: int = 0
    error: ErrorInfo | None = None
    started_at: float | None = None
    ended_at: float | None = None
    worker: str = ""  # the worker that ran it, "ADDRESS:PID"; "" when none did

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return max(0.0, self.ended_at - self.started_at)

    def fetch_result(self, fetch: Fetch) -> Outcome:
        """This outcome with a result left behind for its size fetched into result."""
        if not self.result_size:
            return self
        from dataclasses import replace

        return replace(self, result=bytes(fetch(self.run_id)), result_size=0)


def outcome_from_message(run_id: str, message: Any) -> Outcome:
    """The Outcome of a protocol RunOutcome message (the one place that reads one).

    On every call's path: the name tables are looked up once, not imported per call.
    """
    names = _NAMES or _load_names()
    error = message.error
    type_name = error.type_name
    traceback = error.traceback
    return Outcome(
        run_id,
        names[0].get(message.status, "unknown"),
        names[1].get(message.failure, "internal"),
        message.reason,
        message.result,
        message.result_json if message.HasField("result_json") else None,
        message.result_repr,
        message.result_size,
        ErrorInfo(type_name, error.message, traceback, error.pickled)
        if type_name or traceback
        else None,
        message.started_at or None,
        message.ended_at or None,
        message.worker,
    )


_NAMES: list[dict[int, str]] = []


def _load_names() -> list[dict[int, str]]:
    # Imported on first use: the CLI imports this module, and `rhcli --help` should not
    # load the protocol's stubs.
    from rhcli.protocol.statuses import FAILURE_NAMES, STATUS_NAMES

    _NAMES[:] = [STATUS_NAMES, FAILURE_NAMES]
    return _NAMES


def unwrap(outcome: Outcome, fetch: Fetch | None = None, *, entrypoint: str = "") -> Any:
    """The run's result; raises what the run ended with otherwise.

    fetch(run_id) streams a result too large to have travelled inline.
    """
    run_id = outcome.run_id
    if outcome.status == "succeeded":
        if outcome.result_size and fetch is not None:
            return pickle.loads(fetch(run_id))
        return pickle.loads(outcome.result)
    if outcome.status in ("queued", "running"):
        raise WaitTimeoutError(
            f"run {run_id} has not ended yet (still {outcome.status})", run_id=run_id
        )
    if outcome.status == "cancelled":
        raise RunCancelledError(f"run {run_id} was cancelled", run_id=run_id)
    raise_failure(outcome, entrypoint=entrypoint)


def raise_failure(outcome: Outcome, *, entrypoint: str = "") -> NoReturn:
    """Raise the error that stands for a failed (or timed-out) run."""
    run_id = outcome.run_id
    failure = outcome.failure
    if failure == "raised":
        raise rebuild_exception(run_id, outcome.error or ErrorInfo("", outcome.reason, ""))
    message = f"run {run_id}: {outcome.reason}"
    if failure == "entrypoint_not_found":
        raise EntrypointNotFoundError(
            message,
            entrypoint=entrypoint,
            run_id=run_id,
            remote_traceback=outcome.error.traceback if outcome.error else "",
        )
    if failure == "timeout" or outcome.status == "timed_out":
        raise RunTimeoutError(message, run_id=run_id)
    if failure == "worker_died":
        raise WorkerDiedError(message, run_id=run_id)
    if failure == "result_not_serializable":
        raise ResultNotSerializableError(message, run_id=run_id)
    if failure == "resources_unavailable":
        raise ResourcesUnavailableError(message)
    raise RunError(message, run_id=run_id)


# The class unwrap() raises for a run that ended without a result, by failure kind (or
# status, for a cancelled run); a raised run's is the function's own exception's.
_FAILURE_CLASSES: dict[str, type[BaseException]] = {
    "entrypoint_not_found": EntrypointNotFoundError,
    "worker_died": WorkerDiedError,
    "result_not_serializable": ResultNotSerializableError,
    "timeout": RunTimeoutError,
    "resources_unavailable": ResourcesUnavailableError,
}


def error_type(outcome: Outcome) -> str:
    """The name of the exception a failed run stands for, in one style: as a Python
    traceback names a class (``ZeroDivisionError``, ``mypkg.errors.BadInput``,
    ``rhcli.errors.RunTimeoutError``). For a run that raised, its exception's class; for
    any other ending, the rhcli error ``unwrap`` raises for it."""
    if outcome.failure == "raised" and outcome.error is not None and outcome.error.type_name:
        return traceback_name(outcome.error.type_name)
    if outcome.status == "cancelled":
        cls: type[BaseException] = RunCancelledError
    elif outcome.status == "timed_out":
        cls = RunTimeoutError
    else:
        cls = _FAILURE_CLASSES.get(outcome.failure, RunError)
    return traceback_name(f"{cls.__module__}.{cls.__qualname__}")


def traceback_name(qualified: str) -> str:
    """A module-qualified class name as a traceback shows it: builtins.ValueError is
    ValueError; any other name stays as it is."""
    return qualified.removeprefix("builtins.")


def rebuild_exception(run_id: str, error: ErrorInfo) -> BaseException:
    """The remote exception as its own type when it unpickles here, else RemoteError.

    Its message gains the run id; the remote traceback is attached as
    ``remote_traceback`` and as a note, so a local traceback print shows it.
    """
    exc: BaseException | None = None
    if error.pickled:
        try:
            exc = pickle.loads(error.pickled)
        except Exception:  # its class is not importable here
            exc = None
    # SystemExit and KeyboardInterrupt are the remote process's business: raised here they
    # would end or interrupt the caller's own program.
    if not isinstance(exc, Exception):
        return RemoteError(
            type_name=error.type_name,
            message=error.message,
            remote_traceback=error.traceback,
            run_id=run_id,
        )
    if exc.args and isinstance(exc.args[0], str):
        exc.args = (f"{exc.args[0]} (run {run_id})", *exc.args[1:])
    elif isinstance(exc, OSError) and isinstance(exc.strerror, str):
        # OSError(errno, strerror, filename) prints from its fields, not its args.
        exc.strerror = f"{exc.strerror} (run {run_id})"
    exc.run_id = run_id  # type: ignore[attr-defined]
    exc.remote_traceback = error.traceback  # type: ignore[attr-defined]
    note = f"Remote traceback of run {run_id}:\n{error.traceback.rstrip()}"
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:  # Python 3.10: kept for callers, not printed by the interpreter
        exc.__notes__ = [note]  # type: ignore[attr-defined]
    return exc
