"""The head's LogWriter: forwarded records land whole in the run's log, and nowhere but
under the daemon's runs folder. (Forwarding itself, between real nodes, is tested in
tests/multinode.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rhcli.server.log_forwarding import LogWriter


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
