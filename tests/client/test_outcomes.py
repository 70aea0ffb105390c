"""Outcomes back: a run's ending as a result, its own exception, or an rhcli error."""

from __future__ import annotations

import dataclasses
import pickle

import cloudpickle
import pytest

import rhcli as rh
from rhcli.errors import (
    EntrypointNotFoundError,
    ExitCode,
    ResourcesUnavailableError,
    ResultNotSerializableError,
    RunError,
)
from rhcli.outcomes import (
    ErrorInfo,
    Outcome,
    error_type,
    outcome_from_message,
    rebuild_exception,
    unwrap,
)
from rhcli.protocol import daemon_pb2 as pb
from tests.fixtures import funcs


def _remote_exception(exc: BaseException, *, pickled: bool = True) -> ErrorInfo:
    cls = type(exc)
    return ErrorInfo(
        type_name=f"{cls.__module__}.{cls.__qualname__}",
        message=str(exc),
        traceback='Traceback (most recent call last):\n  File "remote.py", line 3, in job\n'
        f"{cls.__name__}: {exc}\n",
        pickled=cloudpickle.dumps(exc) if pickled else b"",
    )


def test_rebuilt_exception_has_its_own_type_and_names_the_run() -> None:
    exc = rebuild_exception("job-1", _remote_exception(funcs.CustomError("it broke")))
    assert type(exc) is funcs.CustomError
    assert str(exc) == "it broke (run job-1)"
    assert exc.run_id == "job-1"  # type: ignore[attr-defined]
    assert 'File "remote.py", line 3, in job' in exc.remote_traceback  # type: ignore[attr-defined]


def test_rebuilt_exception_prints_the_remote_traceback_as_a_note() -> None:
    exc = rebuild_exception("job-1", _remote_exception(ValueError("bad")))
    notes = exc.__notes__
    assert len(notes) == 1
    assert notes[0].startswith("Remote traceback of run job-1:\n")
    assert "in job" in notes[0]


def test_rebuilt_exception_without_a_message_keeps_its_args() -> None:
    exc = rebuild_exception("job-1", _remote_exception(KeyError(5)))
    assert type(exc) is KeyError
    assert exc.args == (5,)
    assert exc.run_id == "job-1"  # type: ignore[attr-defined]


def test_rebuilt_os_error_names_the_run_in_its_message() -> None:
    remote = FileNotFoundError(2, "No such file or directory", "data.csv")
    exc = rebuild_exception("job-1", _remote_exception(remote))
    assert type(exc) is FileNotFoundError
    assert exc.errno == 2
    assert exc.filename == "data.csv"
    assert str(exc) == "[Errno 2] No such file or directory (run job-1): 'data.csv'"


def test_exception_that_cannot_be_rebuilt_is_a_remote_error() -> None:
    error = dataclasses.replace(
        _remote_exception(funcs.CustomError("it broke")), pickled=b"\x80\x05garbage"
    )
    exc = rebuild_exception("job-1", error)
    assert isinstance(exc, rh.RemoteError)
    assert exc.type_name == "tests.fixtures.funcs.CustomError"
    assert exc.message == "it broke"
    assert exc.run_id == "job-1"
    assert "in job" in exc.remote_traceback
    assert str(exc) == "tests.fixtures.funcs.CustomError: it broke (run job-1)"
    assert exc.exit_code == ExitCode.FUNCTION_RAISED


def test_exception_sent_without_a_pickle_is_a_remote_error() -> None:
    exc = rebuild_exception("job-1", _remote_exception(ValueError("bad"), pickled=False))
    assert isinstance(exc, rh.RemoteError)
    assert exc.type_name == "builtins.ValueError"


def test_pickled_value_that_is_not_an_exception_is_a_remote_error() -> None:
    error = dataclasses.replace(_remote_exception(ValueError("bad")), pickled=pickle.dumps(42))
    assert isinstance(rebuild_exception("job-1", error), rh.RemoteError)


def test_unwrap_returns_the_result_of_a_succeeded_run() -> None:
    message = pb.RunOutcome(status=pb.SUCCEEDED, result=pickle.dumps({"images": [1, 2]}))
    assert unwrap(outcome_from_message("job-1", message)) == {"images": [1, 2]}


def test_unwrap_raises_the_remote_exception_of_a_raised_run() -> None:
    error = _remote_exception(ValueError("bad"))
    message = pb.RunOutcome(
        status=pb.FAILED, failure=pb.RAISED, error=pb.RemoteException(**dataclasses.asdict(error))
    )
    with pytest.raises(ValueError) as info:
        unwrap(outcome_from_message("job-1", message))
    assert str(info.value) == "bad (run job-1)"


@pytest.mark.parametrize(
    ("status", "failure", "error_class"),
    [
        (pb.TIMED_OUT, pb.TIMEOUT, rh.RunTimeoutError),
        (pb.TIMED_OUT, pb.FAILURE_KIND_UNSPECIFIED, rh.RunTimeoutError),
        (pb.FAILED, pb.WORKER_DIED, rh.WorkerDiedError),
        (pb.FAILED, pb.RESULT_NOT_SERIALIZABLE, ResultNotSerializableError),
        (pb.FAILED, pb.ENTRYPOINT_NOT_FOUND, EntrypointNotFoundError),
        (pb.FAILED, pb.RESOURCES_UNAVAILABLE, ResourcesUnavailableError),
        (pb.FAILED, pb.INTERNAL, RunError),
    ],
)
def test_unwrap_raises_the_rhcli_error_for_each_way_a_run_ends_without_a_result(
    status: int, failure: int, error_class: type[Exception]
) -> None:
    message = pb.RunOutcome(status=status, failure=failure, reason="why it ended")
    with pytest.raises(error_class) as info:
        unwrap(outcome_from_message("job-1", message))
    assert str(info.value) == "run job-1: why it ended"
    if isinstance(info.value, RunError):
        assert info.value.run_id == "job-1"


@pytest.mark.parametrize(
    ("status", "failure"),
    [
        (pb.TIMED_OUT, pb.TIMEOUT),
        (pb.TIMED_OUT, pb.FAILURE_KIND_UNSPECIFIED),
        (pb.FAILED, pb.WORKER_DIED),
        (pb.FAILED, pb.RESULT_NOT_SERIALIZABLE),
        (pb.FAILED, pb.ENTRYPOINT_NOT_FOUND),
        (pb.FAILED, pb.RESOURCES_UNAVAILABLE),
        (pb.FAILED, pb.INTERNAL),
        (pb.FAILED, pb.FAILURE_KIND_UNSPECIFIED),
        (pb.CANCELLED, pb.FAILURE_KIND_UNSPECIFIED),
    ],
)
def test_error_type_names_the_class_unwrap_raises_as_a_traceback_names_it(
    status: int, failure: int
) -> None:
    ended = outcome_from_message("job-1", pb.RunOutcome(status=status, failure=failure))
    with pytest.raises(Exception) as info:
        unwrap(ended)
    cls = type(info.value)
    assert error_type(ended) == f"{cls.__module__}.{cls.__qualname__}"
    assert error_type(ended).startswith("rhcli.errors.")


def test_error_type_of_a_raised_run_is_its_exceptions_without_builtins() -> None:
    for exc, name in [
        (ValueError("bad"), "ValueError"),
        (funcs.CustomError("it broke"), "tests.fixtures.funcs.CustomError"),
    ]:
        error = pb.RemoteException(**dataclasses.asdict(_remote_exception(exc)))
        message = pb.RunOutcome(status=pb.FAILED, failure=pb.RAISED, error=error)
        assert error_type(outcome_from_message("job-1", message)) == name


def test_run_timeout_error_is_also_a_timeout_error() -> None:
    assert issubclass(rh.RunTimeoutError, TimeoutError)
    assert rh.RunTimeoutError.exit_code == ExitCode.TIMED_OUT


def test_an_outcome_reads_every_field_of_its_message_as_plain_values() -> None:
    message = pb.RunOutcome(
        status=pb.SUCCEEDED,
        result=b"pickled",
        result_json="[1]",
        result_repr="[1]",
        started_at=10.0,
        ended_at=12.5,
    )
    outcome = outcome_from_message("job-1", message)
    assert outcome == Outcome(
        run_id="job-1",
        status="succeeded",
        result=b"pickled",
        result_json="[1]",
        result_repr="[1]",
        started_at=10.0,
        ended_at=12.5,
    )
    assert outcome.ended and outcome.duration_s == 2.5


def test_an_outcome_still_running_has_no_end_and_no_json() -> None:
    outcome = outcome_from_message("job-1", pb.RunOutcome(status=pb.RUNNING, started_at=3.0))
    assert outcome.status == "running" and not outcome.ended
    assert outcome.ended_at is None and outcome.duration_s is None
    assert outcome.result_json is None and outcome.failure == ""


def test_a_large_result_left_behind_is_fetched_once_into_the_outcome() -> None:
    left = Outcome(run_id="job-1", status="succeeded", result_size=3)
    fetched = left.fetch_result(lambda run_id: bytearray(b"abc") if run_id == "job-1" else b"")
    assert fetched.result == b"abc" and fetched.result_size == 0
    assert fetched.fetch_result(lambda run_id: pytest.fail("fetched twice")) == fetched
