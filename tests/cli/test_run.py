"""`rhcli run` and friends through the real console script, against the session daemon."""

from __future__ import annotations

import json
import re
import sqlite3
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli

MANIFEST = """\
default_cluster: local
clusters:
  local: {type: local}
functions:
  square:
    entrypoint: jobs:square
  greet:
    entrypoint: jobs:greet
"""

JOBS = """\
def square(x):
    return x * x

def greet(name, punctuation="!"):
    return f"Hello, {name}{punctuation}"
"""


@pytest.fixture
def manifest_project(project: Path) -> Path:
    """A project with jobs.py and a runhouse.yaml naming two of its functions."""
    (project / "jobs.py").write_text(JOBS)
    (project / "runhouse.yaml").write_text(MANIFEST)
    return project


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def run_count(home: Path) -> int:
    db = sqlite3.connect(f"file:{home / 'runs.sqlite'}?mode=ro", uri=True)
    try:
        (count,) = db.execute("SELECT COUNT(*) FROM runs").fetchone()
    finally:
        db.close()
    return int(count)


# --- results -------------------------------------------------------------------------------


def test_positional_arguments_print_the_result(local: Any) -> None:
    done = run_cli("run", "tests.fixtures.funcs:add", "2", "3")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "5\n"


def test_keyword_arguments(local: Any) -> None:
    done = run_cli("run", "tests.fixtures.funcs:add", "a=1", "b=2")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "3\n"


def test_values_are_json_when_they_parse_else_strings(local: Any) -> None:
    done = run_cli("run", "tests.fixtures.funcs:echo", "A dog.", "[1, 2]", "steps=50", "tag=v1")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "args": ["A dog.", [1, 2]],
        "kwargs": {"steps": 50, "tag": "v1"},
    }


def test_args_json_gives_exact_types(local: Any) -> None:
    done = run_cli(
        "run",
        "tests.fixtures.funcs:echo",
        "--args-json",
        '{"args": ["007", "true"], "kwargs": {"steps": "50"}}',
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"args": ["007", "true"], "kwargs": {"steps": "50"}}


def test_json_prints_exactly_one_document(local: Any) -> None:
    done = run_cli("--json", "run", "tests.fixtures.funcs:add", "2", "3")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1
    document = json.loads(done.stdout)
    assert re.fullmatch(r"add-\d{8}-\d{6}-[0-9a-f]+", document["run_id"])
    assert document["status"] == "succeeded"
    assert document["result"] == 5
    assert document["duration_s"] >= 0


def test_result_that_is_not_json_prints_a_repr_marker_and_says_so(local: Any) -> None:
    done = run_cli("run", "tests.fixtures.funcs:returns_object")
    assert done.returncode == 0, done.stderr
    # stdout stays JSON: never a bare repr passed off as the value
    assert re.fullmatch(r"<object object at 0x[0-9a-f]+>", json.loads(done.stdout)["repr"])
    assert "is not JSON" in done.stderr and "--output FILE" in done.stderr


def test_manifest_function_runs_by_name_from_the_project(
    local: Any, manifest_project: Path
) -> None:
    done = run_cli("run", "greet", "Ada", "punctuation=?", cwd=manifest_project)
    assert done.returncode == 0, done.stderr
    assert done.stdout == '"Hello, Ada?"\n'  # a string result is JSON too


# --- failures and exit codes ---------------------------------------------------------------


def test_function_that_raises_exits_1_with_the_remote_traceback(local: Any) -> None:
    done = run_cli("run", "tests.fixtures.funcs:fail", "disk full")
    assert done.returncode == 1
    assert done.stdout == ""
    assert "Traceback (most recent call last):" in done.stderr
    assert "in fail" in done.stderr
    assert "tests.fixtures.funcs.CustomError: disk full" in done.stderr
    [line] = error_lines(done.stderr)
    assert re.match(
        r"error: run fail-\S+ failed: tests.fixtures.funcs.CustomError: disk full", line
    )


def test_json_failure_is_still_one_document(local: Any) -> None:
    done = run_cli("--json", "run", "tests.fixtures.funcs:fail_value")
    assert done.returncode == 1
    document = json.loads(done.stdout)
    assert document["status"] == "failed"
    assert document["error"]["type"] == "ValueError"  # as a traceback names it
    assert document["error"]["message"] == "bad value"
    assert "in fail_value" in document["error"]["traceback"]


def test_timeout_exits_4(local: Any) -> None:
    done = run_cli("run", "--timeout", "1", "tests.fixtures.funcs:sleep_then", "60")
    assert done.returncode == 4, done.stderr
    [line] = error_lines(done.stderr)
    assert "timed out:" in line
    assert "timed out after 1 s" in line


def test_missing_entrypoint_exits_2(local: Any) -> None:
    done = run_cli("run", "tests.fixtures.funcs:nope")
    assert done.returncode == 2
    [line] = error_lines(done.stderr)
    assert "has no attribute 'nope'" in line
    assert "add" in line


def test_a_module_importing_a_missing_package_exits_2_naming_it(local: Any, project: Path) -> None:
    # Exit 2 (a setup problem rerunning cannot fix), not 1 (the function raised).
    source = "import os\nimport not_a_real_pkg\n\ndef go():\n    return 1\n"
    (project / "needs.py").write_text(source)
    done = run_cli("run", "needs:go", cwd=project)
    assert done.returncode == 2, done.stderr
    [line] = error_lines(done.stderr)
    assert "module 'needs' imports 'not_a_real_pkg'" in line
    assert f"(at {project.resolve() / 'needs.py'}, line 2)" in line
    assert "add it to the function's reqs" in line


def test_unknown_function_lists_known(local: Any, manifest_project: Path) -> None:
    done = run_cli("run", "cube", "3", cwd=manifest_project)
    assert done.returncode == 2
    [line] = error_lines(done.stderr)
    assert "unknown function 'cube'" in line
    assert "known functions: greet, square" in line


def test_malformed_manifest_exits_2_naming_file_line_column_and_sends_nothing(
    local: Any, manifest_project: Path, session_home: Path
) -> None:
    manifest = manifest_project / "runhouse.yaml"
    manifest.write_text(
        textwrap.dedent(
            """\
            functions:
              square:
                entrypoint: jobs:square
               greet:
                entrypoint: jobs:greet
            """
        )
    )
    before = run_count(session_home)
    done = run_cli("run", "square", "3", cwd=manifest_project)
    assert done.returncode == 2
    assert done.stdout == ""
    assert re.search(rf"{re.escape(str(manifest))}:\d+:\d+: ", done.stderr), done.stderr
    assert len(error_lines(done.stderr)) == 1
    assert run_count(session_home) == before


def test_usage_error_in_arguments_exits_2_before_anything_is_sent(
    local: Any, session_home: Path
) -> None:
    before = run_count(session_home)
    done = run_cli("run", "tests.fixtures.funcs:add", "a=1", "2")
    assert done.returncode == 2
    [line] = error_lines(done.stderr)
    assert "follows a keyword argument" in line
    assert run_count(session_home) == before


# --- status and help -----------------------------------------------------------------------


def test_status_without_a_daemon_exits_3_and_says_how_to_start_one(tmp_path: Path) -> None:
    home = tmp_path / "empty-home"
    home.mkdir()
    done = run_cli("status", env={"RHCLI_HOME": str(home)}, cwd=tmp_path)
    assert done.returncode == 3
    assert "no daemon running" in done.stdout
    assert "rhcli up" in done.stdout
    # status only looks: it starts nothing.
    assert not (home / "daemon.json").exists()


def test_status_json_describes_the_running_daemon(local: Any) -> None:
    done = run_cli("--json", "status")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["cluster"] == "local"
    assert document["up"] is True
    assert document["pid"] == local.daemon.state().pid
    assert document["resources"]["CPU"] >= 1


def test_help_lists_the_exit_codes() -> None:
    done = run_cli("--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    for code in [
        "0 ok",
        "1 the function raised",
        "2 usage or manifest error",
        "3 cluster or daemon unreachable",
        "4 timed out",
        "5 map finished with some items failed",
        "130 interrupted",
    ]:
        assert code in text
