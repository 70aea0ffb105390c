"""A daemon of its own (this module's root), for faults that would wreck the session's:
arguments over the daemon's own limit, then SIGSTOP.

Each test: set-up, the fault, what must hold.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import rhcli as rh
from rhcli.clusters.local import LocalCluster
from rhcli.errors import RhcliError, UnreachableError, UsageError
from rhcli.protocol import daemon_pb2 as pb
from tests.conftest import REPO
from tests.fixtures import funcs
from tests.server.test_run_records import assert_no_processes_left

DAEMON_LIMIT = 1024 * 1024


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    home = tmp_path_factory.mktemp("frozen-home")
    cluster = LocalCluster("frozen", home=home)
    with _env(RHCLI_MAX_ARG_BYTES=str(DAEMON_LIMIT)):  # read by the daemon when it starts
        cluster.up()
    try:
        yield cluster
    finally:
        state = cluster.daemon.state()
        if state is not None:
            os.kill(state.pid, signal.SIGCONT)
        cluster.down()
        assert_no_processes_left(home)


def _run_count(cluster: LocalCluster) -> int:
    return len(cluster.client().list_runs(limit=100000))


# --- 5. the daemon enforces its own limit ----------------------------------------------


@pytest.mark.parametrize("size", [2 * 1024 * 1024, 6 * 1024 * 1024], ids=["inline", "uploaded"])
def test_the_daemon_refuses_arguments_over_its_limit_before_a_run_is_made(
    private: LocalCluster, size: int
) -> None:
    length = rh.function(funcs.length, system=private)  # this client allows 1 GiB
    before = _run_count(private)

    with pytest.raises(UsageError) as caught:
        length(b"x" * size)

    assert f"limit of {DAEMON_LIMIT:,} bytes" in str(caught.value)
    assert "no run was made" in str(caught.value)
    assert _run_count(private) == before
    assert list(private.daemon.paths.blobs_dir.iterdir()) == []  # no partial upload kept
    assert length(b"x" * 1000) == 1000


# --- 12. a frozen daemon ------------------------------------------------------------------


def _cli(home: Path, *args: str) -> subprocess.Popen[str]:
    rhcli = Path(sys.executable).parent / "rhcli"
    return subprocess.Popen(
        [str(rhcli), *args],
        cwd=REPO,
        env={**os.environ, "RHCLI_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_every_client_command_fails_within_its_deadline_when_the_daemon_is_stopped(
    private: LocalCluster,
) -> None:
    home = private.daemon.paths.root
    long_run = rh.function(funcs.sleep_then, system=private).remote(300)
    follower = _cli(home, "logs", "-f", long_run)  # streaming before the freeze
    blocked: list[BaseException] = []
    sleeper = rh.function(funcs.sleep_then, system=private)

    def blocking_call() -> None:
        try:
            sleeper(300)  # no timeout: only the connection's keepalive can end the wait
        except RhcliError as exc:
            blocked.append(exc)

    caller = threading.Thread(target=blocking_call, daemon=True)
    caller.start()
    time.sleep(2)  # both are connected and waiting
    pid = private.daemon.state().pid

    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        commands = {
            "status": _cli(home, "status"),
            "runs": _cli(home, "runs"),
            "get": _cli(home, "get", long_run),
            "logs": _cli(home, "logs", long_run),
            "cancel": _cli(home, "cancel", long_run),
            "run": _cli(home, "run", "tests.fixtures.funcs:add", "1", "2"),
            "enqueue": _cli(home, "enqueue", "tests.fixtures.funcs:add", "1", "2"),
            "logs -f (already streaming)": follower,
        }
        codes = {}
        for name, proc in commands.items():
            try:
                _, err = proc.communicate(timeout=max(1.0, 60 - (time.monotonic() - started)))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                codes[name] = "hung"
                continue
            codes[name] = proc.returncode
            assert "did not answer" in err or "not answering" in err, f"{name}: {err}"
        caller.join(max(1.0, 60 - (time.monotonic() - started)))
        elapsed = time.monotonic() - started
    finally:
        os.kill(pid, signal.SIGCONT)

    assert all(code in (3, 4) for code in codes.values()), f"exit codes: {codes}"
    assert not caller.is_alive(), "a blocking call was still waiting on the stopped daemon"
    assert len(blocked) == 1 and isinstance(blocked[0], UnreachableError), blocked
    assert elapsed < 60
    # Woken up again, the daemon serves; the long run goes on until cancelled.
    private.reset_client()
    assert private.client().get_run(long_run).status == pb.RUNNING
    assert rh.cancel(long_run, cluster=private).status == "cancelled"
    assert rh.cancel(sleeper.last_run_id, cluster=private).status == "cancelled"
    assert rh.function(funcs.add, system=private)(1, 2) == 3
