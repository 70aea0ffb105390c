"""Arguments out, results and exceptions back: the client's half of the call payload.

Arguments are pickled here, before anything is sent, so an argument that cannot travel is
refused by name. A run's outcome becomes the result, or the remote exception raised as its
own type (with the run id and the remote traceback attached), or an rhcli error that says
why the run ended without one.
"""

from __future__ import annotations

import os
import pickle
import re
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import cloudpickle

from rhcli.errors import (
    ArgumentNotSerializableError,
    ArgumentTooLargeError,
    EntrypointNotFoundError,
    RemoteError,
    ResourcesUnavailableError,
    ResultNotSerializableError,
    RhcliError,
    RunCancelledError,
    RunError,
    RunTimeoutError,
    WaitTimeoutError,
    WorkerDiedError,
)
from rhcli.runref import sending_to
from rhcli.protocol import daemon_pb2 as pb

if TYPE_CHECKING:
    from rhcli.clusters.base import Cluster

_PICKLE_PROTOCOL = 5

MAX_ARG_BYTES_ENV = "RHCLI_MAX_ARG_BYTES"
# The default stays above what the daemon's messages and blobs carry well (results and
# arguments of 500 MB are tested) and below what would take a small cluster's memory.
DEFAULT_MAX_ARG_BYTES = 1024 * 1024 * 1024


def max_arg_bytes() -> int:
    """The largest pickled (args, kwargs) a call may send: $RHCLI_MAX_ARG_BYTES or 1 GiB.

    The daemon reads the same variable (or --max-arg-bytes) and refuses larger uploads.
    """
    raw = os.environ.get(MAX_ARG_BYTES_ENV, "")
    try:
        return int(raw) if raw else DEFAULT_MAX_ARG_BYTES
    except ValueError:
        from rhcli.errors import UsageError

        raise UsageError(
            f"{MAX_ARG_BYTES_ENV}={raw!r} is not a whole number of bytes; unset it or set "
            "it to one (for example 104857600 for 100 MiB)"
        ) from None


def check_args_size(
    payload: bytes, args: tuple[Any, ...], kwargs: dict[str, Any], limit: int | None = None
) -> None:
    """Raise ArgumentTooLargeError, naming the largest argument, when payload > limit.

    Only a payload over the limit is looked into (each argument pickled alone), so the
    check costs one comparison on every call that passes it.
    """
    limit = max_arg_bytes() if limit is None else limit
    if len(payload) <= limit:
        return
    sizes: list[tuple[int, str]] = []
    for index, value in enumerate(args):
        sizes.append((_pickled_size(value), f"#{index + 1} ({type(value).__name__})"))
    for key, value in kwargs.items():
        sizes.append((_pickled_size(value), f"{key}= ({type(value).__name__})"))
    largest = max(sizes)[1] if sizes else "list"
    raise ArgumentTooLargeError(argument=largest, size=len(payload), limit=limit)


def _pickled_size(value: Any) -> int:
    try:
        return len(cloudpickle.dumps(value, protocol=_PICKLE_PROTOCOL))
    except Exception:
        return 0


def new_run_id(function_name: str) -> str:
    """Readable and unique: function name, UTC time, random suffix.

    48 random bits: a map makes thousands of ids in one second, and one collision would
    have the daemon refuse a call as another payload under an existing id.
    """
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", function_name).strip("-")[:40] or "run"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"{name}-{stamp}-{secrets.token_hex(6)}"


def dump_args(
    args: tuple[Any, ...], kwargs: dict[str, Any], target: Cluster | None = None
) -> tuple[bytes, list[str]]:
    """Pickle (args, kwargs) for target: (payload, run ids of the RunRefs among them).

    Raises ArgumentNotSerializableError naming the culprit, and UsageError for a RunRef
    of another cluster.
    """
    try:
        if target is None:
            return cloudpickle.dumps((args, kwargs), protocol=_PICKLE_PROTOCOL), []
        with sending_to(target) as depends_on:
            payload: bytes = cloudpickle.dumps((args, kwargs), protocol=_PICKLE_PROTOCOL)
        return payload, sorted(depends_on)
    except RhcliError:
        raise
    except Exception as whole:
        for index, value in enumerate(args):
            _check_one(f"#{index + 1} ({type(value).__name__})", value)
        for key, value in kwargs.items():
            _check_one(f"{key}= ({type(value).__name__})", value)
        raise ArgumentNotSerializableError("list", whole) from whole


def _check_one(label: str, value: Any) -> None:
    try:
        cloudpickle.dumps(value, protocol=_PICKLE_PROTOCOL)
    except Exception as exc:
        raise ArgumentNotSerializableError(label, exc) from exc


def unwrap(
    run_id: str,
    outcome: pb.RunOutcome,
    fetch: Callable[[str], bytes | bytearray] | None = None,
    *,
    entrypoint: str = "",
) -> Any:
    """The run's result; raises what the run ended with otherwise.

    fetch(run_id) streams a result too large to have travelled inline.
    """
    if outcome.status == pb.SUCCEEDED:
        if outcome.result_size and fetch is not None:
            return pickle.loads(fetch(run_id))
        return pickle.loads(outcome.result)
    if outcome.status in (pb.QUEUED, pb.RUNNING):
        raise WaitTimeoutError(
            f"run {run_id} has not ended yet (still "
            f"{'queued' if outcome.status == pb.QUEUED else 'running'})",
            run_id=run_id,
        )
    if outcome.status == pb.CANCELLED:
        raise RunCancelledError(f"run {run_id} was cancelled", run_id=run_id)
    raise_failure(run_id, outcome, entrypoint=entrypoint)


def raise_failure(run_id: str, outcome: pb.RunOutcome, *, entrypoint: str = "") -> NoReturn:
    failure = outcome.failure
    if failure == pb.RAISED:
        raise rebuild_exception(run_id, outcome.error)
    message = f"run {run_id}: {outcome.reason}"
    if failure == pb.ENTRYPOINT_NOT_FOUND:
        raise EntrypointNotFoundError(
            message,
            entrypoint=entrypoint,
            run_id=run_id,
            remote_traceback=outcome.error.traceback,
        )
    if failure == pb.TIMEOUT or outcome.status == pb.TIMED_OUT:
        raise RunTimeoutError(message, run_id=run_id)
    if failure == pb.WORKER_DIED:
        raise WorkerDiedError(message, run_id=run_id)
    if failure == pb.RESULT_NOT_SERIALIZABLE:
        raise ResultNotSerializableError(message, run_id=run_id)
    if failure == pb.RESOURCES_UNAVAILABLE:
        raise ResourcesUnavailableError(message)
    raise RunError(message, run_id=run_id)


def rebuild_exception(run_id: str, error: pb.RemoteException) -> BaseException:
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
