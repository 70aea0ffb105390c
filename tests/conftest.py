"""Shared fixtures: one real daemon (and its Ray) per test session, on a private root.

RHCLI_HOME points at a temporary root for the whole session, so nothing here touches the
user's ~/.rhcli, and every daemon the library starts (it outlives the client) is stopped at
the end; the session then checks that no daemon or Ray process of that root is left.

Every process the session starts carries RHCLI_TEST_SESSION=<this session's id> (see
tests/support/session_processes.py); when the session ends, any such process still
running is killed and the session FAILS, naming them: a suite that leaves processes
behind (SkyPilot executors, Ray agents, ssh masters) is a failing suite.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.session_processes import SESSION_ENV, end_leftovers

REPO = Path(__file__).resolve().parent.parent

# Set before anything imports rhcli's paths, so every cluster of this session uses it.
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="rhcli-test-home-"))
os.environ["RHCLI_HOME"] = str(_SESSION_HOME)
# Removed when the process exits, used or not: a session that never starts its daemon,
# and an xdist controller (it imports this module but runs no fixture), leave it empty.
atexit.register(shutil.rmtree, _SESSION_HOME, ignore_errors=True)
os.environ.pop("RHCLI_FILE", None)
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
# Inherited by every process the session starts (see the module docstring); SPT_NOENV
# keeps the marker readable in processes that rename themselves.
SESSION_ID = uuid.uuid4().hex
os.environ[SESSION_ENV] = SESSION_ID
os.environ["SPT_NOENV"] = "1"
# How long processes get to end by themselves after the last fixture is torn down (Ray's
# agents take a few seconds after their daemon).
LEFTOVER_GRACE_S = float(os.environ.get("RHCLI_TEST_LEFTOVER_GRACE_S", "20"))


# The folders whose tests share one costly remote cluster, built once per worker by a
# session fixture: an SSH box, namespace hosts, a sky cluster (about a minute each).
REMOTE_GROUPS = ("ssh", "multinode", "sky")


def _unit(nodeid: str) -> str:
    """The part of the suite a test belongs to: its remote folder, else its file."""
    parts = nodeid.split("::", 1)[0].split("/")
    if len(parts) > 2 and parts[0] == "tests" and parts[1] in REMOTE_GROUPS:
        return parts[1]
    return "/".join(parts)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The remote folders first: they are the longest units of the suite, and a worker
    that started one late would end the run alone (see pytest_xdist_make_scheduler)."""
    rank = {name: i for i, name in enumerate(REMOTE_GROUPS)}
    items.sort(key=lambda item: rank.get(_unit(item.nodeid), len(REMOTE_GROUPS)))


@pytest.hookimpl(optionalhook=True)  # only where pytest-xdist is installed
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """How the suite splits over pytest-xdist workers (`-n 2`, as scripts/test.sh runs
    it): each remote folder is one unit of work, so its cluster is built by one worker
    only, and every other file is one unit, so its module fixtures (private daemons)
    start once. Taken in collection order (`--no-loadscope-reorder`).

    A scheduler of our own rather than xdist's `--dist loadgroup` marks: with pytest 9,
    xdist 3.8 renames the items' `_nodeid`, which `nodeid` no longer reads, so the
    groups never reach its scheduler (seen: one folder's tests on both workers)."""
    from xdist.scheduler import LoadScopeScheduling

    class ByUnit(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return _unit(nodeid)

    return ByUnit(config, log)


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Torn down last: fails the session when a process it started is still running."""
    yield
    left = end_leftovers(SESSION_ID, grace=LEFTOVER_GRACE_S)
    if left:
        listing = "\n  ".join(str(p) for p in left)
        pytest.fail(
            f"{len(left)} processes started by this test session were still running "
            f"{LEFTOVER_GRACE_S:.0f} s after it ended (killed now):\n  {listing}",
            pytrace=False,
        )


def processes_of_root(root: Path) -> list[int]:
    """Pids of daemons and Ray processes that belong to root (by their environment)."""
    from rhcli.config.paths import DaemonPaths
    from rhcli.config.root_processes import OWNER_ENV

    paths = DaemonPaths(root)
    needles = {f"{OWNER_ENV}={paths.owner_marker}".encode(), f"RHCLI_HOME={root}".encode()}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = set((entry / "environ").read_bytes().split(b"\0"))
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"pytest" in cmdline:
            continue
        if environ & needles:
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="session")
def session_home() -> Iterator[Path]:
    yield _SESSION_HOME


@pytest.fixture(scope="session")
def local(session_home: Path) -> Iterator[object]:
    """The local cluster with its daemon running; stopped (and checked) after the session."""
    import rhcli as rh

    cluster = rh.cluster("local")
    cluster.up()
    yield cluster
    cluster.down()
    left = processes_of_root(session_home)
    shutil.rmtree(session_home, ignore_errors=True)
    assert not left, f"processes left behind by the session's daemon: {left}"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty git repository, as a user's project on this machine."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    return tmp_path


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real `rhcli` console script as a separate process."""
    rhcli = Path(sys.executable).parent / "rhcli"
    return subprocess.run(
        [str(rhcli), *args],
        cwd=cwd or REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
