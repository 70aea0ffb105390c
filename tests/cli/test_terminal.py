"""What a person at a terminal sees (a real pseudo-terminal), and what a pipe gets instead:
progress lines drawn in place, colour on a terminal only, tables that fit its width."""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import run_cli
from tests.support.terminal import ANSI, run_in_terminal

FUNCS = "tests.fixtures.funcs"
ESCAPES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def visible(text: str) -> str:
    """The text as the terminal shows it, line by line: escape codes gone, and each
    carriage return starting its line over (what comes after it replaces what came
    before, as it would on the screen)."""
    shown = []
    for line in text.replace("\r\n", "\n").split("\n"):
        shown.append(ESCAPES.sub("", line).split("\r")[-1])
    return "\n".join(shown)


def _detach(*args: str) -> str:
    done = run_cli("run", "--detach", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


# --- carriage-return progress ----------------------------------------------------------------


def test_progress_lines_show_their_last_state_in_run_on_a_terminal(local: Any) -> None:
    screen = run_in_terminal("run", f"{FUNCS}:progress", "steps=20")
    assert screen.returncode == 0, screen.raw
    shown = visible(screen.raw).splitlines()
    assert shown == ["step 20/20", "20"]
    assert "step 20/20step" not in screen.raw  # never glued to the previous state


def test_progress_lines_show_their_last_state_in_logs_and_logs_follow(local: Any) -> None:
    run_id = _detach(f"{FUNCS}:progress", "steps=20")
    followed = run_in_terminal("logs", "-f", run_id)
    assert followed.returncode == 0, followed.raw
    assert visible(followed.raw).splitlines()[0] == "step 20/20"
    later = run_in_terminal("logs", run_id)
    assert visible(later.raw).splitlines() == ["step 20/20"]


def test_progress_in_a_pipe_is_one_line_per_state_and_the_last_state_once(local: Any) -> None:
    run_id = _detach(f"{FUNCS}:progress", "steps=20")
    done = run_cli("logs", "-f", run_id)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("step ")]
    assert lines[0] == "step 0/20" and lines[-1] == "step 20/20"
    assert lines.count("step 20/20") == 1
    assert "\r" not in done.stderr and ANSI not in done.stderr


# --- colour ----------------------------------------------------------------------------------


def test_errors_and_statuses_are_coloured_on_a_terminal(local: Any) -> None:
    failed = run_in_terminal("run", f"{FUNCS}:fail", "boom")
    assert failed.returncode == 1
    assert re.search(r"\x1b\[[0-9;]*31m\s*error:", failed.raw), failed.raw  # red
    table = run_in_terminal("runs", "-n", "5")
    assert table.returncode == 0, table.raw
    assert "\x1b[31mfailed" in table.raw or "\x1b[32msucceeded" in table.raw


def test_no_color_leaves_out_every_escape_code(local: Any) -> None:
    failed = run_in_terminal("run", f"{FUNCS}:fail", "boom", env={"NO_COLOR": "1"})
    assert failed.returncode == 1
    assert "error: run" in failed.raw
    assert ANSI not in failed.raw


def test_a_pipe_never_gets_escape_codes(local: Any) -> None:
    failed = run_cli("run", f"{FUNCS}:fail", "boom")
    table = run_cli("runs", "-n", "5")
    for text in (failed.stdout, failed.stderr, table.stdout, table.stderr):
        assert ANSI not in text


# --- tables ----------------------------------------------------------------------------------


def test_runs_fits_an_80_column_terminal_even_with_maps(local: Any) -> None:
    done = run_cli("map", f"{FUNCS}:fail_on", "1", "2", "3", "bad=[2]")
    assert done.returncode == 5, done.stderr
    screen = run_in_terminal("runs", "-n", "10", "--items", columns=80)
    assert screen.returncode == 0, screen.raw
    rows = [line for line in visible(screen.raw).splitlines() if line]
    assert rows[0].startswith("RUN ID")
    assert max(len(row) for row in rows) <= 80, rows
    assert any("(1/3 failed)" in row for row in rows)  # the map, its note shortened


def test_runs_in_a_pipe_keeps_every_column_whole(local: Any) -> None:
    done = run_cli("runs", "-n", "3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].split() == [
        "RUN",
        "ID",
        "FUNCTION",
        "STATUS",
        "STARTED",
        "DURATION",
    ]
