"""`--json`: one document on stdout, always, with field names and styles that agree across
commands: `cluster` for a cluster, durations to the millisecond, null for what is absent,
error.type named as a Python traceback names the class."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli

FUNCS = "tests.fixtures.funcs"


def document(*args: str, code: int = 0, **kwargs: Any) -> Any:
    done = run_cli("--json", *args, **kwargs)
    assert done.returncode == code, done.stderr
    assert done.stdout.count("\n") == 1, done.stdout  # one document, one line
    return json.loads(done.stdout)


def _detach(*args: str) -> str:
    done = run_cli("run", "--detach", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


# --- one document, always ----------------------------------------------------------------------


def test_version_is_a_document_whichever_order_the_options_come_in() -> None:
    assert document("--version") == {"version": document("--version")["version"]}
    done = run_cli("--version", "--json")
    assert json.loads(done.stdout)["version"]


@pytest.mark.parametrize(
    "args",
    [
        ["frob"],
        ["run"],
        ["run", f"{FUNCS}:add", "--timeout", "abc"],
        ["run", f"{FUNCS}:add", "--timeout", "0"],
        ["enqueue", f"{FUNCS}:add", "--timeout", "-1"],
        ["get", "last", "--timeout", "-5"],
        ["runs", "-n", "-1"],
        ["get", "last", "--timeout", "0"],
    ],
    ids=" ".join,
)
def test_a_usage_error_is_a_document_too(args: list[str]) -> None:
    error = document(*args, code=2)["error"]
    assert error["type"] == "rhcli.errors.UsageError"
    assert error["exit_code"] == 2 and error["message"]


def test_global_options_may_follow_the_command(local: Any) -> None:
    after = run_cli("run", f"{FUNCS}:add", "1", "2", "--json")
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout)["result"] == 3
    listed = run_cli("runs", "-n", "1", "--json", "--cluster", "local")
    assert isinstance(json.loads(listed.stdout), list)
    debugged = run_cli("run", f"{FUNCS}:add", "1", "2", "--debug")
    assert debugged.stdout == "3\n"
    assert "debug " in debugged.stderr and "rhcli.functions: run add-" in debugged.stderr


def test_options_after_double_dash_stay_call_arguments(local: Any) -> None:
    done = run_cli("run", f"{FUNCS}:echo", "--", "--json", "-c")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"args": ["--json", "-c"], "kwargs": {}}


def test_get_of_a_map_is_one_document_holding_each_items_outcome(local: Any) -> None:
    done = run_cli("map", f"{FUNCS}:fail_on", "1", "2", "bad=[2]")
    assert done.returncode == 5
    map_id = document("runs", "-n", "1", "--function", "fail_on")[0]["run_id"]
    got = document("get", map_id, code=5)
    assert (got["run_id"], got["status"], got["items"], got["items_failed"]) == (
        map_id,
        "failed",
        2,
        1,
    )
    first, second = got["outcomes"]
    assert first["result"] == 1 and first["error"] is None
    assert second["result"] is None
    assert second["error"]["type"] == "tests.fixtures.funcs.CustomError"


# --- the same names, styles and nulls everywhere -------------------------------------------------


def test_a_run_document_has_the_same_keys_for_every_ending_and_null_for_absent_values(
    local: Any,
) -> None:
    keys = {"run_id", "status", "result", "result_is_json", "result_repr", "error", "duration_s"}
    ok = document("run", f"{FUNCS}:add", "1", "2")
    failed = document("run", f"{FUNCS}:fail_value", code=1)
    assert set(ok) == set(failed) == keys
    assert ok["error"] is None and ok["result_is_json"] is True
    assert failed["result"] is None and failed["result_repr"] is None
    assert failed["error"]["type"] == "ValueError"


def test_durations_are_seconds_to_the_millisecond_in_every_document(local: Any) -> None:
    run_id = _detach(f"{FUNCS}:sleep_then", "0.2", "1")
    got = document("get", run_id)
    listed = [r for r in document("runs", "-n", "50") if r["run_id"] == run_id]
    status = document("status")
    for value in (got["duration_s"], listed[0]["duration_s"], status["uptime_s"]):
        assert value == round(value, 3)
    assert abs(got["duration_s"] - listed[0]["duration_s"]) < 0.002


def test_a_plain_runs_record_has_null_for_what_only_maps_and_failures_have(local: Any) -> None:
    run_id = _detach(f"{FUNCS}:add", "2", "2")
    document("get", run_id)
    (record,) = [r for r in document("runs", "-n", "50") if r["run_id"] == run_id]
    assert record["reason"] is None and record["parent"] is None
    assert record["items"] is None and record["items_failed"] is None


def test_cluster_commands_all_call_the_cluster_cluster(local: Any) -> None:
    assert document("status")["cluster"] == "local"
    assert document("sync")["cluster"] == "local"
    assert document("install", "-r", "packaging")["cluster"] == "local"


def test_a_cluster_that_is_down_has_null_for_what_only_its_daemon_knows(tmp_path: Path) -> None:
    down = document("status", code=3, env={"RHCLI_HOME": str(tmp_path / "root")})
    assert down["up"] is False and down["cluster"] == "local"
    assert down["pid"] is None and down["version"] is None and down["uptime_s"] is None
    assert down["home"] == str(tmp_path / "root")


# --- error.type: one naming style ----------------------------------------------------------------


def test_error_type_is_named_as_a_python_traceback_names_the_class(local: Any) -> None:
    raised = document("run", f"{FUNCS}:fail", "x", code=1)["error"]["type"]
    custom = document("run", f"{FUNCS}:fail_on", "1", "bad=[1]", code=1)["error"]["type"]
    timed_out = document("run", f"{FUNCS}:sleep_then", "30", "--timeout", "1", code=4)
    unknown = document("get", "add-20200101-000000-000000000000", code=2)
    cancelled_id = _detach(f"{FUNCS}:sleep_then", "30")
    run_cli("cancel", cancelled_id)
    cancelled = document("get", cancelled_id, code=1)
    assert raised == "tests.fixtures.funcs.CustomError"
    assert custom == "tests.fixtures.funcs.CustomError"
    assert timed_out["error"]["type"] == "rhcli.errors.RunTimeoutError"
    assert unknown["error"]["type"] == "rhcli.errors.UnknownRunError"
    assert cancelled["error"]["type"] == "rhcli.errors.RunCancelledError"
