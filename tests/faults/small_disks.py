"""Small disks for the full-disk tests: a size-limited tmpfs mounted for a test module
(root only: CI and this machine run the suite as root), and a local cluster whose rhcli
root is on it, stopped and checked for leftovers at the end."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rhcli.clusters.local import LocalCluster
from tests.server.test_run_records import assert_no_processes_left

NEEDS_ROOT = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("mount") is None,
    reason="mounting a tmpfs needs root (CI and this machine run the suite as root)",
)


@contextlib.contextmanager
def tmpfs(mount_point: Path, size_mb: int) -> Iterator[Path]:
    """mount_point as a tmpfs of size_mb MiB until the block ends."""
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(mount_point)],
        check=True,
    )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


@contextlib.contextmanager
def local_cluster_on(home: Path, name: str) -> Iterator[LocalCluster]:
    """A local cluster rooted at home, up until the block ends; no process left after."""
    cluster = LocalCluster(name, home=home)
    cluster.up()
    try:
        yield cluster
    finally:
        cluster.down()
        assert_no_processes_left(home)
