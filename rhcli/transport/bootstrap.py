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
quoted arguments: no shell string is built from unquoted input.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import shlex
import tarfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from rhcli._version import __version__
from rhcli.config import daemon_state
from rhcli.errors import DaemonStartError, UnreachableError
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
# host's bare python3, before rhcli is installed there: the daemon-state reader travels as
# source (rhcli.config.daemon_state, standard library only) ahead of this part.
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
                  "daemon": daemon}))
"""


@functools.lru_cache(maxsize=1)
def probe_script() -> str:
    """The probe: daemon_state's source, then the part above."""
    return Path(daemon_state.__file__).read_text() + _PROBE_MAIN


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

    @property
    def daemon_alive(self) -> bool:
        return bool(self.daemon and self.daemon.get("alive"))

    @property
    def venv_python(self) -> str:
        return f"{self.root}/venv/bin/python"


def package_archive() -> tuple[bytes, str]:
    """This client's rhcli import tree as a deterministic tar.gz, and its build id."""
    tree, build = _tree()
    return gzip.compress(tree, mtime=0), build  # mtime=0: the same tree, the same bytes


def build_id() -> str:
    """The build id of this client's tree (what installed.json records), without
    compressing it: an `up` with nothing changed only compares ids."""
    return _tree()[1]


@functools.lru_cache(maxsize=1)
def _tree() -> tuple[bytes, str]:
    """The import tree as an uncompressed, deterministic tar, and its build id."""
    import importlib.util

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in _PACKAGES:
            spec = importlib.util.find_spec(name)  # where it lies, without running it
            assert spec is not None and spec.submodule_search_locations is not None, name
            directory = Path(next(iter(spec.submodule_search_locations)))
            for path in sorted(directory.iterdir()):
                if path.is_file() and path.name.endswith(_SHIPPED_SUFFIXES):
                    info = tarfile.TarInfo(f"{name.replace('.', '/')}/{path.name}")
                    data = path.read_bytes()
                    info.size = len(data)
                    info.mtime = 0
                    info.mode = 0o644
                    tar.addfile(info, io.BytesIO(data))
    tree = buffer.getvalue()
    return tree, f"{__version__}-{hashlib.sha256(tree).hexdigest()[:16]}"


def dependencies() -> list[str]:
    """rhcli's own requirements (no extras), as installed here."""
    try:
        requires = metadata.requires("rhcli") or []
    except metadata.PackageNotFoundError:
        return []
    return [r for r in requires if "extra ==" not in r]


def probe(conn: SSHConnection, root: str) -> HostState:
    """One round trip: the host's python3, what is installed, whether a daemon runs."""
    result = conn.run(["python3", "-c", probe_script(), root])
    if result.returncode == 127:
        raise UnreachableError(
            f"no python3 on {conn.target.alias}: install Python 3.10+ there first"
        )
    if result.returncode != 0:
        raise UnreachableError(f"probing {conn.target.alias} failed: {result.stderr.strip()}")
    found = json.loads(result.stdout)
    return HostState(
        root=found["root"],
        python=found["python"],
        version=tuple(found["version"]),  # type: ignore[arg-type]
        installed=found["installed"],
        daemon=found["daemon"],
    )


def install(conn: SSHConnection, host: HostState, *, say: Any = print) -> bool:
    """Make the host's venv run this client's rhcli; False when it did already."""
    if host.installed and host.installed.get("build") == build_id():
        return False
    archive, build = package_archive()
    if host.version < (3, 10):
        raise UnreachableError(
            f"{conn.target.alias} has Python {'.'.join(map(str, host.version))} at "
            f"{host.python}; rhcli needs 3.10 or newer there"
        )
    root = host.root
    _check(conn, ["mkdir", "-p", "-m", "700", root, f"{root}/pkg"], "creating the root")
    if not _exists(conn, host.venv_python):
        say(f"{conn.target.alias}: creating a virtualenv in {root}/venv")
        _check(conn, [host.python, "-m", "venv", f"{root}/venv"], "creating the virtualenv")
    deps = dependencies()
    say(
        f"{conn.target.alias}: installing rhcli {__version__} and its dependencies "
        "(a first install takes a minute)"
    )
    _check(
        conn,
        [host.venv_python, "-m", "pip", "install", "--disable-pip-version-check", "-q", *deps],
        "installing rhcli's dependencies",
    )
    remote_archive = f"{root}/pkg/{build}.tar.gz"
    conn.put(archive, remote_archive)
    _check(
        conn,
        [host.venv_python, "-c", INSTALL, root, build, __version__, remote_archive],
        "unpacking rhcli",
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
    conn.run_shell(command)
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


def _check(conn: SSHConnection, argv: list[str], what: str) -> None:
    result = conn.run(argv)
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip().splitlines()[-20:]
        raise UnreachableError(
            f"{what} on {conn.target.alias} failed (exit {result.returncode}):\n"
            + "\n".join(output)
        )
