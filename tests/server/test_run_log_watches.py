"""The daemon's log followers wake on inotify, with instances kept in a pool: closing an
inotify instance waits for the kernel (about 12 ms), so a watch hands its instance back
instead, and the next watch starts clean."""

from __future__ import annotations

import json
import select
import threading
from pathlib import Path

from rhcli.server import run_logs
from rhcli.server.run_logs import _Watch, append_end, read_records


def test_a_closed_watch_hands_its_instance_to_the_next_one(tmp_path: Path) -> None:
    first = _Watch.of(tmp_path / "a")
    assert first is not None
    fd = first._fd
    first.close()
    first.close()  # idempotent
    second = _Watch.of(tmp_path / "b")
    assert second is not None
    try:
        assert second._fd == fd
    finally:
        second.close()


def test_a_reused_instance_hears_nothing_of_the_folder_watched_before(tmp_path: Path) -> None:
    old = _Watch.of(tmp_path / "old")
    assert old is not None
    (tmp_path / "old" / "x").write_text("before\n")  # an event left unread
    old.close()
    new = _Watch.of(tmp_path / "new")
    assert new is not None
    try:
        (tmp_path / "old" / "x").write_text("after\n")
        assert not _readable(new, 0.3)  # nothing of the old folder, old events drained
        (tmp_path / "new" / "y").write_text("now\n")
        assert _readable(new, 5.0)  # its own folder's write
    finally:
        new.close()


def _readable(watch: _Watch, timeout: float) -> bool:
    ready, _, _ = select.select([watch._fd], [], [], timeout)
    return bool(ready)


def test_the_pool_keeps_a_bounded_number_of_idle_instances(tmp_path: Path) -> None:
    watches = [_Watch.of(tmp_path / f"w{i}") for i in range(run_logs._POOL_MAX + 4)]
    assert all(w is not None for w in watches)
    for watch in watches:
        assert watch is not None
        watch.close()
    assert len(run_logs._pool) <= run_logs._POOL_MAX


def test_a_follower_stops_at_the_end_marker_of_a_run_that_printed_nothing(
    tmp_path: Path,
) -> None:
    log = tmp_path / "run" / "log.jsonl"
    log.parent.mkdir()
    done = threading.Event()
    threading.Timer(0.1, lambda: (append_end(log, "succeeded"), done.set())).start()
    batches = list(read_records(log, follow=True, finished=done.is_set, cancelled=lambda: False))
    assert [record.get("end") for batch in batches for record in batch] == [True]
    assert json.loads(log.read_text())["status"] == "succeeded"
