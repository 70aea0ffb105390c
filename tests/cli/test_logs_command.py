"""`rhcli logs`: --tail, --since, --timestamps, `last`, and `-f` ending with the run's
outcome (why, for a run that failed or was cancelled)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from tests.conftest import run_cli

FUNCS = "tests.fixtures.funcs"
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def _detach(*args: str) -> str:
    done = run_cli("run", "--detach", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _finished(*args: str) -> str:
    run_id = _detach(*args)
    run_cli("get", run_id)
    return run_id


def test_tail_prints_the_last_lines(local: Any) -> None:
    run_id = _finished(f"{FUNCS}:ticks", "6", "0")
    done = run_cli("logs", run_id, "--tail", "2")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "tick 4\ntick 5\n"
    assert run_cli("logs", run_id, "-n", "0").stdout == ""


def test_since_prints_the_lines_written_since_then(local: Any) -> None:
    run_id = _finished(f"{FUNCS}:ticks", "3", "0")
    assert run_cli("logs", run_id, "--since", "10m").stdout == "tick 0\ntick 1\ntick 2\n"
    time.sleep(1.1)
    assert run_cli("logs", run_id, "--since", "1s").stdout == ""
    bad = run_cli("logs", run_id, "--since", "a while")
    assert bad.returncode == 2 and "--since 'a while' is neither a duration" in bad.stderr


def test_timestamps_put_each_lines_utc_time_in_front(local: Any) -> None:
    run_id = _finished(f"{FUNCS}:ticks", "2", "0")
    lines = run_cli("logs", run_id, "--timestamps").stdout.splitlines()
    assert [re.sub(STAMP, "T", line) for line in lines] == ["T tick 0", "T tick 1"]


def test_last_names_the_newest_run(local: Any) -> None:
    run_id = _finished(f"{FUNCS}:ticks", "1", "0")
    assert run_cli("logs", "last").stdout == "tick 0\n"
    assert run_cli("get", "last").stdout == "1\n"
    assert run_cli("--json", "cancel", "last").stdout.startswith(f'{{"run_id": "{run_id}"')


def test_follow_ends_with_the_runs_outcome_line(local: Any) -> None:
    run_id = _detach(f"{FUNCS}:ticks", "3", "0.05")
    done = run_cli("logs", "-f", run_id)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "tick 0\ntick 1\ntick 2\n"
    assert re.fullmatch(rf"run {run_id} succeeded in \d+(ms|\.\d+s)\n", done.stderr)


def test_follow_of_a_failed_run_says_why(local: Any) -> None:
    run_id = _detach(f"{FUNCS}:ticks", "2", "0.05", "fail=true")
    done = run_cli("logs", "-f", run_id)
    assert done.returncode == 1
    assert "Traceback (most recent call last):" in done.stderr
    assert done.stderr.rstrip().splitlines()[-1] == (
        f"error: run {run_id} failed: tests.fixtures.funcs.CustomError: failed after 2 ticks"
    )


def test_follow_of_a_cancelled_run_says_so(local: Any) -> None:
    run_id = _detach(f"{FUNCS}:sleep_then", "30")
    run_cli("cancel", run_id)
    done = run_cli("logs", "-f", run_id)
    assert done.returncode == 1
    assert done.stderr.strip() == f"error: run {run_id} cancelled: cancelled"


def test_follow_with_json_ends_with_an_end_record(local: Any) -> None:
    run_id = _detach(f"{FUNCS}:sleep_then", "5")
    done = run_cli("--json", "logs", "-f", run_id, "--tail", "0", timeout=60)
    # the run goes on 5 s; a timeout would not: this is the happy end of a follow
    assert done.returncode == 0, done.stderr
    (end,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert end == {
        "end": True,
        "run_id": run_id,
        "status": "succeeded",
        "error": None,
        "duration_s": end["duration_s"],
        "exit_code": 0,
    }
    assert end["duration_s"] >= 5
    assert done.stderr == ""


def test_a_negative_tail_is_refused(local: Any) -> None:
    done = run_cli("logs", "last", "--tail", "-1")
    assert done.returncode == 2
    assert "Invalid value for '--tail'" in done.stderr
