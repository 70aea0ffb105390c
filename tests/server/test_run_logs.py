"""Reading a run's log with `tail` and `since` (rhcli.server.run_logs): what `rhcli logs
--tail N --since WHEN` gets from the daemon. Following and item filtering are pinned in
test_logcapture.py."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from rhcli.server.run_logs import append_end, log_path, read_records


def _line(seq: int, text: str, t: float = 0.0, **extra: Any) -> dict[str, Any]:
    return {"seq": seq, "stream": "out", "t": t, "text": text, **extra}


def _write(path: Path, *records: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")


def _texts(path: Path, **options: Any) -> list[Any]:
    options.setdefault("follow", False)
    batches = read_records(path, finished=lambda: True, cancelled=lambda: False, **options)
    return [record.get("text", "END") for batch in batches for record in batch]


def test_tail_keeps_the_last_lines_and_the_end_marker(tmp_path: Path) -> None:
    path = log_path(tmp_path, "done")
    _write(path, *(_line(i, f"line {i}") for i in range(10)))
    append_end(path, "succeeded")
    assert _texts(path, tail=3) == ["line 7", "line 8", "line 9", "END"]
    assert _texts(path, tail=0) == ["END"]
    assert _texts(path, tail=50) == [f"line {i}" for i in range(10)] + ["END"]


def test_tail_counts_only_the_lines_of_the_item_asked_for(tmp_path: Path) -> None:
    path = log_path(tmp_path, "map")
    _write(path, *(_line(i, f"{i % 2}:{i}", item=i % 2) for i in range(8)))
    assert _texts(path, tail=2, item=1) == ["1:5", "1:7"]


def test_tail_of_a_log_larger_than_one_read_is_whole_lines(tmp_path: Path) -> None:
    path = log_path(tmp_path, "big")
    long = "x" * 3000
    _write(path, *(_line(i, f"{i} {long}") for i in range(1000)))  # about 3 MB
    assert [text.split()[0] for text in _texts(path, tail=2)] == ["998", "999"]


def test_since_keeps_lines_written_at_or_after_it(tmp_path: Path) -> None:
    path = log_path(tmp_path, "timed")
    _write(path, _line(0, "old", t=100.0), _line(1, "edge", t=200.0), _line(2, "new", t=300.0))
    append_end(path, "failed")
    assert _texts(path, since=200.0) == ["edge", "new", "END"]
    assert _texts(path, since=200.0, tail=1) == ["new", "END"]


def test_tail_with_follow_gives_the_last_lines_then_every_new_one(tmp_path: Path) -> None:
    path = log_path(tmp_path, "live")
    _write(path, *(_line(i, f"before {i}") for i in range(5)))
    started = threading.Event()

    def more() -> None:
        started.wait(10)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        for i in range(3):
            os.write(fd, (json.dumps(_line(10 + i, f"after {i}")) + "\n").encode())
        os.close(fd)
        append_end(path, "succeeded")

    writer = threading.Thread(target=more)
    writer.start()
    got = []
    for batch in read_records(
        path, follow=True, finished=lambda: False, cancelled=lambda: False, tail=2
    ):
        got += [record.get("text", "END") for record in batch]
        started.set()
    writer.join()
    assert got == ["before 3", "before 4", "after 0", "after 1", "after 2", "END"]


def test_tail_while_following_a_log_not_written_yet_keeps_every_line(tmp_path: Path) -> None:
    # Nothing was written before the follower came: every line is a new one.
    path = log_path(tmp_path, "late")
    path.parent.mkdir(parents=True)
    threading.Timer(
        0.2, lambda: (_write(path, _line(0, "a"), _line(1, "b")), append_end(path, "succeeded"))
    ).start()
    got = [
        record.get("text", "END")
        for batch in read_records(
            path, follow=True, finished=lambda: False, cancelled=lambda: False, tail=0
        )
        for record in batch
    ]
    assert got == ["a", "b", "END"]
