"""`.map()` and `.starmap()` through the session's real daemon: DESIGN.md's broadcasting,
input order, real parallelism on Ray, failures in place or raised."""

from __future__ import annotations

import random
import time

import pytest

import rhcli as rh
from tests.fixtures import funcs


def _calls(results: list[dict]) -> list[tuple[list, dict]]:
    return [(r["args"], r["kwargs"]) for r in results]


def test_map_broadcasts_list_keywords_per_call_as_in_the_seed_example(local) -> None:
    generate = rh.function(funcs.echo, system=local)
    results = generate.map(["A dog.", "A cat.", "A biscuit."], num_images=[1] * 3, steps=[50] * 3)
    assert _calls(results) == [
        (["A dog."], {"num_images": 1, "steps": 50}),
        (["A cat."], {"num_images": 1, "steps": 50}),
        (["A biscuit."], {"num_images": 1, "steps": 50}),
    ]


def test_map_call_i_gets_item_i_of_every_list(local) -> None:
    echo = rh.function(funcs.echo, system=local)
    results = echo.map(["a", "b", "c"], [10, 20, 30], num_images=(1, 2, 3), steps=[5, 6, 7])
    assert _calls(results) == [
        (["a", 10], {"num_images": 1, "steps": 5}),
        (["b", 20], {"num_images": 2, "steps": 6}),
        (["c", 30], {"num_images": 3, "steps": 7}),
    ]


def test_map_gives_a_constant_keyword_to_every_call(local) -> None:
    echo = rh.function(funcs.echo, system=local)
    options = {"scale": [1, 2]}
    results = echo.map(["A dog.", "A cat."], steps=50, mode="fast", options=options, seeds=[7, 8])
    assert _calls(results) == [
        (["A dog."], {"steps": 50, "mode": "fast", "options": options, "seeds": 7}),
        (["A cat."], {"steps": 50, "mode": "fast", "options": options, "seeds": 8}),
    ]


def test_map_of_a_generator_and_a_range(local) -> None:
    add = rh.function(funcs.add, system=local)
    assert add.map((i for i in range(4)), range(10, 14)) == [10, 12, 14, 16]


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((["a", "b", "c"],), {"steps": [1, 2]}),
        ((["a", "b"], [1, 2, 3]), {}),
        ((["a", "b"],), {"num_images": (1, 2, 3)}),
    ],
    ids=["keyword-shorter", "iterables-differ", "tuple-keyword-longer"],
)
def test_map_length_mismatch_raises_value_error_before_sending(local, args, kwargs) -> None:
    name = "echo_mismatch"
    echo = rh.function(funcs.echo, system=local, name=name)
    with pytest.raises(ValueError, match="differ in length"):
        echo.map(*args, **kwargs)
    assert rh.runs(cluster=local, function=name, include_items=True) == []


def test_starmap_unpacks_tuples_and_gives_every_keyword_to_every_call(local) -> None:
    echo = rh.function(funcs.echo, system=local)
    results = echo.starmap([("A dog.", 1), ("A cat.", 2), ("A biscuit.",)], steps=[50, 60])
    assert _calls(results) == [
        (["A dog.", 1], {"steps": [50, 60]}),
        (["A cat.", 2], {"steps": [50, 60]}),
        (["A biscuit."], {"steps": [50, 60]}),
    ]
    assert rh.function(funcs.add, system=local).starmap([(1, 2), [3, 4]]) == [3, 7]


def test_map_returns_results_in_input_order_whatever_order_they_finish_in(local) -> None:
    rng = random.Random(3)
    delays = [rng.choice([0.0, 0.05, 0.15]) for _ in range(24)]
    sleep_then = rh.function(funcs.sleep_then, system=local)
    assert sleep_then.map(delays, value=list(range(24))) == list(range(24))


def test_map_runs_items_in_parallel_on_several_workers(local) -> None:
    sleep_pid = rh.function(funcs.sleep_pid, system=local)
    sleep_pid.map([0.0] * 2)  # warm the workers, as a real batch would find them
    started = time.monotonic()
    pids = sleep_pid.map([0.1] * 50)
    elapsed = time.monotonic() - started
    assert len(pids) == 50
    assert len(set(pids)) > 1, "every item ran in one worker process"
    serial = 50 * 0.1
    assert elapsed < serial, f"50 items of 0.1 s took {elapsed:.2f} s: not parallel"


def test_map_with_return_exceptions_puts_each_exception_in_its_place(local) -> None:
    fail_on = rh.function(funcs.fail_on, system=local)
    results = fail_on.map(range(6), bad=frozenset({1, 4}), return_exceptions=True)
    assert [results[i] for i in (0, 2, 3, 5)] == [0, 2, 3, 5]
    for index in (1, 4):
        error = results[index]
        assert isinstance(error, funcs.CustomError)
        assert f"item {index} is bad" in str(error)
        assert error.run_id == f"{fail_on.last_map_id}.{index}"


def test_map_without_return_exceptions_raises_the_first_failed_items_exception(local) -> None:
    fail_on = rh.function(funcs.fail_on, system=local)
    with pytest.raises(funcs.CustomError) as caught:
        fail_on.map(range(6), bad=frozenset({4, 1}))
    assert "item 1 is bad" in str(caught.value)
    assert caught.value.run_id == f"{fail_on.last_map_id}.1"
    notes = "\n".join(getattr(caught.value, "__notes__", []))
    assert "item 1 failed (2 of 6 items failed)" in notes


def test_map_of_100000_small_items_completes_with_correct_results(local) -> None:
    add = rh.function(funcs.add, system=local)
    started = time.monotonic()
    results = add.map(range(100_000), b=1)
    elapsed = time.monotonic() - started
    print(f"\n100,000-item map of add: {elapsed:.1f} s ({100_000 / elapsed:,.0f} items/s)")
    assert results == list(range(1, 100_001))
    (record,) = [r for r in rh.runs(cluster=local, limit=5) if r.run_id == add.last_map_id]
    assert record.items == 100_000
    assert record.items_failed == 0
