"""What `rhcli map` shows on stderr (rhcli.cli.map_display), with streams that say they
are terminals or not: the live line only on a terminal, taken off before each result
line on a shared terminal, the rate only once it means something, one summary line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from rhcli.cli import map_display
from rhcli.cli.map_display import MapDisplay


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(map_display.time, "monotonic", fake)
    return fake


def test_a_pipe_on_stderr_gets_no_live_line_at_all(clock: Clock) -> None:
    err = io.StringIO()
    display = MapDisplay(3, err=err, out=io.StringIO())
    for _ in range(3):
        clock.now += 1
        display.item(failed=False)
        display.before_output()
        display.after_output()
    display.close()
    assert err.getvalue() == ""


def test_on_a_shared_terminal_the_live_line_is_cleared_before_each_result_line(
    clock: Clock,
) -> None:
    screen = Terminal()
    display = MapDisplay(2, err=screen, out=screen)
    display.item(failed=False)
    assert screen.getvalue().endswith("1/2")
    display.before_output()
    screen.write("2\n")  # the result line, on the same terminal
    display.after_output()
    clock.now += 1
    display.item(failed=True)
    display.close()
    lines = screen.getvalue().split("\n")
    assert lines[0].endswith("\r\x1b[2K2")  # the result starts on a cleared line
    assert lines[1].endswith("\r\x1b[2K")  # and the live line is gone at the end


def test_the_rate_shows_only_after_two_seconds_and_ten_items_from_the_first_end(
    clock: Clock,
) -> None:
    display = MapDisplay(100, err=io.StringIO())
    clock.now += 300  # the cluster starting: not the map's pace
    for _ in range(21):
        display.item(failed=False)
    assert display.rate() is None  # many items, no time: no rate yet
    clock.now += 5
    assert display.rate() == pytest.approx(4.0)  # 20 items after the first, in 5 s
    few = MapDisplay(100, err=io.StringIO())
    few.item(failed=False)
    clock.now += 60
    assert few.rate() is None  # much time, one item: no rate yet


def test_the_summary_names_what_ended_how_the_time_the_rate_and_the_output(
    clock: Clock,
) -> None:
    display = MapDisplay(13, err=io.StringIO())
    display.item(failed=True)
    clock.now += 4
    for index in range(11):
        display.item(failed=index < 1)
    assert display.summary("m-1", output=Path("out.jsonl"), missing=1) == (
        "map m-1: 10 succeeded, 2 failed, 1 without a result in 4.0 s (2.8 items/s); "
        "results in out.jsonl"
    )
