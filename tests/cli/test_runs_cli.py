"""The CLI of runs that outlive the call: run --detach, get, enqueue, map, runs, cancel.

Every command runs as the real `rhcli` console script against the session's daemon.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import rhcli as rh
from tests.conftest import REPO, run_cli

FUNCS = "tests.fixtures.funcs"
RUN_ID = re.compile(r"^[A-Za-z0-9_-]+-\d{8}-\d{6}-[0-9a-f]{6,}$")


def _detach(*args: str) -> str:
    done = run_cli("run", "--detach", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _json_lines(text: str) -> list:
    return [json.loads(line) for line in text.splitlines()]


def _count_runs(local, function: str) -> int:
    return len(rh.runs(cluster=local, function=function, limit=100_000, include_items=True))


# --- run --detach and get -------------------------------------------------------------------


def test_run_detach_prints_only_the_run_id_and_get_prints_the_result(local) -> None:
    done = run_cli("run", f"{FUNCS}:sleep_then", "0.5", '"slept"', "--detach")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1
    run_id = done.stdout.strip()
    assert RUN_ID.match(run_id), done.stdout
    assert run_id.startswith("sleep_then-")

    got = run_cli("get", run_id)
    assert got.returncode == 0, got.stderr
    assert got.stdout == '"slept"\n'
    assert rh.get(run_id, cluster=local) == "slept"  # the same run, seen from Python


def test_run_detach_with_json_prints_one_document(local) -> None:
    done = run_cli("--json", "run", f"{FUNCS}:add", "1", "2", "--detach")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["status"] == "running"
    assert RUN_ID.match(document["run_id"])
    got = run_cli("--json", "get", document["run_id"])
    assert json.loads(got.stdout)["result"] == 3


def test_get_no_wait_on_a_running_run_exits_4_and_cancel_twice_stops_it(local) -> None:
    run_id = _detach(f"{FUNCS}:sleep_then", "60")
    started = time.monotonic()
    pending = run_cli("get", run_id, "--no-wait")
    assert pending.returncode == 4
    assert pending.stdout == ""
    assert f"run {run_id} has not ended yet (running)" in pending.stderr
    assert f"rhcli cancel {run_id}" in pending.stderr

    first = run_cli("cancel", run_id)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"{run_id}: cancelled"
    second = run_cli("cancel", run_id)  # a no-op once it ended
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == f"{run_id}: cancelled"
    assert time.monotonic() - started < 30

    got = run_cli("get", run_id)
    assert got.returncode == 1
    assert "cancelled" in got.stderr


def test_get_output_writes_the_result_as_json(local, tmp_path: Path) -> None:
    run_id = _detach(f"{FUNCS}:echo", '"A dog."', "steps=50")
    out = tmp_path / "result.json"
    got = run_cli("get", run_id, "--output", str(out))
    assert got.returncode == 0, got.stderr
    assert got.stdout == ""
    assert json.loads(out.read_text()) == {"args": ["A dog."], "kwargs": {"steps": 50}}


def test_get_output_writes_a_bytes_result_as_raw_bytes(local, tmp_path: Path) -> None:
    for size in (1000, 5 * 1000 * 1000):  # inline, and streamed in chunks
        run_id = _detach(f"{FUNCS}:make_bytes", str(size))
        out = tmp_path / f"result-{size}.bin"
        got = run_cli("get", run_id, "-o", str(out))
        assert got.returncode == 0, got.stderr
        assert out.read_bytes() == b"x" * size
    assert not list(tmp_path.glob(".*.part"))  # written whole, then renamed


def test_get_of_a_failed_run_exits_1_with_the_remote_traceback_on_stderr(local) -> None:
    run_id = _detach(f"{FUNCS}:fail", '"broken for the CLI"')
    got = run_cli("get", run_id)
    assert got.returncode == 1
    assert got.stdout == ""
    assert "Traceback (most recent call last)" in got.stderr
    assert "in fail" in got.stderr
    assert "CustomError: broken for the CLI" in got.stderr
    assert run_id in got.stderr


def test_get_of_an_unknown_run_id_exits_2(local) -> None:
    got = run_cli("get", "nothing-20200101-000000-abcdef")
    assert got.returncode == 2
    assert "no run nothing-20200101-000000-abcdef" in got.stderr
    assert "rhcli runs" in got.stderr
    assert run_cli("cancel", "nothing-20200101-000000-abcdef").returncode == 2


def test_get_without_a_run_id_is_a_usage_error(local) -> None:
    got = run_cli("get")
    assert got.returncode == 2
    assert "Missing argument" in got.stderr


# --- enqueue ----------------------------------------------------------------------------------


def test_enqueue_runs_through_the_queue_and_prints_the_result(local) -> None:
    done = run_cli("enqueue", f"{FUNCS}:add", "2", "3")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "5\n"
    detached = run_cli("--json", "enqueue", f"{FUNCS}:add", "4", "5", "--detach")
    document = json.loads(detached.stdout)
    assert document["status"] == "queued"
    assert rh.get(document["run_id"], cluster=local) == 9


# --- map ----------------------------------------------------------------------------------


def test_map_prints_json_lines_in_input_order(local, tmp_path: Path) -> None:
    done = run_cli("map", f"{FUNCS}:sleep_then", "0.3", "0.2", "0.1", "0", "value=7")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "7\n7\n7\n7\n"
    added = run_cli("map", f"{FUNCS}:add", "1", "2", "3", "b=10")
    assert added.returncode == 0, added.stderr
    assert _json_lines(added.stdout) == [11, 12, 13]

    out = tmp_path / "out.jsonl"
    to_file = run_cli("map", f"{FUNCS}:add", "1", "2", "b=1", "--output", str(out))
    assert to_file.returncode == 0, to_file.stderr
    assert to_file.stdout == ""
    assert _json_lines(out.read_text()) == [2, 3]


def test_map_input_lines_are_arrays_objects_or_single_values(local, tmp_path: Path) -> None:
    lines = [
        '["A dog.", 1]',
        '{"args": ["A cat."], "kwargs": {"steps": 20}}',
        "",
        '"A biscuit."',
        '{"prompt": "not args: one value"}',
        "42",
    ]
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("\n".join(lines) + "\n")
    done = run_cli("map", f"{FUNCS}:echo", "--input", str(inputs), "steps=50")
    assert done.returncode == 0, done.stderr
    assert _json_lines(done.stdout) == [
        {"args": ["A dog.", 1], "kwargs": {"steps": 50}},
        {"args": ["A cat."], "kwargs": {"steps": 20}},
        {"args": ["A biscuit."], "kwargs": {"steps": 50}},
        {"args": [{"prompt": "not args: one value"}], "kwargs": {"steps": 50}},
        {"args": [42], "kwargs": {"steps": 50}},
    ]


def test_map_input_from_stdin(local) -> None:
    rhcli = Path(sys.executable).parent / "rhcli"
    done = subprocess.run(
        [str(rhcli), "map", f"{FUNCS}:add", "--input", "-", "b=1"],
        input="1\n2\n",
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert _json_lines(done.stdout) == [2, 3]


def test_map_input_with_an_invalid_line_exits_2_naming_it_and_sends_nothing(
    local, tmp_path: Path
) -> None:
    inputs = tmp_path / "bad.jsonl"
    inputs.write_text('["fine"]\n["also fine"]\n{not json\n["never read"]\n')
    before = _count_runs(local, "echo")
    done = run_cli("map", f"{FUNCS}:echo", "--input", str(inputs))
    assert done.returncode == 2
    assert f"{inputs}:3: not valid JSON" in done.stderr
    assert "nothing was sent" in done.stderr
    assert done.stdout == ""
    assert _count_runs(local, "echo") == before


def test_map_with_failed_items_exits_5_listing_them_on_stderr(local) -> None:
    done = run_cli("map", f"{FUNCS}:fail_on", "0", "1", "2", "3", "bad=[1, 3]")
    assert done.returncode == 5
    assert _json_lines(done.stdout) == [0, None, 2, None]
    listed = re.findall(r"^item (\d+) \((\S+)\): (.*)$", done.stderr, re.MULTILINE)
    assert [int(index) for index, _, _ in listed] == [1, 3]
    for index, item_id, error in listed:
        assert item_id.endswith(f".{index}")
        assert error == f"tests.fixtures.funcs.CustomError: item {index} is bad"
    assert "2 of 4 items failed" in done.stderr


def test_get_of_a_map_prints_its_items_lines_again_and_its_exit_code(local, tmp_path: Path) -> None:
    done = run_cli("map", f"{FUNCS}:fail_on", "0", "1", "2", "bad=[1]")
    assert done.returncode == 5
    (map_id,) = re.findall(r"\(map (\S+)\)", done.stderr)

    again = run_cli("get", map_id)
    assert again.returncode == 5
    assert again.stdout == done.stdout
    assert f"item 1 ({map_id}.1): tests.fixtures.funcs.CustomError: item 1 is bad" in again.stderr

    echoed = rh.function(f"{FUNCS}:echo", system=local)
    echoed.map(["a", "b"])
    written = tmp_path / "items.jsonl"
    got = run_cli("get", echoed.last_map_id, "--output", str(written))
    assert got.returncode == 0, got.stderr
    assert got.stdout == ""
    assert _json_lines(written.read_text()) == [
        {"args": ["a"], "kwargs": {}},
        {"args": ["b"], "kwargs": {}},
    ]


def test_map_with_return_exceptions_puts_errors_in_place_and_exits_0(local) -> None:
    done = run_cli("map", f"{FUNCS}:fail_on", "0", "1", "2", "bad=[1]", "--return-exceptions")
    assert done.returncode == 0, done.stderr
    results = _json_lines(done.stdout)
    assert results[0] == 0 and results[2] == 2
    assert results[1] == {
        "error": {"type": "tests.fixtures.funcs.CustomError", "message": "item 1 is bad"}
    }


# --- runs and cancel ----------------------------------------------------------------------


def test_runs_lists_runs_as_json_and_as_a_table(local) -> None:
    run_id = _detach(f"{FUNCS}:add", "40", "2")
    assert rh.get(run_id, cluster=local) == 42

    listed = run_cli("--json", "runs", "--limit", "200")
    assert listed.returncode == 0, listed.stderr
    documents = json.loads(listed.stdout)
    assert isinstance(documents, list)
    (mine,) = [d for d in documents if d["run_id"] == run_id]
    assert mine["function"] == "add"
    assert mine["status"] == "succeeded"
    assert mine["created_at"] <= mine["started_at"] <= mine["ended_at"]
    assert mine["duration_s"] >= 0
    newest_first = [d["created_at"] for d in documents]
    assert newest_first == sorted(newest_first, reverse=True)

    table = run_cli("runs", "--function", "add", "--limit", "500")
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["RUN", "ID", "FUNCTION", "STATUS", "STARTED", "DURATION"]
    (row,) = [r for r in rows if r.startswith(run_id)]
    assert row.split()[1:3] == ["add", "succeeded"]
    assert re.search(r"\d+[smhd] ago\s+\d+(ms|\.\d\ds)$", row)  # relative start, duration


def test_runs_items_option_lists_map_items(local) -> None:
    done = run_cli("map", f"{FUNCS}:add", "5", "6", "b=0")
    assert done.returncode == 0, done.stderr
    plain = json.loads(run_cli("--json", "runs", "--limit", "5").stdout)
    assert not any(re.search(r"\.\d+$", d["run_id"]) for d in plain)
    listed = json.loads(run_cli("--json", "runs", "--items", "--limit", "3").stdout)
    by_id = {d["run_id"]: d for d in listed}
    (last_item,) = [i for i in by_id if i.endswith(".1")]
    map_id = last_item.removesuffix(".1")
    assert set(by_id) == {map_id, f"{map_id}.0", f"{map_id}.1"}
    assert by_id[map_id]["items"] == 2
    assert by_id[map_id]["items_failed"] == 0
