"""The client's journal of a map (rhcli.map_journal), on its own: what it keeps, what it
drops, and how it fails. No cluster: a journal is files under the client's root."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rhcli.errors import MapJournalError, UsageError
from rhcli.map_journal import MapJournal, journals_root, prune
from rhcli.outcomes import Outcome


@pytest.fixture(autouse=True)
def client_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("RHCLI_HOME", str(tmp_path / "home"))
    yield tmp_path / "home"


def _ok(map_id: str, index: int, value: str) -> Outcome:
    return Outcome(
        run_id=f"{map_id}.{index}",
        status="succeeded",
        result=value.encode(),
        result_json=f'"{value}"',
        result_repr=repr(value),
    )


def test_a_journal_keeps_succeeded_results_and_digests_and_reads_them_back() -> None:
    with MapJournal.create("m1", function="f", cluster="local", total=4) as journal:
        journal.write_digests(range(4), [bytes([i]) * 32 for i in range(4)])
        failed = Outcome(run_id="m1.1", status="failed", reason="no")
        journal.add([(0, _ok("m1", 0, "a")), (1, failed), (3, _ok("m1", 3, "d"))])

    again = MapJournal.open("m1")
    assert again is not None
    with again:
        assert [i for i in range(4) if again.has(i)] == [0, 3] and again.held == 2
        assert again.outcome(3) == _ok("m1", 3, "d")
        assert again.digests() == b"".join(bytes([i]) * 32 for i in range(4))
        assert again.have_bitmap(4) == bytes([0b1001])
        assert [i for i, _ in again.outcomes(range(4))] == [0, 3]


def test_a_record_cut_short_is_dropped_and_the_journal_goes_on_after_the_last_whole_one() -> None:
    with MapJournal.create("m2", function="f", cluster="local", total=3) as journal:
        journal.add([(0, _ok("m2", 0, "a")), (1, _ok("m2", 1, "b"))])
    results = journals_root() / "m2" / "results"
    os.truncate(results, results.stat().st_size - 3)  # a power loss in the last write

    with MapJournal.open("m2") as journal:  # type: ignore[union-attr]
        assert [i for i in range(3) if journal.has(i)] == [0]
        journal.add([(2, _ok("m2", 2, "c"))])
    with MapJournal.open("m2", writable=False) as journal:  # type: ignore[union-attr]
        assert [journal.outcome(i).result for i in (0, 2)] == [b"a", b"c"]


def test_one_process_at_a_time_writes_a_journal_and_a_map_id_makes_one_journal() -> None:
    with MapJournal.create("m3", function="f", cluster="local", total=1):
        with pytest.raises(UsageError, match="being run by another process"):
            MapJournal.open("m3")
        assert MapJournal.open("m3", writable=False) is not None  # readers are welcome
    with pytest.raises(UsageError, match="exists already"):
        MapJournal.create("m3", function="f", cluster="local", total=1)


def test_a_journal_that_cannot_be_written_stops_the_map_saying_where_and_what_to_do(
    client_root: Path,
) -> None:
    client_root.mkdir(parents=True)
    (client_root / "maps").write_text("not a folder")
    with pytest.raises(MapJournalError) as caught:
        MapJournal.create("m4", function="f", cluster="local", total=1)
    assert "cannot write the journal of map m4" in str(caught.value)
    assert "resume the map" in str(caught.value)


def test_journals_not_written_for_the_retention_are_pruned_and_others_kept() -> None:
    for name in ("old", "new"):
        MapJournal.create(name, function="f", cluster="local", total=1).close()
    long_ago = time.time() - 8 * 86400
    old = journals_root() / "old"
    for path in [old, *old.iterdir()]:
        os.utime(path, (long_ago, long_ago))
    assert prune() == 1
    assert sorted(p.name for p in journals_root().iterdir()) == ["new"]
