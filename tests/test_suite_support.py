"""The suite's own safety nets: its leftover-process check finds what the session started
(renamed processes included) and nothing else, and a child that a test interrupts gets
SIGINT at its default whatever the suite inherited."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, SESSION_ID
from tests.support.processes import spawn_interruptible
from tests.support.session_processes import (
    SESSION_ENV,
    end_leftovers,
    session_env,
    session_processes,
)

# Renames itself as Ray's agents and SkyPilot's executors do (setproctitle), then waits.
RENAMED = (
    "import setproctitle, sys, time\n"
    "setproctitle.setproctitle('renamed-' + 'x' * 300)\n"
    "print('renamed', flush=True)\n"
    "time.sleep(120)\n"
)


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts; each is killed and reaped at its end."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait()


def _pids() -> set[int]:
    return {p.pid for p in session_processes(SESSION_ID)}


def _renamed(env: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", RENAMED], env=env, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline() == "renamed\n"
    return process


def test_a_process_the_session_started_is_found_until_it_ends(
    started: list[subprocess.Popen[str]],
) -> None:
    child = subprocess.Popen(["sleep", "60"], text=True)
    started.append(child)
    assert child.pid in _pids()
    child.kill()
    child.wait()
    assert child.pid not in _pids()


def test_a_process_that_renames_itself_is_still_found(
    started: list[subprocess.Popen[str]],
) -> None:
    renamed = _renamed(dict(os.environ))
    started.append(renamed)
    assert renamed.pid in _pids()
    # Why SPT_NOENV rides with the marker: without it the rename overwrites the memory
    # /proc/PID/environ reads, and such a process would escape the check.
    bare = _renamed({k: v for k, v in os.environ.items() if k != "SPT_NOENV"})
    started.append(bare)
    assert bare.pid not in _pids()


def test_processes_without_the_sessions_marker_are_never_counted(
    started: list[subprocess.Popen[str]],
) -> None:
    other = subprocess.Popen(["sleep", "60"], env={"PATH": os.environ["PATH"]}, text=True)
    another_session = subprocess.Popen(
        ["sleep", "60"], env={**os.environ, SESSION_ENV: "another-session"}, text=True
    )
    started += [other, another_session]
    assert not {other.pid, another_session.pid} & _pids()
    assert end_leftovers("no-such-session", grace=0) == []
    assert other.poll() is None and another_session.poll() is None  # left alone


def test_end_leftovers_waits_then_kills_what_is_left_and_names_it(
    started: list[subprocess.Popen[str]],
) -> None:
    marker = {**os.environ, SESSION_ENV: "a-session-of-this-test"}
    quick = subprocess.Popen(["sleep", "0.3"], env=marker, text=True)
    stays = subprocess.Popen(["sleep", "60"], env=marker, text=True)
    started += [quick, stays]
    began = time.monotonic()
    left = end_leftovers("a-session-of-this-test", grace=2)
    assert time.monotonic() - began >= 2
    assert [p.pid for p in left] == [stays.pid]
    assert left[0].command == "sleep 60"
    assert stays.wait(10) == -signal.SIGKILL


LEAKY_TEST = """\
import subprocess

def test_that_leaves_a_process_running():
    subprocess.Popen(["sleep", "300"])
"""


def _nested_session(
    test_file: Path, *options: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """pytest run on test_file with this suite's conftest, in test_file's folder."""
    return subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest"),
            *("-p", "no:cacheprovider", *options, str(test_file)),
        ],
        cwd=test_file.parent,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_session_that_leaves_a_process_running_fails_and_ends_it(tmp_path: Path) -> None:
    (tmp_path / "test_leaky.py").write_text(LEAKY_TEST)
    done = _nested_session(tmp_path / "test_leaky.py", env={"RHCLI_TEST_LEFTOVER_GRACE_S": "1"})
    assert done.returncode != 0, done.stdout
    assert "1 passed, 1 error" in done.stdout
    assert "1 processes started by this test session were still running" in done.stdout
    found = re.search(r"\n  (\d+) sleep 300", done.stdout)
    assert found, done.stdout
    assert not Path(f"/proc/{found.group(1)}/cmdline").exists() or (
        b"sleep" not in Path(f"/proc/{found.group(1)}/cmdline").read_bytes()
    )  # ended by the check


def test_a_run_on_xdist_workers_leaves_no_session_root_behind(tmp_path: Path) -> None:
    # Its controller imports the conftest too, making a root, but runs no fixture.
    (tmp_path / "test_quiet.py").write_text("def test_nothing():\n    pass\n")
    temp = tmp_path / "tmp"
    temp.mkdir()
    done = _nested_session(tmp_path / "test_quiet.py", "-n", "1", env={"TMPDIR": str(temp)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    assert list(temp.glob("rhcli-test-home-*")) == []


def test_test_sshds_pass_the_marker_on_to_their_sessions() -> None:
    assert session_env() == {SESSION_ENV: SESSION_ID, "SPT_NOENV": "1"}


def test_a_child_to_interrupt_gets_the_default_sigint_even_when_it_is_ignored_here() -> None:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a background job
    try:
        probe = (
            "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
        )
        plain = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
        child = spawn_interruptible(
            [sys.executable, "-c", probe], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out, _ = child.communicate(timeout=60)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert plain.stdout.strip() == "False"  # what a plain child gets here
    assert out.strip() == "True"
