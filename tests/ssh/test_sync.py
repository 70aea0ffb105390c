"""Syncing a project to the SSH cluster with the real rsync: git's file list, deletions,
no-op syncs, --dry-run, edits picked up by the next call, and a folder outside git."""

from __future__ import annotations

import dataclasses
import stat
import subprocess
import time
from pathlib import Path

import pytest

from rhcli.errors import UnreachableError
from rhcli.function_ref import from_entrypoint
from rhcli.functions import Function
from rhcli.transport import sync
from rhcli.transport.ssh_master import Master
from tests.conftest import run_cli
from tests.ssh.conftest import Box, record


def _files(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


def _remote(box: Box, project: Path) -> Path:
    return Path(box.cluster.code_root(project))


def _commit(project: Path, *names: str) -> None:
    subprocess.run(["git", "-C", str(project), "add", *names], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(project),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "x",
        ],
        check=True,
    )


def _layout(project: Path) -> None:
    (project / ".gitignore").write_text("*.log\nbuild/\n")
    (project / "pkg").mkdir()
    (project / "pkg" / "tracked.py").write_text("X = 1\n")
    _commit(project, ".gitignore", "pkg/tracked.py")
    (project / "untracked.txt").write_text("new\n")
    (project / "debug.log").write_text("ignored\n")
    (project / "build").mkdir()
    (project / "build" / "out.bin").write_bytes(b"\0" * 100)


def test_tracked_and_untracked_files_arrive_but_ignored_files_and_git_never_do(
    box: Box, git_project: Path
) -> None:
    _layout(git_project)
    result = box.cluster.sync(git_project)
    remote = _remote(box, git_project)
    assert _files(remote) == {".gitignore", "pkg/tracked.py", "untracked.txt"}
    assert not (remote / ".git").exists()
    assert sorted(path for path, _ in result.transferred) == [
        ".gitignore",
        "pkg/tracked.py",
        "untracked.txt",
    ]


def test_a_file_deleted_here_is_deleted_on_the_host(box: Box, git_project: Path) -> None:
    _layout(git_project)
    box.cluster.sync(git_project)
    (git_project / "untracked.txt").unlink()
    (git_project / "pkg" / "tracked.py").unlink()  # deleted, still in git's index
    result = box.cluster.sync(git_project)
    assert _files(_remote(box, git_project)) == {".gitignore"}
    assert sorted(result.deleted) == ["pkg/tracked.py", "untracked.txt"]


def test_a_second_sync_of_an_unchanged_repo_transfers_nothing_in_well_under_a_second(
    box: Box, git_project: Path
) -> None:
    _layout(git_project)
    box.cluster.sync(git_project)
    # Through rsync itself (this process's memory of the last sync forgotten) ...
    box.cluster._synced.clear()
    started = time.monotonic()
    result = box.cluster.sync(git_project)
    rsync_s = time.monotonic() - started
    assert result.transferred == [] and result.deleted == []
    # ... and as a long-lived process sees it (it remembers the last sync's fingerprint).
    started = time.monotonic()
    result = box.cluster.sync(git_project)
    cached_s = time.monotonic() - started
    assert result.transferred == [] and result.deleted == []
    record("sync of an unchanged repo (rsync round trip)", f"{rsync_s * 1000:.0f} ms")
    record("sync of an unchanged repo (fingerprint unchanged)", f"{cached_s * 1000:.1f} ms")
    assert rsync_s < 1.0  # mostly the ssh handshake of a new `ssh` process
    assert cached_s < 0.2


def test_a_dry_run_lists_what_would_move_with_sizes_and_sends_nothing(
    box: Box, git_project: Path
) -> None:
    _layout(git_project)
    box.cluster.sync(git_project)
    (git_project / "pkg" / "tracked.py").write_text("X = 2  # changed\n")
    (git_project / "added.py").write_text("Y = 3\n")
    (git_project / "untracked.txt").unlink()
    remote = _remote(box, git_project)
    before = {name: (remote / name).read_bytes() for name in _files(remote)}
    result = box.cluster.sync(git_project, dry_run=True)
    assert sorted(result.transferred) == [("added.py", 6), ("pkg/tracked.py", 17)]
    assert result.deleted == ["untracked.txt"]
    assert {name: (remote / name).read_bytes() for name in _files(remote)} == before


def test_rhcli_sync_dry_run_prints_each_file_and_its_size_and_sends_nothing(
    box: Box, git_project: Path
) -> None:
    box.manifest(git_project)
    (git_project / "model.py").write_text("W = 0\n" * 100)
    done = run_cli("sync", "box", "--dry-run", cwd=git_project)
    assert done.returncode == 0, done.stderr
    assert "600  model.py" in done.stdout
    assert "box: would send" in done.stdout
    assert not (_remote(box, git_project) / "model.py").exists()


def test_an_edited_module_is_used_by_the_next_call(box: Box, git_project: Path) -> None:
    (git_project / "mod.py").write_text("def value():\n    return 'first'\n")
    value = Function(from_entrypoint("mod:value", root=git_project), system=box.cluster)
    assert value() == "first"
    # The same size, as an edit often is: the contents must still travel.
    (git_project / "mod.py").write_text("def value():\n    return 'again'\n")
    box.cluster.sync(git_project)
    assert value() == "again"
    # Without an explicit sync: a call more than a second after the last sync checks.
    (git_project / "mod.py").write_text("def value():\n    return 'third one'\n")
    time.sleep(1.1)
    assert value() == "third one"


def test_outside_a_git_repository_the_whole_directory_is_synced(box: Box, tmp_path: Path) -> None:
    folder = tmp_path / "plain-folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.py").write_text("A = 1\n")
    (folder / "sub" / "b.txt").write_text("b\n")
    (folder / "notes.log").write_text("no .gitignore applies here\n")
    box.cluster.sync(folder)
    assert _files(_remote(box, folder)) == {"a.py", "sub/b.txt", "notes.log"}


def test_two_repositories_with_the_same_folder_name_never_share_a_copy(
    box: Box, tmp_path: Path
) -> None:
    first = tmp_path / "a" / "app"
    second = tmp_path / "b" / "app"
    for project in (first, second):
        project.mkdir(parents=True)
        subprocess.run(["git", "init", "-q", str(project)], check=True)
    (first / "one.py").write_text("ONE = 1\n")
    (second / "two.py").write_text("TWO = 2\n")
    box.cluster.sync(first)
    box.cluster.sync(second)
    assert _remote(box, first) != _remote(box, second)
    assert _files(_remote(box, first)) == {"one.py"}
    assert _files(_remote(box, second)) == {"two.py"}


def _master_pid(path: Path) -> str:
    done = subprocess.run(
        ["ssh", "-o", f"ControlPath={path}", "-O", "check", "x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr.strip()  # "Master running (pid=N)"


def test_syncs_share_one_master_connection_whose_socket_is_private(
    box: Box, git_project: Path
) -> None:
    _layout(git_project)
    box.cluster.sync(git_project)
    path = box.cluster.master().control
    assert path.is_socket()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    first = _master_pid(path)
    box.cluster._synced.clear()  # through rsync again, not the fingerprint
    started = time.monotonic()
    box.cluster.sync(git_project)
    again_s = time.monotonic() - started
    assert _master_pid(path) == first  # the same master: no new ssh handshake
    record("sync of an unchanged repo over the ssh master", f"{again_s * 1000:.0f} ms")
    assert again_s < 1.0  # no handshake; the host still starts a shell for rsync


def test_closing_the_master_removes_its_socket_and_the_next_sync_starts_another(
    box: Box, git_project: Path
) -> None:
    _layout(git_project)
    box.cluster.sync(git_project)
    path = box.cluster.master().control
    assert path.exists()
    box.cluster.master().close()
    assert not path.exists()
    (git_project / "untracked.txt").write_text("changed\n")
    result = box.cluster.sync(git_project)
    assert [name for name, _ in result.transferred] == ["untracked.txt"]
    assert path.is_socket()


def test_a_master_connection_keeps_host_keys_strict(
    box: Box, git_project: Path, tmp_path: Path
) -> None:
    # known_hosts names another key for this host: the master must refuse to start, and
    # rsync (which would otherwise connect by itself) must fail too; nothing is sent.
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    kind, key = Path(f"{other}.pub").read_text().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{box.port} {kind} {key}\n")
    target = dataclasses.replace(box.cluster.target, known_hosts=(str(known),))
    _layout(git_project)
    the_plan = sync.plan(git_project)
    master = Master("m", target, folder=tmp_path / "ctl")
    assert not master.ensure()
    with pytest.raises(UnreachableError, match="rsync to"):
        sync.rsync(target, the_plan, str(tmp_path / "never"))
    assert not master.control.exists()
    assert not (tmp_path / "never").exists()
