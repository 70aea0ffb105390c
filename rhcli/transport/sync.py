"""Syncing the working repository to an SSH host with the system rsync.

What travels is what git would: tracked files and untracked files that are not ignored,
never .git. rsync runs over the system ssh with the same settings as rhcli's own SSH
connection (port, key, known_hosts, proxies), so unchanged files cost nothing and a second
sync of an unchanged repository is one rsync round trip. A local fingerprint (paths,
sizes, mtimes) skips even that when nothing changed since the last sync of this process.

Most of an unchanged sync used to be the ssh handshake of a new `ssh` process (0.5 s and
more). So rsync's ssh runs over the cluster's OpenSSH master connection
(rhcli.transport.ssh_master) when it has one.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from rhcli.errors import HostSetupError, UnreachableError, UsageError
from rhcli.transport.ssh_target import SSHTarget

LARGE_SYNC_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class SyncPlan:
    """The files of a repository that a sync sends."""

    root: Path
    files: tuple[str, ...]
    total_bytes: int
    fingerprint: str
    in_git: bool


@dataclass
class SyncResult:
    transferred: list[tuple[str, int]] = field(default_factory=list)  # (path, size)
    deleted: list[str] = field(default_factory=list)

    @property
    def transferred_bytes(self) -> int:
        return sum(size for _, size in self.transferred)


def plan(root: Path) -> SyncPlan:
    """The files to sync under root: git's view when root is in a repository, else all."""
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=False,
    )
    in_git = listed.returncode == 0
    if in_git:
        names = sorted({n for n in listed.stdout.decode().split("\0") if n})
    else:
        names = sorted(_all_files(root))
    digest = hashlib.sha256()
    total = 0
    present = []
    for name in names:
        try:
            st = (root / name).stat()
        except OSError:  # deleted but still in the index
            continue
        present.append(name)
        total += st.st_size
        digest.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return SyncPlan(root, tuple(present), total, digest.hexdigest(), in_git)


def _all_files(root: Path) -> list[str]:
    found = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = [d for d in subdirs if d != ".git"]
        found += [str(Path(directory, f).relative_to(root)) for f in files]
    return found


def rsync(
    target: SSHTarget,
    the_plan: SyncPlan,
    remote_dir: str,
    *,
    dry_run: bool = False,
    master: list[str] | None = None,
) -> SyncResult:
    """Make remote_dir hold exactly the plan's files (extra files there are deleted).

    master: the ssh options that use the cluster's running master connection
    (Master.ssh_options); without them rsync's ssh connects by itself.
    """
    _require_local_tools()
    ssh = shlex.join(["ssh", *target.ssh_options(), *(master or [])])
    # --files-from alone never deletes; syncing the root dir with an include list built
    # from the plan does: everything not listed is excluded, and excluded files are
    # deleted on the receiving side with --delete-excluded.
    command = [
        "rsync",
        "-rlptz",
        "--delete",
        "--delete-excluded",
        "--prune-empty-dirs",
        # Compare mtimes to the nanosecond: an edit that keeps a file's size within the
        # same second would otherwise be taken as unchanged and never sent.
        "--modify-window=-1",
        "--out-format=%i %l %n",
        "-e",
        ssh,
        "--include-from=-",
        "--exclude=*",
    ]
    if dry_run:
        command.append("--dry-run")
    else:
        # Make the folder in the same remote shell that starts rsync: a separate `mkdir`
        # would cost one more remote command (a shell start-up, often the largest part
        # of an unchanged sync).
        command.append(f"--rsync-path=mkdir -p {shlex.quote(remote_dir)} && rsync")
    command += [f"{the_plan.root}/", f"{target.destination()}:{remote_dir}/"]
    includes = _include_rules(the_plan.files)
    done = subprocess.run(
        command, input="\n".join(includes).encode(), capture_output=True, check=False
    )
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip()
        if "rsync: command not found" in said or "rsync: not found" in said:
            raise HostSetupError(
                host=target.alias,
                missing="no `rsync` on the PATH of a non-interactive SSH session (rhcli syncs "
                "code with it)",
                fix="Install rsync there (`sudo apt install rsync` or `sudo dnf install "
                "rsync`), then try again",
            )
        raise UnreachableError(
            f"rsync to {target.alias}:{remote_dir} failed (exit {done.returncode}): {said}"
        )
    return _parse(done.stdout.decode(errors="replace"))


def _require_local_tools() -> None:
    """rsync and ssh on this machine, or HostSetupError saying which to install."""
    import shutil

    absent = [tool for tool in ("rsync", "ssh") if shutil.which(tool) is None]
    if absent:
        packages = " ".join("openssh-client" if t == "ssh" else t for t in absent)
        raise HostSetupError(
            host="this machine",
            missing=f"no {' or '.join(f'`{t}`' for t in absent)} on the PATH (rhcli syncs "
            "code to SSH clusters with them)",
            fix=f"Install {packages} here (for example `sudo apt install {packages}`), then "
            "try again",
        )


def _include_rules(files: tuple[str, ...]) -> list[str]:
    """rsync include rules for exactly these files (and the directories above them)."""
    rules: list[str] = []
    seen_dirs: set[str] = set()
    for name in files:
        parts = name.split("/")
        for depth in range(1, len(parts)):
            directory = "/".join(parts[:depth])
            if directory not in seen_dirs:
                seen_dirs.add(directory)
                rules.append(f"+ /{_escape(directory)}/")
        rules.append(f"+ /{_escape(name)}")
    return rules


def _escape(path: str) -> str:
    """rsync patterns treat *?[ and \\ specially: match them literally."""
    return "".join("\\" + c if c in "*?[\\" else c for c in path)


def _parse(output: str) -> SyncResult:
    result = SyncResult()
    for line in output.splitlines():
        # "%i %l %n": rsync pads "*deleting" with spaces, so split on runs of them.
        parts = line.split(None, 2)
        if len(parts) < 3 or parts[2].endswith("/"):  # directories are not files moved
            continue
        flags, size, name = parts
        if flags.startswith("*deleting"):
            result.deleted.append(name)
        elif flags[:1] in "<>c":
            result.transferred.append((name, int(size) if size.isdigit() else 0))
    return result


def check_free_space(conn_run: object, the_plan: SyncPlan, remote_dir: str) -> None:
    """Refuse a large sync that would not fit on the host's disk (checked only then)."""
    if the_plan.total_bytes < LARGE_SYNC_BYTES:
        return
    from rhcli.transport.ssh import SSHConnection

    assert isinstance(conn_run, SSHConnection)
    result = conn_run.run(["df", "-Pk", remote_dir.rsplit("/", 1)[0]])
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or len(lines) < 2:
        return
    free = int(lines[-1].split()[3]) * 1024
    if free < the_plan.total_bytes * 1.1:
        raise UsageError(
            f"{the_plan.root} holds {the_plan.total_bytes / 2**20:.0f} MiB to sync, but "
            f"{conn_run.target.alias} has {free / 2**20:.0f} MiB free there; free some "
            "space or ignore large files in .gitignore"
        )
