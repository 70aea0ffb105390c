"""Faults of the fault suite that need the session's SSH cluster (`box`, whose fixtures
live in tests/ssh/conftest.py, hence here rather than in tests/faults/): the tunnel
dropped while a client streams logs (item 3), and a full disk under a sync (item 13).

Each test: set-up, the fault, what must hold.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import rhcli as rh
from rhcli.errors import RhcliError, UnreachableError
from rhcli.protocol import daemon_pb2 as pb
from tests.client.test_logs import daemon_threads, settled_threads
from tests.fixtures import funcs


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS line")


def _lines_of(client: Any, run_id: str) -> list[str]:
    return [line.text for batch in client.logs(run_id, follow=True) for line in batch.lines]


def test_a_tunnel_dropped_mid_stream_loses_no_line_and_leaves_the_daemon_as_it_was(
    box: Any,
) -> None:
    """Set-up: a run printing a line every 0.1 s, followed through the forward. Fault: the
    SSH connection carrying the forward (the master's, or paramiko's tunnel) is closed
    under the stream. Holds: the stream ends
    with an error instead of hanging, the run completes, its whole log can be read after
    reconnecting, and the daemon's threads and memory come back to where they were."""
    cluster = box.cluster
    ticks = rh.function(funcs.ticks, system=cluster)
    warm = ticks.remote(3, 0.01)  # a stream served once: the daemon's pool threads exist
    assert _lines_of(cluster.client(), warm) == ["tick 0", "tick 1", "tick 2"]
    pid = int(box.daemon()["pid"])
    threads_before, rss_before = daemon_threads(pid), _rss_kib(pid)

    run_id = str(ticks.remote(40, 0.1))
    seen: list[str] = []
    ended: list[BaseException] = []
    three = threading.Event()

    def follow() -> None:
        try:
            for batch in cluster.client().logs(run_id, follow=True):
                seen.extend(line.text for line in batch.lines)
                if len(seen) >= 3:
                    three.set()
        except RhcliError as exc:
            ended.append(exc)

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    assert three.wait(60), "the stream never started"

    # The stream goes through the cluster's OpenSSH master (the holder) when one runs,
    # else through paramiko's tunnel: drop whichever carries it.
    if cluster._tunnel is None:
        assert cluster.master().alive()
        cluster.master().close()  # `ssh -O exit`: its forwards go with it
    else:
        cluster.connection().transport.close()  # the tunnel goes with its SSH connection
    follower.join(30)

    assert not follower.is_alive(), "the stream hung after its tunnel was dropped"
    assert len(ended) == 1, "the dropped stream ended without an error"
    assert len(seen) < 40
    cluster.reset_client()  # reconnects: a new SSH connection and forward
    assert rh.get(run_id, cluster=cluster) == 40  # the run went on and completed
    assert _lines_of(cluster.client(), run_id) == [f"tick {i}" for i in range(40)]
    assert cluster.client().get_run(run_id).status == pb.SUCCEEDED
    assert settled_threads(pid, at_most=threads_before + 2) <= threads_before + 2
    time.sleep(0.5)
    assert _rss_kib(pid) < rss_before + 30 * 1024


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root (as in CI)")
def test_a_sync_onto_a_full_disk_fails_naming_the_host_and_the_cause_and_works_once_space_is_back(
    box: Any, git_project: Path
) -> None:
    """Set-up: a project with a 2 MiB file; its copy's folder on the host is a 1 MiB tmpfs.
    Fault: the sync does not fit. Holds: it fails saying where and why, leaves no partial
    file there, and the next sync, with space back, brings the whole file."""
    cluster = box.cluster
    (git_project / "weights.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    subprocess.run(["git", "-C", str(git_project), "add", "."], check=True)
    remote_dir = Path(cluster.code_root(git_project))
    remote_dir.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(remote_dir)], check=True)
    try:
        with pytest.raises(UnreachableError) as caught:
            cluster.sync(git_project)
        message = str(caught.value)
        assert f"rsync to {cluster.target.alias}:{remote_dir} failed" in message
        assert "No space left on device" in message
        assert [p.name for p in remote_dir.iterdir()] == []  # no partial file left
    finally:
        subprocess.run(["umount", "-l", str(remote_dir)], check=False)

    cluster.sync(git_project)
    assert (remote_dir / "weights.bin").read_bytes() == (git_project / "weights.bin").read_bytes()
