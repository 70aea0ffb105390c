"""Syncing code to the SSH cluster: rhcli's sync after one file changed, beside a bare
`rsync` of the same project over the same sshd (with a new ssh connection each time, as a
user typing it pays, and over an OpenSSH master connection, the transfer alone)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from benchmarks.harness import Bench, SshTarget
from benchmarks.stats import Row, ms, timed

FILES = 200  # a small project: 200 modules of 2 KiB


def run(bench: Bench) -> list[Row]:
    target = bench.target
    if not isinstance(target, SshTarget):
        return []  # the local cluster runs code in place: nothing to sync
    n = bench.reps.processes * 2
    project = Path(tempfile.mkdtemp(prefix="rhb-sync-", dir="/tmp"))
    remote = target.dir / "bare-rsync"
    master = target.dir / "m.sock"
    try:
        _make_project(project)
        cluster = target.cluster
        cluster.sync(project)  # the first sync sends everything
        edits = iter(range(10**6))

        def change_one() -> None:
            (project / "pkg" / "mod_7.py").write_text(f"VALUE = {next(edits)}\n" + "#" * 2000)

        def rhcli_sync() -> None:
            change_one()
            result = cluster.sync(project)
            assert [name for name, _ in result.transferred] == ["pkg/mod_7.py"], result

        bench.log(f"  sync after one file changed: {n} syncs each (rhcli, bare rsync x2)")
        synced = timed(rhcli_sync, calls=n, warmup=2)
        ssh = target.ssh_command()
        bare = _bare_rsync(ssh, project, remote)
        fresh = timed(lambda: (change_one(), bare()), calls=n, warmup=2)
        subprocess.run(
            [
                *ssh,
                "-o",
                "ControlMaster=yes",
                "-o",
                f"ControlPath={master}",
                "-f",
                "-N",
                "root@127.0.0.1",
            ],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            over_master = [*ssh, "-o", "ControlMaster=no", "-o", f"ControlPath={master}"]
            muxed = _bare_rsync(over_master, project, remote)
            reused = timed(lambda: (change_one(), muxed()), calls=n, warmup=2)
            # What any remote command costs on this host: the user's shell starting.
            shell = timed(
                lambda: subprocess.run(
                    [*over_master, "root@127.0.0.1", "true"], check=True, stdin=subprocess.DEVNULL
                ),
                calls=n,
                warmup=1,
            )
        finally:
            subprocess.run(
                ["ssh", "-o", f"ControlPath={master}", "-O", "exit", "root@127.0.0.1"],
                capture_output=True,
                check=False,
            )
    finally:
        shutil.rmtree(project, ignore_errors=True)
    return [
        Row("ssh_true_master", "floor: `ssh host true` over an ssh master", "ms", ms(shell)),
        Row("rsync_fresh", "floor: bare rsync, one file changed, new ssh", "ms", ms(fresh)),
        Row("rsync_master", "floor: bare rsync, one file changed, ssh master", "ms", ms(reused)),
        Row(
            "sync_one_file",
            "rhcli sync, one file changed",
            "ms",
            ms(synced),
            floor=("rsync_fresh",),
        ),
        Row(
            "sync_one_file_vs_master",
            "  the same, beside rsync over an ssh master",
            "ms",
            ms(synced),
            floor=("rsync_master",),
        ),
    ]


def _make_project(project: Path) -> None:
    (project / "pkg").mkdir()
    for i in range(FILES):
        (project / "pkg" / f"mod_{i}.py").write_text(f"VALUE = {i}\n" + "#" * 2000)
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    subprocess.run(["git", "-C", str(project), "add", "."], check=True)


def _bare_rsync(ssh: list[str], project: Path, remote: Path) -> object:
    """rsync the project (git's files: here all of them) into remote, as a user would."""
    command = [
        "rsync",
        "-rlptz",
        "--delete",
        "--exclude=.git",
        "-e",
        shlex.join(ssh),
        f"{project}/",
        f"root@127.0.0.1:{remote}/",
    ]

    def once() -> None:
        subprocess.run(command, check=True, capture_output=True)

    return once
