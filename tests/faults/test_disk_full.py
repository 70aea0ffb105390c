"""A full disk under the daemon's root: a size-limited tmpfs mounted as this module's
rhcli root (the tests run as root, as CI does).

Set-up: a daemon on the small disk with runs and results already stored. Fault: the disk
is filled to the last byte. What must hold: calls that need space fail saying the disk is
full, no record or result is left half-written, stored results stay readable, and once
space is back the daemon works again without a restart.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path

import pytest

import rhcli as rh
from rhcli.clusters.local import LocalCluster
from rhcli.errors import RhcliError, UnreachableError
from rhcli.protocol import daemon_pb2 as pb
from tests.faults import crashers
from tests.faults.small_disks import NEEDS_ROOT, local_cluster_on, tmpfs
from tests.fixtures import funcs

DISK_MB = 32

pytestmark = NEEDS_ROOT


@pytest.fixture(scope="module")
def small_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with tmpfs(tmp_path_factory.mktemp("small-disk"), DISK_MB) as disk:
        yield disk


@pytest.fixture(scope="module")
def on_small_disk(small_disk: Path) -> Iterator[LocalCluster]:
    with local_cluster_on(small_disk / "home", "small-disk") as cluster:
        yield cluster


def _fill(disk: Path) -> Path:
    """Write a file until the disk refuses another byte; returns it."""
    filler = disk / "filler"
    block = b"\0" * (1024 * 1024)
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(block)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith((".tmp", ".part"))]


def test_a_full_disk_fails_calls_clearly_keeps_what_was_stored_and_recovers(
    on_small_disk: LocalCluster, small_disk: Path
) -> None:
    cluster = on_small_disk
    root = cluster.daemon.paths.root
    add = rh.function(funcs.add, system=cluster)
    make_bytes = rh.function(funcs.make_bytes, system=cluster)
    length = rh.function(funcs.length, system=cluster)
    small = add.remote(1, 2)
    stored = make_bytes.remote(1024 * 1024)  # kept in a result file
    assert rh.get(small) == 3 and len(rh.get(stored)) == 1024 * 1024
    # Recorded while there is space; its 2 MB result comes back after the disk is full.
    pending = rh.function(crashers.sleep_then_bytes, system=cluster).remote(4, 2 * 1024 * 1024)
    runs_before = len(cluster.client().list_runs(limit=1000))

    filler = _fill(small_disk)
    try:
        # A new call cannot be recorded: refused, saying why, and no run is made.
        with pytest.raises(UnreachableError) as refused:
            add(2, 2)
        assert "disk is full" in str(refused.value) and "no run was made" in str(refused.value)
        # Nor can a large argument be uploaded.
        with pytest.raises(UnreachableError) as refused:
            length(b"x" * (6 * 1024 * 1024))
        assert "disk is full" in str(refused.value)
        assert len(cluster.client().list_runs(limit=1000)) == runs_before

        # The running call's result cannot be stored: the run fails saying so, and no
        # half-written result is left.
        with pytest.raises(RhcliError) as failed:
            rh.get(pending)
        assert "disk is full" in str(failed.value)
        assert not (root / "runs" / pending / "result.pkl").exists()
        assert _leftovers(root) == []

        # What was stored before is whole, and the daemon answers.
        assert rh.get(small) == 3
        assert rh.get(stored) == b"x" * (1024 * 1024)
        assert cluster.client().health().version
    finally:
        filler.unlink()

    # Space is back: the same daemon records, uploads and stores large results again,
    # and the failure it could not store before is in the run store now.
    assert add(2, 2) == 4
    assert length(b"x" * (6 * 1024 * 1024)) == 6 * 1024 * 1024
    assert len(make_bytes(2 * 1024 * 1024)) == 2 * 1024 * 1024
    info = cluster.client().get_run(pending)
    assert info.status == pb.FAILED and "disk is full" in info.reason
    assert _leftovers(root) == []
