"""The call payload: run ids, arguments out, and outcomes back as results or exceptions."""

from __future__ import annotations

import pickle
import re
import threading
import time

import cloudpickle
import pytest

import rhcli as rh
from rhcli.errors import (
    ArgumentNotSerializableError,
    EntrypointNotFoundError,
    ExitCode,
    ResourcesUnavailableError,
    ResultNotSerializableError,
    RunError,
)
from rhcli.args import dump_args, new_run_id, rebuild_exception, unwrap
from rhcli.protocol import daemon_pb2 as pb
from tests.fixtures import funcs

RUN_ID = re.compile(r"^(?P<name>.+)-(?P<date>\d{8})-(?P<time>\d{6})-(?P<suffix>[0-9a-f]+)$")


# --- run ids -------------------------------------------------------------------------------


def test_run_id_reads_as_name_utc_time_and_random_suffix() -> None:
    before = time.gmtime(time.time() - 1)
    run_id = new_run_id("generate")
    after = time.gmtime(time.time() + 1)
    match = RUN_ID.match(run_id)
    assert match, run_id
    assert match["name"] == "generate"
    stamp = time.strptime(match["date"] + match["time"], "%Y%m%d%H%M%S")
    assert before[:6] <= stamp[:6] <= after[:6]


def test_run_ids_are_unique_even_when_many_are_made_in_one_second() -> None:
    # A map over many inputs makes thousands of ids in the same second; one collision
    # would make the daemon refuse a call as a different payload under an existing id.
    ids = [new_run_id("generate") for _ in range(20_000)]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    ("function_name", "prefix"),
    [
        ("Pipeline.generate", "Pipeline-generate"),
        ("my fn/v2", "my-fn-v2"),
        ("lambda", "lambda"),
        ("<lambda>", "lambda"),
        ("snake_case-name", "snake_case-name"),
        ("€€€", "run"),
        ("", "run"),
        ("x" * 100, "x" * 40),
    ],
)
def test_run_id_name_part_is_safe_and_bounded(function_name: str, prefix: str) -> None:
    match = RUN_ID.match(new_run_id(function_name))
    assert match
    assert match["name"] == prefix


# --- arguments -----------------------------------------------------------------------------


def test_dump_args_round_trips_args_and_kwargs() -> None:
    payload, depends_on = dump_args((1, "two", [3.0]), {"flag": True, "fn": funcs.add})
    args, kwargs = pickle.loads(payload)
    assert args == (1, "two", [3.0])
    assert kwargs == {"flag": True, "fn": funcs.add}
    assert depends_on == []


def test_dump_args_carries_lambdas_by_value() -> None:
    args, _ = pickle.loads(dump_args((lambda x: x + 1,), {})[0])
    assert args[0](1) == 2


def test_unpicklable_positional_argument_is_named_by_position_and_type() -> None:
    with pytest.raises(ArgumentNotSerializableError) as info:
        dump_args((1, threading.Lock()), {})
    assert info.value.argument == "#2 (lock)"
    assert "argument #2 (lock) cannot be sent to the cluster" in str(info.value)
    assert "Pass a picklable value" in str(info.value)
    assert info.value.exit_code == ExitCode.USAGE
    assert isinstance(info.value.__cause__, Exception)


def test_unpicklable_keyword_argument_is_named_by_keyword() -> None:
    with pytest.raises(ArgumentNotSerializableError) as info:
        dump_args((1,), {"ok": 2, "handle": threading.Lock()})
    assert info.value.argument == "handle= (lock)"


def test_unpicklable_value_nested_in_an_argument_names_that_argument() -> None:
    with pytest.raises(ArgumentNotSerializableError) as info:
        dump_args(([1, {"lock": threading.Lock()}],), {})
    assert info.value.argument == "#1 (list)"


# --- outcomes ------------------------------------------------------------------------------


def _remote_exception(exc: BaseException, *, pickled: bool = True) -> pb.RemoteException:
    cls = type(exc)
    return pb.RemoteException(
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
    error = _remote_exception(funcs.CustomError("it broke"))
    error.pickled = b"\x80\x05garbage"
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
    error = _remote_exception(ValueError("bad"))
    error.pickled = pickle.dumps(42)
    assert isinstance(rebuild_exception("job-1", error), rh.RemoteError)


def test_unwrap_returns_the_result_of_a_succeeded_run() -> None:
    outcome = pb.RunOutcome(status=pb.SUCCEEDED, result=pickle.dumps({"images": [1, 2]}))
    assert unwrap("job-1", outcome) == {"images": [1, 2]}


def test_unwrap_raises_the_remote_exception_of_a_raised_run() -> None:
    outcome = pb.RunOutcome(
        status=pb.FAILED, failure=pb.RAISED, error=_remote_exception(ValueError("bad"))
    )
    with pytest.raises(ValueError) as info:
        unwrap("job-1", outcome)
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
    outcome = pb.RunOutcome(status=status, failure=failure, reason="why it ended")
    with pytest.raises(error_class) as info:
        unwrap("job-1", outcome)
    assert str(info.value) == "run job-1: why it ended"
    if isinstance(info.value, RunError):
        assert info.value.run_id == "job-1"


def test_run_timeout_error_is_also_a_timeout_error() -> None:
    assert issubclass(rh.RunTimeoutError, TimeoutError)
    assert rh.RunTimeoutError.exit_code == ExitCode.TIMED_OUT
