"""`rhcli runs` filters (--status, --function, --since) and the values it refuses; the
library call behind it (rh.runs with statuses and since)."""

from __future__ import annotations

import datetime
import json
import time
from typing import Any

import pytest

import rhcli as rh
from rhcli.errors import UsageError
from rhcli.runs_api import resolve_run_id, runs
from tests.conftest import run_cli

FUNCS = "tests.fixtures.funcs"


def _ids(*args: str) -> list[str]:
    done = run_cli("--json", "runs", "-n", "1000", *args)
    assert done.returncode == 0, done.stderr
    return [record["run_id"] for record in json.loads(done.stdout)]


def test_status_function_and_since_narrow_the_list(local: Any) -> None:
    failed = run_cli("run", f"{FUNCS}:fail_value")
    assert failed.returncode == 1
    failed_id = _ids("--function", "fail_value")[0]
    time.sleep(0.1)
    cutoff = datetime.datetime.now().isoformat()  # local time, as a user would write it
    time.sleep(0.1)
    ok = run_cli("--json", "run", f"{FUNCS}:pid")
    ok_id = json.loads(ok.stdout)["run_id"]

    assert failed_id in _ids("--status", "failed")
    assert ok_id not in _ids("--status", "failed")
    assert {failed_id, ok_id} <= set(_ids("--status", "failed", "--status", "succeeded"))
    assert set(_ids("--function", "pid")) >= {ok_id} and failed_id not in _ids("--function", "pid")
    recent = _ids("--since", cutoff)
    assert ok_id in recent and failed_id not in recent
    assert {ok_id, failed_id} <= set(_ids("--since", "1h"))


def test_an_unknown_status_is_refused_listing_the_statuses(local: Any) -> None:
    done = run_cli("runs", "--status", "done")
    assert done.returncode == 2
    assert "unknown status 'done'; statuses are: queued, running, succeeded" in done.stderr


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_a_limit_under_one_is_refused(limit: str) -> None:
    done = run_cli("runs", "-n", limit)
    assert done.returncode == 2
    assert f"{limit} is not 1 or more" in done.stderr


def test_the_library_filters_alike_and_refuses_alike(local: Any) -> None:
    run_id = rh.function(FUNCS + ":add", system=local).remote(1, 1)
    rh.get(run_id)
    found = runs(cluster=local, statuses=("succeeded",), since=time.time() - 60, limit=500)
    assert str(run_id) in [info.run_id for info in found]
    assert all(info.status == "succeeded" for info in found)
    with pytest.raises(UsageError):
        runs(cluster=local, limit=0)
    with pytest.raises(UsageError):
        runs(cluster=local, statuses=("done",))  # type: ignore[arg-type]
    assert resolve_run_id("last", cluster=local) == runs(cluster=local, limit=1)[0].run_id
    assert resolve_run_id("abc", cluster=local) == "abc"
