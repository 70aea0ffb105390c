"""How log lines are printed (rhcli.log_follower.LogPrinter): a carriage-return progress
line as a terminal shows it, each state on its own line elsewhere, and timestamps."""

from __future__ import annotations

import io

from rhcli.log_follower import LogPrinter
from rhcli.protocol import daemon_pb2 as pb

CLEAR = "\r\x1b[K"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _batch(*lines: tuple[str, str, bool], end: bool = False) -> pb.LogBatch:
    batch = pb.LogBatch(end=end)
    for seq, (stream, text, progress) in enumerate(lines):
        batch.lines.append(pb.LogLine(seq=seq, stream=stream, t=0.0, text=text, progress=progress))
    return batch


PROGRESS = (
    ("err", "step 0/2", True),
    ("err", "step 2/2", True),
    ("err", "step 2/2", False),
    ("out", "done", False),
)


def test_on_a_terminal_progress_is_redrawn_in_place_and_replaced_by_its_final_line() -> None:
    screen = Terminal()
    LogPrinter(out=screen, err=screen).print_batch(_batch(*PROGRESS, end=True))
    assert screen.getvalue() == f"step 0/2{CLEAR}step 2/2{CLEAR}step 2/2\ndone\n"


def test_a_progress_line_left_open_at_the_end_is_ended() -> None:
    screen = Terminal()
    printer = LogPrinter(out=screen, err=screen)
    printer.print_batch(_batch(("err", "step 1/9", True)))
    printer.finish()
    printer.finish()  # idempotent
    assert screen.getvalue() == "step 1/9\n"


def test_in_a_pipe_each_state_is_a_line_and_the_final_state_is_not_repeated() -> None:
    out, err = io.StringIO(), io.StringIO()
    LogPrinter(out=out, err=err).print_batch(_batch(*PROGRESS, end=True))
    assert err.getvalue() == "step 0/2\nstep 2/2\n"
    assert out.getvalue() == "done\n"


def test_a_line_that_differs_from_the_last_progress_state_is_printed() -> None:
    err = io.StringIO()
    batch = _batch(("err", "step 1/2", True), ("err", "aborted at 1/2", False))
    LogPrinter(out=io.StringIO(), err=err).print_batch(batch)
    assert err.getvalue() == "step 1/2\naborted at 1/2\n"


def test_timestamps_are_utc_to_the_millisecond_in_front_of_each_line() -> None:
    out = io.StringIO()
    batch = pb.LogBatch(lines=[pb.LogLine(seq=0, stream="out", t=1796000000.25, text="hi")])
    LogPrinter(out=out, err=out, timestamps=True).print_batch(batch)
    assert out.getvalue() == "2026-11-30T00:53:20.250Z hi\n"
