"""A map whose results fill the daemon's disk part way through: a size-limited tmpfs
mounted as this module's rhcli root (the tests run as root, as CI does).

Set-up: a daemon on a 64 MiB disk, with ballast leaving about 12 MiB free. Fault: a map
whose 300 KB results (each in its own file) need three times that. What must hold: no
None for a missing result, the map FAILED with the disk's reason, an error naming the
map, the missing items and the resume (exit 3 on the CLI), and once space is back a
resume completes it with every result once.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import rhcli as rh
from rhcli.clusters.local import LocalCluster
from rhcli.errors import ExitCode, MapIncompleteError
from tests.conftest import run_cli
from tests.faults.small_disks import NEEDS_ROOT, local_cluster_on, tmpfs
from tests.fixtures import batch

DISK_MB = 64
FREE_MB = 12
BLOB = 300_000
ITEMS = 100

pytestmark = NEEDS_ROOT


@pytest.fixture(scope="module")
def disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with tmpfs(tmp_path_factory.mktemp("map-disk"), DISK_MB) as mounted:
        yield mounted


@pytest.fixture(scope="module")
def cluster(disk: Path) -> Iterator[LocalCluster]:
    with local_cluster_on(disk / "home", "map-disk") as on_disk:
        yield on_disk


def _ballast(disk: Path, *, leave_mb: int) -> Path:
    """A file taking all the disk's free space but leave_mb."""
    stats = os.statvfs(disk)
    size = stats.f_bavail * stats.f_frsize - leave_mb * 1024 * 1024
    path = disk / "ballast"
    with open(path, "wb") as f:
        f.truncate(0)
        for _ in range(size // (1024 * 1024)):
            f.write(b"\0" * (1024 * 1024))
    return path


def _status(cluster: LocalCluster, map_id: str) -> tuple[str, str]:
    info = rh.runs(cluster=cluster, limit=10)
    (record,) = [r for r in info if r.run_id == map_id]
    return record.status, record.reason


def test_a_map_that_fills_the_disk_raises_and_fails_and_resume_completes_it_once_space_is_back(
    cluster: LocalCluster, disk: Path
) -> None:
    fn = rh.function(batch.blob, system=cluster)
    ballast = _ballast(disk, leave_mb=FREE_MB)
    try:
        with pytest.raises(MapIncompleteError) as caught:
            fn.map([BLOB] * ITEMS, return_exceptions=True)
        map_id = fn.last_map_id
        error = caught.value
        assert error.map_id == map_id and error.total == ITEMS
        assert 0 < error.missing < ITEMS and not error.cluster_lost
        assert "disk is full" in error.reason
        status, reason = _status(cluster, map_id)  # while the disk is still full
        assert status == "failed" and "disk is full" in reason
        # No item is lost without a word: each the daemon received is stored as
        # succeeded (exactly the results the client got) or failed with the disk's
        # reason; none is left running.
        records = rh.runs(cluster=cluster, limit=1000, include_items=True)
        items = [r for r in records if r.parent == map_id]
        succeeded = [r for r in items if r.status == "succeeded"]
        failed = [r for r in items if r.status != "succeeded"]
        assert len(succeeded) == ITEMS - error.missing
        assert all(r.status == "failed" and "disk is full" in r.reason for r in failed)
    finally:
        ballast.unlink()

    results = fn.map([BLOB] * ITEMS, resume=map_id)

    assert results == [b"x" * BLOB] * ITEMS
    assert _status(cluster, map_id)[0] == "succeeded"
    assert rh.get(map_id, cluster=cluster) == results


def test_the_cli_exits_3_on_a_full_disk_and_its_resume_command_completes_the_output(
    cluster: LocalCluster, disk: Path, tmp_path: Path
) -> None:
    inputs, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inputs.write_text(f"{BLOB}\n" * ITEMS)
    # The cluster's root is on the small disk; the client's own root (its journal) is not.
    manifest = tmp_path / "runhouse.yaml"
    manifest.write_text(
        f"default_cluster: disk\nclusters:\n  disk: {{type: local, home: {disk / 'home'}}}\n"
    )
    argv = ["-f", str(manifest), "map", "tests.fixtures.batch:blob", "-i", str(inputs)]
    ballast = _ballast(disk, leave_mb=FREE_MB)
    try:
        done = run_cli(*argv, "-o", str(out))
    finally:
        ballast.unlink()

    assert done.returncode == ExitCode.UNREACHABLE, done.stderr
    (error,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert "disk is full" in error and f"of {ITEMS} items have no result" in error
    # Lines go out in input order, so how many were written depends on which worker's
    # chunk was stored before the disk filled: none when item 0's chunk lost that race
    # (and then the file was never opened). What holds either way: no null stands in
    # for a missing result, and the summary below counts every stored one.
    written = out.read_text().splitlines() if out.exists() else []
    assert len(written) < ITEMS and "null" not in written
    map_id = done.stderr.split(":", 1)[0].removeprefix("map ")
    summary = rf"map {map_id}: (\d+) succeeded, 0 failed, (\d+) without a result in "
    found = re.search(summary, done.stderr)
    assert found is not None, done.stderr
    got, missing = map(int, found.groups())
    assert 0 < got and got >= len(written) and got + missing == ITEMS
    listed = run_cli("-f", str(manifest), "runs", "-n", "1")
    assert map_id in listed.stdout and "failed" in listed.stdout, listed.stdout
    command = error.split("Resume it with `", 1)[1].split("`", 1)[0]

    again = run_cli(*command.split()[1:])

    assert again.returncode == 0, again.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == ITEMS and len(set(lines)) == 1
    assert json.loads(lines[0])["repr"].startswith("b'xxxx")
