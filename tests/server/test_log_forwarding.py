"""The head's LogWriter: forwarded records land whole in the run's log, and nowhere but
under the daemon's runs folder; a ForwardingLogSink whose lines cannot reach it keeps them
in the worker's own log and hands the daemon a note to append. (Forwarding itself,
between real nodes, is tested in tests/multinode.)"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

import pytest

from rhcli.server import log_forwarding
from rhcli.server.log_forwarding import ForwardingLogSink, LogWriter
from rhcli.server.run_logs import append_note


def test_forwarded_records_are_appended_whole_in_order(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    writer = LogWriter(str(runs))
    log = runs / "r1" / "log.jsonl"
    first = b"".join(json.dumps({"seq": i, "text": f"l{i}"}).encode() + b"\n" for i in range(3))
    writer.append(str(log), first)
    writer.append(str(log), json.dumps({"seq": 3, "text": "l3"}).encode() + b"\n")
    assert [json.loads(line)["seq"] for line in log.read_text().splitlines()] == [0, 1, 2, 3]
    assert log.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("where", ["../elsewhere/log.jsonl", "/etc/rhcli-test-never"])
def test_a_path_outside_the_runs_folder_is_refused(tmp_path: Path, where: str) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    writer = LogWriter(str(runs))
    target = where if where.startswith("/") else str(runs / where)
    with pytest.raises(ValueError, match="outside"):
        writer.append(target, b"{}\n")
    assert not (tmp_path / "elsewhere").exists()


def test_a_symlink_out_of_the_runs_folder_is_refused(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "r1").symlink_to(tmp_path)
    with pytest.raises(ValueError, match="outside"):
        LogWriter(str(runs)).append(str(runs / "r1" / "log.jsonl"), b"{}\n")


# --- lines that cannot be forwarded are kept and reported, never dropped -------------------


def _read_all(fd: int) -> bytes:
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 1 << 20)
    except BlockingIOError:
        return b""


def test_lines_the_writer_refuses_go_to_the_workers_stderr_and_a_note_says_how_many(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    writer = LogWriter(str(runs))  # the real writer: a log outside its runs folder is refused
    read_end, write_end = os.pipe()  # plays the worker's own stderr (Ray's worker log)
    sink = ForwardingLogSink(
        writer.append,
        str(tmp_path / "elsewhere" / "log.jsonl"),
        item=4,
        fallback_fd=write_end,
        node="10.0.0.7",
    )
    for i in range(3):
        sink.write("out", f"line {i}")
    note = json.loads(sink.close())
    kept = _read_all(read_end).decode()
    assert "rhcli: could not forward to the run's log (ValueError: refusing to write" in kept
    assert all(f'"text": "line {i}"' in kept for i in range(3))
    assert note["stream"] == "err" and note["item"] == 4 and note["seq"] == 3
    assert note["text"].startswith(
        "rhcli: 3 line(s) of this run's output could not be forwarded from node 10.0.0.7 "
        "to this log (ValueError: refusing to write a log outside"
    )
    assert note["text"].endswith(
        f"they are in the worker's log on that node ({_pipe_name(write_end)})"
    )
    os.close(read_end)
    os.close(write_end)


def test_a_writer_that_does_not_answer_in_time_leaves_its_lines_reported_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log_forwarding, "CLOSE_WAIT_S", 0.5)
    stuck = threading.Event()

    def hangs(path: str, data: bytes) -> None:  # a head that never answers
        stuck.wait(30)

    read_end, write_end = os.pipe()
    sink = ForwardingLogSink(hangs, str(tmp_path / "log.jsonl"), fallback_fd=write_end)
    sink.write("out", "first")  # taken by the sender, which then hangs
    time.sleep(0.2)
    sink.write("out", "second")  # still pending when close() gives up
    note = json.loads(sink.close())
    stuck.set()
    assert "no answer from the log writer in 0.5 s" in note["text"]
    assert note["text"].startswith("rhcli: 2 line(s) of this run's output could not be")
    kept = _read_all(read_end).decode()
    assert '"text": "first"' in kept and '"text": "second"' in kept
    os.close(read_end)
    os.close(write_end)


def test_a_sink_whose_lines_all_arrived_has_no_note(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    writer = LogWriter(str(runs))
    sink = ForwardingLogSink(writer.append, str(runs / "r1" / "log.jsonl"))
    sink.write("out", "hello")
    assert sink.close() == ""
    assert json.loads((runs / "r1" / "log.jsonl").read_text())["text"] == "hello"


def test_the_daemon_appends_a_note_to_the_runs_log_and_says_it_in_its_own_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = tmp_path / "runs" / "r1" / "log.jsonl"
    note = json.dumps({"seq": 9, "stream": "err", "t": 1.0, "text": "rhcli: 3 line(s) lost"})
    with caplog.at_level(logging.WARNING, logger="rhcli.server.run_logs"):
        append_note(log, note + "\n")
        append_note(log, "")  # nothing to say: nothing written
    assert log.read_text() == note + "\n"
    assert "r1: rhcli: 3 line(s) lost" in caplog.text


def _pipe_name(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")
