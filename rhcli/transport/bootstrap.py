"""Installing rhcli on an SSH host, from the client's own copy, and starting its daemon.

The client ships its own import tree (rhcli, rhcli.server, rhcli.config) as a tarball, so
the host always runs exactly the client's code: no PyPI release is assumed. On the host,
under the cluster's root:

    venv/               a virtualenv of the host's python3 (works where the system Python
                        refuses pip, PEP 668); rhcli's dependencies are pip-installed here
    pkg/<build>/        the shipped tree; venv's site-packages points at it (rhcli.pth)
    installed.json      {"version": ..., "build": ...}: what is installed, so an `up`
                        with nothing changed installs nothing

Every remote step is a fixed Python script (the probe, INSTALL) run by the host's python3 with
quoted arguments: no shell string is built from unquoted input. Before any of it, the
probe's findings are checked (rhcli.transport.host_check): a host without something rhcli
needs is refused with what is missing and the fix, not halfway through an install.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import shlex
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rhcli._version import __version__
from rhcli.config import daemon_state
from rhcli.errors import DaemonStartError, HostSetupError, UnreachableError
from rhcli.transport import host_check

if TYPE_CHECKING:  # only for annotations: build_id() and the probe script need no paramiko
    from rhcli.transport.ssh import SSHConnection

START_TIMEOUT_S = 120.0
_PACKAGES = (
    "rhcli",
    "rhcli.cli",
    "rhcli.dashboard",
    "rhcli.clusters",
    "rhcli.protocol",
    "rhcli.transport",
    "rhcli.server",
    "rhcli.config",
)
_SHIPPED_SUFFIXES = (".py", ".pyi", ".proto", ".typed")

# Prints what an `up` needs to know about the host, in one round trip. It runs under the
# host's bare python3 (behind host_check.GATE), before rhcli is installed there: the
# daemon-state reader travels as source (rhcli.config.daemon_state, standard library only)
# ahead of host_check.FACTS and this part.
_PROBE_MAIN = r"""
import json, os, sys
root = os.path.abspath(os.path.expanduser(
    sys.argv[1] or os.environ.get("RHCLI_HOME") or "~/.rhcli"))
def read(name):
    try:
        with open(os.path.join(root, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
daemon = read_state(root)
if daemon:
    daemon["alive"] = True
    try:
        with open(os.path.join(root, TOKEN_FILE)) as f:
            daemon["token"] = f.read().strip()
    except OSError:
        pass
print(json.dumps({"root": root, "python": sys.executable,
                  "version": list(sys.version_info[:2]), "installed": read("installed.json"),
                  "daemon": daemon, "host": host_facts(root)}))
"""


@functools.lru_cache(maxsize=1)
def probe_script() -> str:
    """The probe: daemon_state's source, the host facts, then the part above."""
    return Path(daemon_state.__file__).read_text() + host_check.FACTS + _PROBE_MAIN


# Unpacks the shipped tree and points the venv at it; run by the venv's python.
INSTALL = r"""
import json, os, site, sys, tarfile
root, build, version, archive = sys.argv[1:5]
target = os.path.join(root, "pkg", build)
safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
with tarfile.open(archive) as tar:
    tar.extractall(target, **safe)
os.remove(archive)
with open(os.path.join(site.getsitepackages()[0], "rhcli.pth"), "w") as f:
    f.write(target + "\n")
with open(os.path.join(root, "installed.json"), "w") as f:
    json.dump({"version": version, "build": build}, f)
"""


@dataclass(frozen=True)
class HostState:
    """What the probe found on the host."""

    root: str
    python: str
    version: tuple[int, int]
    installed: dict[str, Any] | None
    daemon: dict[str, Any] | None = field(repr=False)  # holds the daemon's token
    facts: dict[str, Any] = field(default_factory=dict)  # host_check.FACTS: tools, disk

    @property
    def daemon_alive(self) -> bool:
        return bool(self.daemon and self.daemon.get("alive"))

    @property
    def venv_python(self) -> str:
        return f"{self.root}/venv/bin/python"


def package_archive() -> tuple[bytes, str]:
    """This client's rhcli import tree as a deterministic tar.gz, and its build id."""
    import gzip  # here, like tarfile and metadata: a call through a warm cluster needs none

    tree, build = _tree()
    return gzip.compress(tree, mtime=0), build  # mtime=0: the same tree, the same bytes


def build_id() -> str:
    """The build id of this client's tree (what installed.json records), without
    compressing it: an `up` with nothing changed only compares ids.

    Kept in ``<state dir>/cache/build.json`` with a stamp of the tree's files (names,
    sizes, mtimes): an unchanged tree is a stat per file, not a read and a hash of all
    of them (a tenth of an unchanged `up` through a warm SSH cluster)."""
    from rhcli.config.paths import rhcli_home

    stamp = [[name, st.st_size, st.st_mtime_ns] for name, path, st in _shipped_files()]
    cache = rhcli_home() / "cache" / "build.json"
    try:
        found = json.loads(cache.read_text())
        if found["version"] == __version__ and found["stamp"] == stamp:
            return str(found["build"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # none yet, or unreadable: hash the tree
    build = _tree()[1]
    try:
        cache.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = cache.with_name(f"build.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"version": __version__, "stamp": stamp, "build": build}))
        os.replace(tmp, cache)
    except OSError:  # the next up hashes the tree again; nothing else is lost
        pass
    return build


def _shipped_files() -> list[tuple[str, Path, os.stat_result]]:
    """(name in the archive, path, stat) of each file of the import tree, in order."""
    import importlib.util

    found = []
    for name in _PACKAGES:
        spec = importlib.util.find_spec(name)  # where it lies, without running it
        assert spec is not None and spec.submodule_search_locations is not None, name
        directory = Path(next(iter(spec.submodule_search_locations)))
        for path in sorted(directory.iterdir()):
            if path.name.endswith(_SHIPPED_SUFFIXES):
                st = path.stat()
                if stat.S_ISREG(st.st_mode):
                    found.append((f"{name.replace('.', '/')}/{path.name}", path, st))
    return found


@functools.lru_cache(maxsize=1)
def _tree() -> tuple[bytes, str]:
    """The import tree as an uncompressed, deterministic tar, and its build id."""
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, path, _ in _shipped_files():
            info = tarfile.TarInfo(name)
            data = path.read_bytes()
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    tree = buffer.getvalue()
    return tree, f"{__version__}-{hashlib.sha256(tree).hexdigest()[:16]}"


def dependencies() -> list[str]:
    """rhcli's own requirements (no extras), as installed here."""
    from importlib import metadata

    try:
        requires = metadata.requires("rhcli") or []
    except metadata.PackageNotFoundError:
        return []
    return [r for r in requires if "extra ==" not in r]


def probe(conn: SSHConnection, root: str) -> HostState:
    """One round trip: the host's python3, what is installed, whether a daemon runs, and
    what host_check needs. Raises HostSetupError for a host without a usable python3."""
    host = conn.target.alias
    result = conn.run(["python3", "-c", host_check.GATE, probe_script(), root])
    if result.returncode == 127:
        raise HostSetupError(
            host=host,
            missing="no `python3` on the PATH of a non-interactive SSH session",
            fix="Install Python 3.10+ there (Debian/Ubuntu: `sudo apt install python3 "
            "python3-venv`), then run `rhcli up` again",
        )
    too_old = host_check.old_python(host, result.stderr)
    if too_old is not None:
        raise too_old
    if result.returncode != 0:
        raise UnreachableError(f"probing {host} failed: {result.stderr.strip()}")
    # The answer is the last line: a login script may print before it (a banner, a motd).
    lines = result.stdout.strip().splitlines()
    try:
        found = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise UnreachableError(
            f"probing {host} gave no answer rhcli can read (its shell printed "
            f"{result.stdout.strip()[-200:]!r}); check the host's shell start-up files"
        ) from None
    return HostState(
        root=found["root"],
        python=found["python"],
        version=tuple(found["version"]),  # type: ignore[arg-type]
        installed=found["installed"],
        daemon=found["daemon"],
        facts=found.get("host") or {},
    )


def check_host(conn: SSHConnection, host: HostState) -> None:
    """Raise HostSetupError when the host lacks something rhcli needs (host_check)."""
    host_check.check(
        conn.target.alias,
        root=host.root,
        version=host.version,
        python=host.python,
        facts=host.facts,
        first_install=host.installed is None,
    )


def install(conn: SSHConnection, host: HostState, *, say: Any = print) -> bool:
    """Make the host's venv run this client's rhcli; False when it did already.
    Raises HostSetupError, before changing anything, for a host that lacks a requirement."""
    check_host(conn, host)
    if host.installed and host.installed.get("build") == build_id():
        return False
    archive, build = package_archive()
    root = host.root
    _check(conn, ["mkdir", "-p", "-m", "700", root, f"{root}/pkg"], "creating the root", root=root)
    if not _exists(conn, host.venv_python):
        say(f"{conn.target.alias}: creating a virtualenv in {root}/venv")
        venv = [host.python, "-m", "venv", f"{root}/venv"]
        _check(conn, venv, "creating the virtualenv", root=root)
    deps = dependencies()
    say(
        f"{conn.target.alias}: installing rhcli {__version__} and its dependencies "
        "(a first install takes a minute)"
    )
    _check(
        conn,
        [host.venv_python, "-m", "pip", "install", "--disable-pip-version-check", "-q", *deps],
        "installing rhcli's dependencies",
        root=root,
    )
    remote_archive = f"{root}/pkg/{build}.tar.gz"
    conn.put(archive, remote_archive)
    _check(
        conn,
        [host.venv_python, "-c", INSTALL, root, build, __version__, remote_archive],
        "unpacking rhcli",
        root=root,
    )
    return True


def start_daemon(
    conn: SSHConnection,
    host: HostState,
    *,
    args: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Start the daemon detached from the SSH session; returns its daemon.json.

    args are extra daemon options, env extra environment (names and values are quoted:
    never a secret, which travels in files)."""
    root = host.root
    previous = (host.daemon or {}).get("pid")
    assignments = "".join(
        f"{name}={shlex.quote(value)} "
        for name, value in {**(env or {}), "RHCLI_HOME": root}.items()
    )
    argv = [host.venv_python, "-m", "rhcli.server", "--home", root, *(args or [])]
    # setsid --fork: the daemon gets its own session, the command returns at once, and
    # no process of this SSH session keeps the channel open (a `cmd &` would).
    command = (
        f"cd {shlex.quote(root)} && {assignments}setsid --fork "
        f"{shlex.join(argv)} "
        f"</dev/null >>{shlex.quote(root + '/daemon.log')} 2>&1"
    )
    started = conn.run_shell(command)
    if started.returncode != 0:  # never reached the daemon: say why now, not in 120 s
        raise DaemonStartError(
            f"starting the daemon on {conn.target.alias} failed (exit {started.returncode}): "
            + (started.stderr or started.stdout).strip()
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        state = probe(conn, root)
        if state.daemon_alive and state.daemon and state.daemon.get("pid") != previous:
            return state.daemon
        time.sleep(0.25)
    tail = conn.run(["tail", "-n", "20", f"{root}/daemon.log"]).stdout
    raise DaemonStartError(
        f"the daemon on {conn.target.alias} did not start within {START_TIMEOUT_S:.0f} s; "
        f"its log ({root}/daemon.log) ends with:\n{tail}"
    )


def stop_daemon(conn: SSHConnection, host: HostState) -> bool:
    """SIGTERM the host's daemon and wait for it to go; False when none ran."""
    if not host.daemon_alive or not host.daemon:
        return False
    pid = str(int(host.daemon["pid"]))
    conn.run(["kill", "-TERM", pid])
    # Wait for the process itself, not for daemon.json: the daemon removes that first and
    # then takes seconds to stop Ray; an `up` meanwhile would start a second daemon.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if conn.run(["grep", "-qa", "rhcli.server", f"/proc/{pid}/cmdline"]).returncode != 0:
            return True
        time.sleep(0.2)
    conn.run(["kill", "-KILL", pid])
    return True


def _exists(conn: SSHConnection, path: str) -> bool:
    return conn.run(["test", "-e", path]).returncode == 0


def _check(conn: SSHConnection, argv: list[str], what: str, *, root: str) -> None:
    """Run an install step under root; raise what it failed of, naming the host's own
    condition (a full disk, no venv module) as HostSetupError."""
    result = conn.run(argv)
    if result.returncode == 0:
        return
    output = (result.stderr or result.stdout).strip().splitlines()[-20:]
    said = result.stderr + result.stdout
    last = output[-1] if output else ""
    # A step's child may have hit the full disk where its parent does not say so (venv
    # runs ensurepip and reports only its exit status): the free space tells.
    free = _free_bytes(conn, root)
    if "No space left on device" in said or (free is not None and free < 2**20):
        raise host_check.disk_full(conn.target.alias, f"left under {root} while {what} ({last})")
    if "ensurepip is not available" in said:  # Debian's python3 without python3-venv
        raise host_check.no_venv(conn.target.alias, argv[0])
    raise UnreachableError(
        f"{what} on {conn.target.alias} failed (exit {result.returncode}):\n" + "\n".join(output)
    )


def _free_bytes(conn: SSHConnection, path: str) -> int | None:
    """Free bytes for the SSH user on path's filesystem (df), None when unknown."""
    lines = conn.run(["df", "-Pk", path]).stdout.strip().splitlines()
    try:
        return int(lines[-1].split()[3]) * 1024
    except (IndexError, ValueError):
        return None
