"""Results that are not plain JSON, and arguments past the shell's limit: stdout never
holds a bare repr passed off as the value; `--output FILE` saves any result whole;
`--args-json @FILE` and `--args-json -` take arguments from a file or stdin."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import REPO, run_cli

FUNCS = "tests.fixtures.funcs"


def test_a_nan_result_prints_the_repr_marker_and_a_note(local: Any) -> None:
    done = run_cli("run", f"{FUNCS}:mean", "[]")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"repr": "nan"}
    assert "note: the result of run mean-" in done.stderr and "--output FILE" in done.stderr
    document = json.loads(run_cli("--json", "run", f"{FUNCS}:mean", "[]").stdout)
    assert document["result"] is None and document["result_is_json"] is False
    assert document["result_repr"] == "nan"


def test_a_large_binary_result_is_not_dumped_on_stdout(local: Any) -> None:
    done = run_cli("run", f"{FUNCS}:make_bytes", str(8 * 1024 * 1024))
    assert done.returncode == 0, done.stderr
    marker = json.loads(done.stdout)["repr"]
    assert len(marker) < 1100 and marker.endswith("(cut at 1,000 characters)")
    assert "--output FILE" in done.stderr


def test_output_writes_bytes_as_they_are_and_stdout_stays_empty(local: Any, tmp_path: Path) -> None:
    target = tmp_path / "blob.bin"
    done = run_cli("run", f"{FUNCS}:make_bytes", str(6 * 1024 * 1024), "--output", str(target))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert target.read_bytes() == b"x" * (6 * 1024 * 1024)
    assert f"result written to {target} (6,291,456 bytes)" in done.stderr
    as_json = run_cli("--json", "run", f"{FUNCS}:add", "1", "2", "-o", str(tmp_path / "r.json"))
    assert json.loads(as_json.stdout)["output"] == str(tmp_path / "r.json")
    assert (tmp_path / "r.json").read_text() == "3\n"


def test_output_of_a_failed_run_writes_nothing_and_exits_with_its_code(
    local: Any, tmp_path: Path
) -> None:
    target = tmp_path / "never.json"
    done = run_cli("run", f"{FUNCS}:fail_value", "-o", str(target))
    assert done.returncode == 1
    assert "error: run fail_value-" in done.stderr and "ValueError: bad value" in done.stderr
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_output_into_a_missing_folder_is_refused_before_anything_runs(local: Any) -> None:
    before = run_cli("--json", "runs", "-n", "1000", "--function", "length").stdout
    for args in (
        ["run", f"{FUNCS}:length", "abc", "-o", "/no/such/dir/x"],
        ["--json", "run", f"{FUNCS}:length", "abc", "--output", "/no/such/dir/x"],
        ["get", "last", "-o", "/no/such/dir/x"],
    ):
        done = run_cli(*args)
        assert done.returncode == 2, done.stderr
        assert "the folder /no/such/dir does not exist" in done.stdout + done.stderr
    assert run_cli("--json", "runs", "-n", "1000", "--function", "length").stdout == before


def test_args_json_reads_a_file_or_stdin(local: Any, tmp_path: Path) -> None:
    args_file = tmp_path / "args.json"
    args_file.write_text('{"args": ["50"], "kwargs": {"steps": 50}}')
    from_file = run_cli("run", f"{FUNCS}:echo", "--args-json", f"@{args_file}")
    assert from_file.returncode == 0, from_file.stderr
    assert json.loads(from_file.stdout) == {"args": ["50"], "kwargs": {"steps": 50}}
    missing = run_cli("run", f"{FUNCS}:echo", "--args-json", f"@{tmp_path / 'none.json'}")
    assert missing.returncode == 2
    assert "cannot read --args-json @" in missing.stderr


def test_arguments_past_the_shells_limit_come_through_stdin(local: Any) -> None:
    # One argument of a command line may hold 128 KiB on Linux: this one is 1 MiB.
    text = "y" * (1024 * 1024)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "rhcli"), "run", f"{FUNCS}:length", "--args-json", "-"],
        input=json.dumps({"args": [text]}),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{len(text)}\n"
