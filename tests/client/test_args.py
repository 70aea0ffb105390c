"""A call's arguments on their way out, and the run ids calls get."""

from __future__ import annotations

import pickle
import re
import threading
import time

import pytest

from rhcli.args import dump_args, dump_call_args
from rhcli.errors import (
    ArgumentNotSerializableError,
    ExitCode,
)
from rhcli.runref import new_run_id
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


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((1, 2), {}),
        (("text", b"bytes", 1.5, None, True, 2j), {"nested": [1, (2, {"k": [3]})]}),
        ((list(range(10_000)),), {}),  # past the plain check's budget: cloudpickle's turn
    ],
)
def test_plain_arguments_pickle_to_the_bytes_cloudpickle_makes(
    args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    import cloudpickle

    payload, depends_on = dump_args(args, kwargs)
    assert payload == cloudpickle.dumps((args, kwargs), protocol=5)
    assert depends_on == []
    assert pickle.loads(payload) == (args, kwargs)


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((1, 2), {}),
        ((b"x" * 3_000_000, bytearray(200_000)), {"fn": funcs.add}),
        ((list(range(100_000)),), {"text": "y" * 500_000}),
    ],
)
def test_a_call_pickled_in_pieces_joins_to_the_payload_of_dump_args(
    args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    pickled, depends_on = dump_call_args(args, kwargs)
    payload, _ = dump_args(args, kwargs)
    assert pickled.joined() == payload
    assert pickled.size == len(payload)
    assert depends_on == []


def test_a_large_argument_is_a_piece_of_the_pickle_itself_not_a_copy() -> None:
    import numpy  # installed with Ray

    data, array = b"x" * 5_000_000, numpy.arange(1_000_000, dtype=numpy.float64)
    pickled, _ = dump_call_args((data,), {"array": array})
    assert any(part is data for part in pickled.parts)
    views = [part for part in pickled.parts if isinstance(part, memoryview)]
    assert len(views) == 1
    assert numpy.shares_memory(numpy.frombuffer(views[0], dtype=numpy.float64), array)
    ((got,), extra) = pickle.loads(pickled.joined())
    assert got == data and (extra["array"] == array).all()


def test_a_function_of_the_main_script_among_plain_values_still_travels_by_value() -> None:
    namespace: dict[str, object] = {"__name__": "__main__"}
    exec("def double(x):\n    return 2 * x\n", namespace)
    payload, _ = dump_args(([1, namespace["double"]],), {})
    (((_, double),), _) = pickle.loads(payload)
    assert double(21) == 42  # unpickled by value, not looked up in this __main__


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
