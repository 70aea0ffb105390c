"""Capture at the file-descriptor level (logcapture), and the stored log (logs).

OutputCapture takes over fd 1 and 2 of the process it is installed in, so every capture
test runs a child Python that installs it, as a worker does, and runs "runs" with sinks;
the test reads the JSON Lines logs those runs wrote. The child's own stdout and stderr
(what pytest sees) are what went to the worker's original fds between runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from rhcli.protocol import daemon_pb2 as pb
from rhcli.server.run_logs import append_end, log_path, read_records
from rhcli.server.runstore import RunStore

HARNESS = """\
import contextlib, ctypes, logging, os, subprocess, sys, time
from rhcli.server.output_capture import LogSink, OutputCapture

LOGS = {logs!r}
capture = OutputCapture()
capture.install()
libc = ctypes.CDLL(None)


@contextlib.contextmanager
def run(name, item=None):
    capture.start(LogSink(os.path.join(LOGS, name + ".jsonl"), item))
    try:
        yield
    finally:
        capture.stop()

"""


def capture_runs(
    tmp_path: Path, body: str, *, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run body in a child that installed OutputCapture (run(name) is a run whose log is
    tmp_path/logs/name.jsonl); fails the test when the child does."""
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    script = tmp_path / "child.py"
    script.write_text(HARNESS.format(logs=str(logs)) + textwrap.dedent(body))
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"child failed:\n{done.stdout}\n{done.stderr}"
    return done


def records(tmp_path: Path, name: str) -> list[dict[str, Any]]:
    path = tmp_path / "logs" / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def texts(recs: list[dict[str, Any]], stream: str | None = None) -> list[str]:
    return [r["text"] for r in recs if stream is None or r["stream"] == stream]


# --- what is captured ------------------------------------------------------------------------


def test_every_kind_of_output_lands_in_the_log_of_its_stream(tmp_path: Path) -> None:
    capture_runs(
        tmp_path,
        """
        logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(message)s")
        with run("a"):
            print("python print")
            print("python print to stderr", file=sys.stderr)
            logging.getLogger("job").warning("logging warning")
            os.write(1, b"os.write to fd 1\\n")
            os.write(2, b"os.write to fd 2\\n")
            libc.printf(b"C printf %d\\n", 42)
            libc.fflush(None)
            subprocess.run(["echo", "child process stdout"], check=True)
            subprocess.run(["sh", "-c", "echo child process stderr >&2"], check=True)
        """,
    )
    log = records(tmp_path, "a")
    assert texts(log, "out") == [
        "python print",
        "os.write to fd 1",
        "C printf 42",
        "child process stdout",
    ]
    assert texts(log, "err") == [
        "python print to stderr",
        "WARNING logging warning",
        "os.write to fd 2",
        "child process stderr",
    ]


def test_c_output_still_in_libc_buffers_is_flushed_into_the_run_at_its_end(
    tmp_path: Path,
) -> None:
    capture_runs(
        tmp_path,
        """
        with run("a"):
            libc.printf(b"buffered in libc\\n")  # fd 1 is a pipe: libc holds this back
        with run("b"):
            print("second run")
        """,
    )
    assert texts(records(tmp_path, "a")) == ["buffered in libc"]
    assert texts(records(tmp_path, "b")) == ["second run"]


def test_final_line_without_newline_is_kept(tmp_path: Path) -> None:
    capture_runs(
        tmp_path,
        """
        with run("a"):
            print("first")
            sys.stdout.write("last, no newline")
            sys.stderr.write("err, no newline")
        """,
    )
    log = records(tmp_path, "a")
    assert texts(log, "out") == ["first", "last, no newline"]
    assert texts(log, "err") == ["err, no newline"]


def test_each_record_has_seq_stream_time_and_text(tmp_path: Path) -> None:
    before = time.time()
    capture_runs(
        tmp_path,
        """
        with run("a"):
            for i in range(50):
                print(f"out {i}")
                print(f"err {i}", file=sys.stderr)
        with run("item", item=3):
            print("from item 3")
        """,
    )
    log = records(tmp_path, "a")
    assert [r["seq"] for r in log] == list(range(100))  # strictly increasing, no gaps
    assert texts(log, "out") == [f"out {i}" for i in range(50)]
    assert texts(log, "err") == [f"err {i}" for i in range(50)]
    assert all(r["stream"] in ("out", "err") for r in log)
    assert all(before <= r["t"] <= time.time() for r in log)
    assert all("item" not in r and "cr" not in r for r in log)
    (item,) = records(tmp_path, "item")
    assert {k: v for k, v in item.items() if k != "t"} == {
        "seq": 0,
        "stream": "out",
        "text": "from item 3",
        "item": 3,
    }


def test_many_lines_and_long_lines_arrive_whole_and_in_order(tmp_path: Path) -> None:
    capture_runs(
        tmp_path,
        """
        with run("a"):
            for i in range(20000):
                print(f"line {i}")
            print("x" * 300000)  # far more than one pipe read
            print("tail")
        """,
    )
    log = texts(records(tmp_path, "a"))
    assert log[:20000] == [f"line {i}" for i in range(20000)]
    assert log[20000:] == ["x" * 300000, "tail"]


def test_bytes_that_are_not_utf8_are_replaced_not_fatal(tmp_path: Path) -> None:
    capture_runs(
        tmp_path,
        """
        with run("a"):
            os.write(1, b"bad \\xff\\xfe bytes\\n")
            print("café ✓")
        """,
    )
    assert texts(records(tmp_path, "a")) == ["bad \ufffd\ufffd bytes", "café ✓"]


# --- progress bars -----------------------------------------------------------------------


def test_carriage_return_progress_is_throttled_and_ends_with_its_final_state(
    tmp_path: Path,
) -> None:
    capture_runs(
        tmp_path,
        """
        with run("a"):
            print("before")
            for i in range(1, 201):
                print(f"\\r{i}%", end="", flush=True)
                time.sleep(0.005)
            print()
            print("after")
        """,
    )
    log = records(tmp_path, "a")
    assert len(log) < 20, f"200 redraws flooded the log: {len(log)} records"
    assert log[0]["text"] == "before" and log[-1]["text"] == "after"
    progress = log[1:-1]
    # Shown as it advances (a record every PROGRESS_INTERVAL_S), then its final state.
    assert len(progress) >= 2
    assert all(r.get("cr") for r in progress[:-1])
    assert progress[-1]["text"] == "200%" and "cr" not in progress[-1]
    values = [int(r["text"].rstrip("%")) for r in progress]
    assert values == sorted(values)
    assert [r["seq"] for r in log] == list(range(len(log)))


def test_progress_that_ends_with_carriage_return_keeps_its_final_state(tmp_path: Path) -> None:
    # The common idiom print(..., end="\\r"): the final state is before the last \\r.
    capture_runs(
        tmp_path,
        """
        with run("a"):
            for i in range(1, 101):
                print(f"{i}%", end="\\r", flush=True)
            print()
            print("done")
        """,
    )
    assert texts(records(tmp_path, "a"))[-2:] == ["100%", "done"]


def test_progress_left_unfinished_at_the_end_of_a_run_keeps_its_final_state(
    tmp_path: Path,
) -> None:
    capture_runs(
        tmp_path,
        """
        with run("a"):
            for i in range(1, 51):
                sys.stderr.write(f"\\r{i}/50")
        """,
    )
    log = records(tmp_path, "a")
    assert log[-1]["text"] == "50/50" and log[-1]["stream"] == "err"


def test_windows_line_endings_lose_their_carriage_return(tmp_path: Path) -> None:
    capture_runs(tmp_path, 'with run("a"):\n    os.write(1, b"dos line\\r\\n")\n')
    assert records(tmp_path, "a")[0]["text"] == "dos line"
    assert "cr" not in records(tmp_path, "a")[0]


# --- runs one after another ----------------------------------------------------------------


def test_nothing_of_one_run_lands_in_the_next(tmp_path: Path) -> None:
    capture_runs(
        tmp_path,
        """
        for name in ("a", "b", "c"):
            with run(name):
                for i in range(2000):
                    print(f"{name} out {i}")
                    if i % 100 == 0:
                        print(f"{name} err {i}", file=sys.stderr)
                libc.printf(f"{name} c-level\\n".encode())  # left in libc's buffer
                sys.stdout.write(f"{name} partial")
        """,
    )
    for name in ("a", "b", "c"):
        log = records(tmp_path, name)
        assert all(r["text"].startswith(f"{name} ") for r in log), name
        assert texts(log, "out") == [
            *(f"{name} out {i}" for i in range(2000)),
            f"{name} c-level",
            f"{name} partial",
        ]
        assert texts(log, "err") == [f"{name} err {i}" for i in range(0, 2000, 100)]
        assert [r["seq"] for r in log] == list(range(len(log)))


def test_output_between_runs_goes_to_the_original_fds_not_to_a_log(tmp_path: Path) -> None:
    done = capture_runs(
        tmp_path,
        """
        print("before any run")
        with run("a"):
            print("in run a")
        print("between runs")
        print("between runs, stderr", file=sys.stderr)
        with run("b"):
            print("in run b")
        """,
    )
    assert texts(records(tmp_path, "a")) == ["in run a"]
    assert texts(records(tmp_path, "b")) == ["in run b"]
    assert done.stdout.splitlines() == ["before any run", "between runs"]
    assert done.stderr.splitlines() == ["between runs, stderr"]


def test_a_run_that_prints_nothing_makes_no_log_file_nor_folder(tmp_path: Path) -> None:
    capture_runs(
        tmp_path,
        """
        for name in ("quiet", "loud", "quiet-after"):
            capture.start(LogSink(os.path.join(LOGS, name, "log.jsonl")))
            if name == "loud":
                print("a line")
            capture.stop()
        """,
    )
    assert not (tmp_path / "logs" / "quiet").exists()
    assert not (tmp_path / "logs" / "quiet-after").exists()
    loud = tmp_path / "logs" / "loud" / "log.jsonl"
    assert [json.loads(line)["text"] for line in loud.read_text().splitlines()] == ["a line"]
    assert loud.stat().st_mode & 0o777 == 0o600


def test_a_run_ends_promptly_while_a_process_it_left_behind_keeps_writing(
    tmp_path: Path,
) -> None:
    capture_runs(
        tmp_path,
        """
        with run("a"):
            print("a line")
            spam = subprocess.Popen(["sh", "-c", "while :; do echo spam; done"])
            time.sleep(0.2)
        began = time.monotonic()
        with run("b"):
            os.write(1, b"b line\\n")  # one write: print's two could straddle a spam line
        took = time.monotonic() - began
        spam.kill()
        spam.wait()
        with open(os.path.join(LOGS, "took"), "w") as f:
            f.write(str(took))
        """,
    )
    took = float((tmp_path / "logs" / "took").read_text())
    assert took < 3, f"the run took {took:.1f} s to end beside the flood"
    a, b = texts(records(tmp_path, "a")), texts(records(tmp_path, "b"))
    assert a[0] == "a line" and set(a[1:]) <= {"spam"}  # whole lines, never mixed
    assert "b line" in b and set(b) <= {"b line", "spam"}


def test_a_log_that_cannot_be_written_keeps_its_lines_in_the_workers_own_output(
    tmp_path: Path,
) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "not-a-folder").write_text("")
    done = capture_runs(
        tmp_path,
        """
        capture.start(LogSink(os.path.join(LOGS, "not-a-folder", "log.jsonl")))
        print("kept anyway")
        capture.stop()
        with run("next"):
            print("next run")
        """,
    )
    assert "could not write the run's log" in done.stdout
    assert done.stdout.rstrip().endswith("the line was: kept anyway")
    assert texts(records(tmp_path, "next")) == ["next run"]


# --- the stored log, read by the daemon ------------------------------------------------------


def _write(path: Path, *recs: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        for rec in recs:
            f.write(json.dumps(rec) + "\n")


def _line(seq: int, text: str, **extra: Any) -> dict[str, Any]:
    return {"seq": seq, "stream": "out", "t": 0.0, "text": text, **extra}


def test_follower_sends_every_record_once_in_order_until_the_end_marker(tmp_path: Path) -> None:
    path = log_path(tmp_path, "run-1")
    got: list[dict[str, Any]] = []

    def writer() -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        for i in range(3000):
            raw = (json.dumps(_line(i, f"line {i}")) + "\n").encode()
            # Records written in two halves: the follower must never send half a line.
            os.write(fd, raw[:10])
            os.write(fd, raw[10:])
            if i % 500 == 0:
                time.sleep(0.02)
        os.close(fd)
        append_end(path, "succeeded")

    path.parent.mkdir(parents=True)
    thread = threading.Thread(target=writer)
    thread.start()
    for batch in read_records(path, follow=True, finished=lambda: False, cancelled=lambda: False):
        got.extend(batch)
    thread.join()
    assert [r["text"] for r in got[:-1]] == [f"line {i}" for i in range(3000)]
    assert got[-1]["end"] is True and got[-1]["status"] == "succeeded"


def test_follower_waits_for_a_log_that_does_not_exist_yet(tmp_path: Path) -> None:
    path = log_path(tmp_path, "late")
    threading.Timer(
        0.2, lambda: (_write(path, _line(0, "hello")), append_end(path, "failed"))
    ).start()
    got = [
        r
        for batch in read_records(
            path, follow=True, finished=lambda: False, cancelled=lambda: False
        )
        for r in batch
    ]
    assert [r.get("text") for r in got] == ["hello", None]
    assert got[-1]["status"] == "failed"


def test_follower_of_a_run_that_ended_without_a_marker_stops(tmp_path: Path) -> None:
    path = log_path(tmp_path, "orphan")
    _write(path, _line(0, "only line"))
    start = time.monotonic()
    got = list(read_records(path, follow=True, finished=lambda: True, cancelled=lambda: False))
    assert [[r["text"] for r in b] for b in got] == [["only line"]]
    assert time.monotonic() - start < 1.0


def test_follower_stops_promptly_when_its_client_goes_away(tmp_path: Path) -> None:
    path = log_path(tmp_path, "live")
    _write(path, _line(0, "running"))
    gone = threading.Event()
    threading.Timer(0.3, gone.set).start()
    start = time.monotonic()
    got = list(read_records(path, follow=True, finished=lambda: False, cancelled=gone.is_set))
    assert [[r["text"] for r in b] for b in got] == [["running"]]
    assert time.monotonic() - start < 1.0


def test_reading_without_follow_returns_what_is_written_now(tmp_path: Path) -> None:
    path = log_path(tmp_path, "now")
    assert (
        list(read_records(path, follow=False, finished=lambda: False, cancelled=lambda: False))
        == []
    )
    _write(path, _line(0, "a"), _line(1, "b"))
    got = list(read_records(path, follow=False, finished=lambda: False, cancelled=lambda: False))
    assert [r["text"] for b in got for r in b] == ["a", "b"]


def test_item_keeps_one_map_items_lines_and_the_end_marker(tmp_path: Path) -> None:
    path = log_path(tmp_path, "map")
    _write(path, _line(0, "i0", item=0), _line(0, "i1", item=1), _line(1, "i0 again", item=0))
    append_end(path, "succeeded")
    got = [
        r
        for b in read_records(
            path, follow=True, finished=lambda: True, cancelled=lambda: False, item=0
        )
        for r in b
    ]
    assert [r.get("text") for r in got] == ["i0", "i0 again", None]
    assert got[-1]["end"]


def test_logs_are_deleted_with_their_run_by_retention(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite", tmp_path / "runs")
    for run_id in ("old", "live"):
        store.create(run_id=run_id, function="f", args_digest="d", status=pb.RUNNING)
        _write(store.log_path(run_id), _line(0, run_id))
    store.finish("old", pb.RunOutcome(status=pb.SUCCEEDED, ended_at=time.time() - 100))
    append_end(store.log_path("old"), "succeeded")
    assert store.purge_older_than(10) == 1
    assert not store.log_path("old").exists()
    assert store.log_path("live").exists()  # a running run is never purged


@pytest.mark.parametrize("status", ["succeeded", "failed", "timed_out"])
def test_end_marker_carries_the_status(tmp_path: Path, status: str) -> None:
    path = log_path(tmp_path, "r")
    path.parent.mkdir()  # made by the run's first line, or by a follower's watch
    append_end(path, status)
    (record,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert record["end"] is True and record["status"] == status and record["t"] > 0


def test_a_run_that_printed_nothing_and_had_no_follower_gets_no_log(tmp_path: Path) -> None:
    path = log_path(tmp_path, "quiet")
    append_end(path, "succeeded")
    assert not path.parent.exists()
    got = list(read_records(path, follow=True, finished=lambda: True, cancelled=lambda: False))
    assert got == []


def test_a_follower_of_a_quiet_run_gets_its_end_marker(tmp_path: Path) -> None:
    path = log_path(tmp_path, "watched")
    got: list[dict[str, Any]] = []
    follower = threading.Thread(
        target=lambda: got.extend(
            r
            for batch in read_records(
                path, follow=True, finished=lambda: False, cancelled=lambda: False
            )
            for r in batch
        )
    )
    follower.start()
    deadline = time.monotonic() + 10
    while not path.parent.exists() and time.monotonic() < deadline:
        time.sleep(0.01)  # the follower's watch makes the run's folder
    append_end(path, "succeeded")
    follower.join(10)
    assert [r.get("status") for r in got] == ["succeeded"]
