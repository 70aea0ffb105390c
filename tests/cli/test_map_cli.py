"""`rhcli map` through the real console script, against the session daemon: results as
they arrive, the summary, resume by id after failures and after the client was killed,
and the usage errors caught before anything runs."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rhcli.errors import ExitCode
from tests.conftest import REPO, run_cli
from tests.fixtures import batch

RECORD = "tests.fixtures.batch:record"


def _inputs(path: Path, count: int, log: Path, seconds: float = 0.0, **extra: Any) -> Path:
    lines = []
    for i in range(count):
        kwargs = {"log": str(log), "seconds": seconds, **extra}
        lines.append(json.dumps({"args": [i], "kwargs": kwargs}) + "\n")
    path.write_text("".join(lines))
    return path


def test_failed_items_exit_5_with_the_resume_command_which_reruns_only_them(
    local: Any, tmp_path: Path
) -> None:
    log, marker, out = tmp_path / "log", tmp_path / "fixed", tmp_path / "out.jsonl"
    inputs = _inputs(tmp_path / "in.jsonl", 12, log, fail_unless=str(marker), fail_every=5)

    done = run_cli("map", RECORD, "--input", str(inputs), "--output", str(out))

    assert done.returncode == ExitCode.MAP_PARTIAL, done.stderr
    lines = out.read_text().splitlines()
    assert [lines[i] for i in (0, 5, 10)] == ["null"] * 3
    assert "error: 3 of 12 items failed" in done.stderr
    (again,) = [
        line.split("with: ", 1)[1]
        for line in done.stderr.splitlines()
        if line.startswith("run only the failed items again with:")
    ]
    assert again.startswith(f"rhcli map {RECORD} --input {inputs} --output {out} --resume ")

    marker.touch()
    rerun = run_cli(*again.split()[1:])

    assert rerun.returncode == 0, rerun.stderr
    assert out.read_text().splitlines() == [str(2 * i) for i in range(12)]
    runs = batch.executions(str(log))
    assert {i: runs[i] for i in (0, 5, 10)} == {0: 2, 5: 2, 10: 2}
    assert all(runs[i] == 1 for i in range(12) if i % 5)


def test_a_client_killed_mid_map_resumes_from_its_output_and_journal_every_line_once(
    local: Any, tmp_path: Path
) -> None:
    log, out = tmp_path / "log", tmp_path / "out.jsonl"
    inputs = _inputs(tmp_path / "in.jsonl", 80, log, seconds=0.1)
    map_id = f"killed-{os.getpid()}-{time.monotonic_ns()}"
    rhcli = str(Path(sys.executable).parent / "rhcli")
    argv = [rhcli, "map", RECORD, "--input", str(inputs), "--output", str(out)]
    client = subprocess.Popen(
        [*argv, "--id", map_id], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        while not out.exists() or len(out.read_text().splitlines()) < 10:
            assert client.poll() is None, "the map ended before it could be killed"
            assert time.monotonic() < deadline, "no results came"
            time.sleep(0.05)
        client.send_signal(signal.SIGKILL)
    finally:
        client.wait(30)
    kept = out.read_text().splitlines()
    assert kept == [str(2 * i) for i in range(len(kept))]  # whole lines, in order

    done = run_cli(*argv[1:], "--resume", map_id)

    assert done.returncode == 0, done.stderr
    assert out.read_text().splitlines() == [str(2 * i) for i in range(80)]
    # The items the killed client's map had sent finished there and were reused: every
    # item ran exactly once.
    assert batch.executions(str(log)) == dict.fromkeys(range(80), 1)


def test_json_map_with_an_output_in_a_missing_folder_is_a_usage_error_before_anything_runs(
    local: Any, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    done = run_cli("--json", "map", RECORD, "1", "2", f"log={log}", "--output", "/no/dir/x")
    assert done.returncode == ExitCode.USAGE
    document = json.loads(done.stdout)  # one document, and nothing else on stdout
    assert "/no/dir" in document["error"]["message"]
    assert not log.exists()


def test_a_map_of_a_module_that_does_not_exist_exits_2_at_once_with_no_result_line(
    local: Any,
) -> None:
    done = run_cli("map", "nomod:f", "1", "2", "3")
    assert done.returncode == ExitCode.USAGE, done.stderr
    assert done.stdout == ""
    assert "nomod" in done.stderr


def test_a_map_with_output_ends_with_one_summary_line_and_no_stray_empty_line(
    local: Any, tmp_path: Path
) -> None:
    log, out = tmp_path / "log", tmp_path / "out.jsonl"
    done = run_cli("map", RECORD, "1", "2", "3", f"log={log}", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 2 and "" not in lines
    assert lines[0].startswith("map record-") and lines[0].endswith("starting, 3 items on local")
    assert "3 succeeded, 0 failed in " in lines[1] and lines[1].endswith(f"results in {out}")
    assert "items/s" not in lines[1]  # too short a map for a rate to mean anything


def test_resume_and_id_together_a_bad_id_or_recover_off_sky_are_usage_errors(
    local: Any, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    both = run_cli("map", RECORD, "1", f"log={log}", "--resume", "a", "--id", "b")
    assert both.returncode == ExitCode.USAGE and "--resume" in both.stderr
    bad = run_cli("map", RECORD, "1", f"log={log}", "--id", "../x")
    assert bad.returncode == ExitCode.USAGE and "cannot name a map" in bad.stderr
    recover = run_cli("map", RECORD, "1", f"log={log}", "--recover", "1")
    assert recover.returncode == ExitCode.USAGE
    assert "recover relaunches a lost sky cluster" in recover.stderr
    assert not log.exists()  # none of them ran anything


def test_on_a_terminal_result_lines_never_share_a_line_with_the_live_display(
    local: Any, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    leader, follower = pty.openpty()
    rhcli = str(Path(sys.executable).parent / "rhcli")
    values = [str(i) for i in range(40)]
    client = subprocess.Popen(
        [rhcli, "map", RECORD, *values, f"log={log}", "seconds=0.05"],
        cwd=REPO,
        stdout=follower,
        stderr=follower,
        env={**os.environ, "COLUMNS": "100"},
    )
    os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the process closed its end
            break
        if not chunk:
            break
        screen += chunk
    assert client.wait(60) == 0
    os.close(leader)
    # What a terminal shows of each line: the text after its last clear-line.
    shown = [line.split("\x1b[2K")[-1].strip("\r") for line in screen.decode().split("\n")]
    # A result written over the live line would be glued to it ("map [##--] 3/406").
    assert [line for line in shown if line.isdigit()] == [str(2 * i) for i in range(40)]
    assert all(line.isdigit() or line.startswith("map ") or not line for line in shown)
