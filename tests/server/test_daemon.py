"""The daemon process: how it starts, whom it serves, how it stops and what survives it.

Real daemons (each with its own Ray) on private roots, never the session's: one shared by the
tests that only look at a running daemon, and one that is killed with SIGKILL in the middle of
a call, started again, and finally stopped with SIGTERM.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import json
import os
import pickle
import secrets
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

import rhcli as rh
from rhcli._version import __version__
from rhcli.clusters.local import LocalCluster
from rhcli.clusters.local_daemon import DaemonState, LocalDaemon
from rhcli.config.daemon_state import is_daemon_process
from rhcli.config.paths import DaemonPaths
from rhcli.errors import UnreachableError
from rhcli.protocol import daemon_pb2 as pb
from rhcli.protocol import daemon_pb2_grpc as pb_grpc
from rhcli.protocol.wire import TOKEN_METADATA_KEY
from rhcli.server.runstore import RESTART_REASON
from rhcli.transport.grpc_client import DaemonClient
from tests.conftest import REPO, processes_of_root
from tests.fixtures import funcs

# --- helpers ----------------------------------------------------------------------------


def _wait_for(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


def _leftovers(root: Path) -> list[int]:
    """Live processes of root: by environment (processes_of_root), and, since some Ray agents
    overwrite the memory /proc/PID/environ reads, by files held open under root's Ray dir."""
    found = set(processes_of_root(root))
    ray_dir = str(DaemonPaths(root).ray_temp_dir) + os.sep
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            targets = [os.readlink(fd) for fd in (entry / "fd").iterdir()]
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if any(t.startswith(ray_dir) for t in targets) or ray_dir.encode() in cmdline:
            found.add(int(entry.name))
    return sorted(found)


def _stop_and_check(daemon: LocalDaemon) -> None:
    """Stop root's daemon; fail when any process of that root is still alive after that."""
    daemon.stop()
    root = daemon.paths.root
    try:
        _wait_for(lambda: not _leftovers(root), timeout=10, what="the root's processes to end")
    except AssertionError:
        left = _leftovers(root)
        for pid in left:  # ours: this root's daemon and Ray, found by their root
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        raise AssertionError(f"processes of {root} left behind: {left}") from None
    finally:
        shutil.rmtree(daemon.paths.ray_temp_dir, ignore_errors=True)


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    old = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stub(port: int) -> tuple[grpc.Channel, Any]:
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    return channel, pb_grpc.DaemonStub(channel)


def _call_request(run_id: str, entrypoint: str, *args: Any, **kwargs: Any) -> pb.CallRequest:
    return pb.CallRequest(
        run_id=run_id,
        function=pb.FunctionRef(name=entrypoint, entrypoint=entrypoint, code_root=str(REPO)),
        args=pickle.dumps((args, kwargs)),
    )


def _row(root: Path, run_id: str) -> tuple[int, int, str, pb.RunOutcome | None]:
    """(status, failure, reason, outcome) of a run, read straight from runs.sqlite."""
    db = sqlite3.connect(DaemonPaths(root).run_db)
    try:
        row = db.execute(
            "SELECT status, failure, reason, outcome FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
    finally:
        db.close()
    assert row is not None, f"no record of run {run_id}"
    outcome = pb.RunOutcome.FromString(row[3]) if row[3] is not None else None
    return row[0], row[1], row[2], outcome


def _has_row(root: Path, run_id: str) -> bool:
    db = sqlite3.connect(DaemonPaths(root).run_db)
    try:
        found = db.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    finally:
        db.close()
    return found is not None


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _other_local_addresses() -> list[str]:
    """This machine's own addresses other than loopback (IPv4 from the kernel's local table,
    global IPv6)."""
    found: list[str] = []
    with contextlib.suppress(OSError):
        lines = Path("/proc/net/fib_trie").read_text().splitlines()
        for prev, line in itertools.pairwise(lines):
            if line.strip() == "/32 host LOCAL" and "|--" in prev:
                address = prev.split("|--")[1].strip()
                if not address.startswith("127.") and address not in found:
                    found.append(address)
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            raw = line.split()[0]
            address = ":".join(raw[i : i + 4] for i in range(0, 32, 4))
            if raw != "0" * 31 + "1" and not raw.startswith("fe80"):
                found.append(address)
    return found


def _listening_addresses(port: int) -> set[str]:
    """The addresses sockets listen on at port, from /proc/net/tcp and tcp6 (IPv4-mapped
    IPv6 addresses as IPv4)."""
    found = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                address, hex_port = fields[1].split(":")
                if fields[3] != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                    continue
                raw = bytes.fromhex(address)
                # The kernel prints each 32-bit word in host (little-endian) order.
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                ip = ipaddress.ip_address(words)
                # A dual-stack socket bound to 127.0.0.1 shows as ::ffff:127.0.0.1.
                mapped = getattr(ip, "ipv4_mapped", None)
                found.add(str(mapped or ip))
    return found


# --- a running daemon -------------------------------------------------------------------


@dataclass
class Running:
    daemon: LocalDaemon
    state: DaemonState

    @property
    def root(self) -> Path:
        return self.daemon.paths.root


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    daemon = LocalDaemon(tmp_path_factory.mktemp("daemon") / "home")
    try:
        yield Running(daemon, daemon.start())
    finally:
        _stop_and_check(daemon)


def test_the_token_file_is_readable_by_its_owner_only(running: Running) -> None:
    token = running.daemon.paths.token
    assert _mode(token) == 0o600
    assert len(token.read_text()) >= 40


def test_the_root_and_the_run_store_are_owner_only(running: Running) -> None:
    assert _mode(running.root) == 0o700
    assert _mode(running.daemon.paths.run_db) == 0o600


def test_daemon_json_names_pid_port_and_version(running: Running) -> None:
    state = json.loads(running.daemon.paths.state.read_text())
    assert state["pid"] == running.state.pid
    assert state["port"] == running.state.port > 0
    assert state["version"] == __version__
    assert state["host"] == "127.0.0.1"
    assert running.daemon.paths.pid.read_text().strip() == str(state["pid"])
    cmdline = Path(f"/proc/{state['pid']}/cmdline").read_bytes().split(b"\0")
    assert b"rhcli.server" in cmdline
    assert str(running.root).encode() in cmdline


def test_the_daemon_listens_on_loopback_only(running: Running) -> None:
    assert _listening_addresses(running.state.port) == {"127.0.0.1"}


def test_the_daemon_port_refuses_connections_on_the_machines_other_addresses(
    running: Running,
) -> None:
    addresses = _other_local_addresses()
    if not addresses:  # nothing to try: say so, rather than pass having checked nothing
        pytest.skip("this machine has no address besides loopback to try the port on")
    for address in addresses:
        with pytest.raises(OSError), socket.create_connection((address, running.state.port), 2):
            pass
    with socket.create_connection(("127.0.0.1", running.state.port), 2):
        pass  # while loopback answers


def test_health_with_the_token_answers(running: Running) -> None:
    channel, stub = _stub(running.state.port)
    with channel:
        token = running.daemon.read_token()
        reply = stub.Health(pb.HealthRequest(), metadata=((TOKEN_METADATA_KEY, token),), timeout=10)
    assert reply.version == __version__
    assert reply.pid == running.state.pid
    assert reply.home == str(running.root)
    assert reply.resources["CPU"] >= 1


def _bad_metadata(token: str) -> dict[str, tuple[tuple[str, str], ...]]:
    last = "A" if token[-1] != "A" else "B"
    return {
        "no_token": (),
        "wrong_token": ((TOKEN_METADATA_KEY, secrets.token_urlsafe(32)),),
        "last_character_differs": ((TOKEN_METADATA_KEY, token[:-1] + last),),
        "one_character_short": ((TOKEN_METADATA_KEY, token[:-1]),),
        "one_character_long": ((TOKEN_METADATA_KEY, token + "A"),),
        "empty_token": ((TOKEN_METADATA_KEY, ""),),
        "token_under_another_key": (("authorization", token),),
    }


BAD_TOKENS = list(_bad_metadata("x" * 43))


def _invoke(stub: Any, rpc: str, run_id: str, metadata: Any) -> None:
    if rpc == "Health":
        stub.Health(pb.HealthRequest(), metadata=metadata, timeout=10)
    elif rpc == "Call":
        stub.Call(
            _call_request(run_id, "tests.fixtures.funcs:add", 1, 2), metadata=metadata, timeout=10
        )
    else:
        events = stub.InstallReqs(
            pb.InstallRequest(reqs=["rhcli-must-never-be-installed"], code_root=str(REPO)),
            metadata=metadata,
            timeout=10,
        )
        list(events)


@pytest.mark.parametrize("bad", BAD_TOKENS)
@pytest.mark.parametrize("rpc", ["Health", "Call", "InstallReqs"])
def test_rpc_without_the_token_is_refused_unauthenticated(
    running: Running, rpc: str, bad: str
) -> None:
    metadata = _bad_metadata(running.daemon.read_token())[bad]
    run_id = f"unauthenticated-{rpc}-{bad}"
    channel, stub = _stub(running.state.port)
    with channel, pytest.raises(grpc.RpcError) as caught:
        _invoke(stub, rpc, run_id, metadata)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "token" in caught.value.details()
    if rpc == "Call":
        assert not _has_row(running.root, run_id), "a refused call was recorded"


def test_the_refusal_never_echoes_the_token(running: Running) -> None:
    token = running.daemon.read_token()
    channel, stub = _stub(running.state.port)
    with channel, pytest.raises(grpc.RpcError) as caught:
        stub.Health(pb.HealthRequest(), metadata=((TOKEN_METADATA_KEY, token[:-1]),), timeout=10)
    assert token[:-1] not in caught.value.details()


def test_a_second_daemon_on_a_root_whose_daemon_is_alive_is_refused(running: Running) -> None:
    state_before = running.daemon.paths.state.read_text()
    token_before = running.daemon.paths.token.read_text()
    done = subprocess.run(
        [sys.executable, "-m", "rhcli.server", "--home", str(running.root)],
        env={**os.environ, "RHCLI_HOME": str(running.root)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert f"a daemon (pid {running.state.pid}) already runs for {running.root}" in done.stderr
    # The live daemon is untouched: same state, same token, still serving.
    assert running.daemon.paths.state.read_text() == state_before
    assert running.daemon.paths.token.read_text() == token_before
    assert running.daemon.paths.pid.read_text().strip() == str(running.state.pid)
    assert LocalCluster(home=running.root).status().pid == running.state.pid


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5"])
def test_a_non_loopback_host_is_refused_with_exit_code_2(tmp_path: Path, host: str) -> None:
    root = tmp_path / "home"
    done = subprocess.run(
        [sys.executable, "-m", "rhcli.server", "--home", str(root), "--host", host],
        env={**os.environ, "RHCLI_HOME": str(root)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert f"refusing to listen on {host}" in done.stderr
    assert "loopback" in done.stderr
    assert not root.exists()  # refused before anything was written


# --- stale files --------------------------------------------------------------------------


@pytest.fixture
def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture
def other_process() -> Iterator[int]:
    """A live process that is not an rhcli daemon."""
    proc = subprocess.Popen(["sleep", "300"])
    yield proc.pid
    proc.kill()
    proc.wait()


def _plant(root: Path, *, state_pid: int | None = None, pid_file: int | None = None) -> None:
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    paths = DaemonPaths(root)
    if state_pid is not None:
        paths.state.write_text(
            json.dumps({"pid": state_pid, "port": 1, "version": __version__, "started_at": 1.0})
        )
    if pid_file is not None:
        paths.pid.write_text(str(pid_file))


def test_daemon_json_of_a_dead_process_is_ignored(tmp_path: Path, dead_pid: int) -> None:
    _plant(tmp_path, state_pid=dead_pid, pid_file=dead_pid)
    daemon = LocalDaemon(tmp_path)
    assert daemon.state() is None
    assert daemon.starting_pid() is None
    assert LocalCluster(home=tmp_path).status().up is False


def test_daemon_json_of_a_process_that_is_no_daemon_is_ignored(
    tmp_path: Path, other_process: int
) -> None:
    _plant(tmp_path, state_pid=other_process, pid_file=other_process)
    daemon = LocalDaemon(tmp_path)
    assert daemon.state() is None
    assert daemon.starting_pid() is None
    assert daemon.stop() is False  # and stop() never signals that process
    assert Path(f"/proc/{other_process}").exists()


@pytest.mark.parametrize("content", ["", "{", "[]", '{"pid": "x", "port": 1}', '{"port": 1}'])
def test_a_malformed_daemon_json_is_ignored(tmp_path: Path, content: str) -> None:
    DaemonPaths(tmp_path).state.write_text(content)
    assert LocalDaemon(tmp_path).state() is None


# --- kill -9, start again, SIGTERM --------------------------------------------------------


@dataclass
class Restarted:
    """A daemon killed with SIGKILL during a call and started again on the same port."""

    daemon: LocalDaemon
    cluster: LocalCluster
    first: DaemonState
    second: DaemonState
    first_token: str
    second_token: str
    stale_pids: tuple[int, int]
    other_process: subprocess.Popen[bytes]
    finished: pb.CallRequest
    finished_reply: pb.CallReply
    in_flight: pb.CallRequest
    in_flight_errors: list[BaseException]
    # A Ray session folder older than both starts, planted in the root's Ray temp dir.
    planted_session: Path

    @property
    def root(self) -> Path:
        return self.daemon.paths.root


@pytest.fixture(scope="module")
def restarted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Restarted]:
    root = tmp_path_factory.mktemp("restart") / "home"
    daemon = LocalDaemon(root)
    dead = subprocess.Popen(["true"])
    dead.wait()
    other = subprocess.Popen(["sleep", "300"])
    try:
        # Files a previous daemon could have left: both name processes that are no daemon.
        _plant(root, state_pid=dead.pid, pid_file=other.pid)
        planted_session = daemon.paths.ray_temp_dir / "session_2000-01-01_00-00-00_000000_1"
        (planted_session / "logs").mkdir(parents=True)
        os.utime(planted_session, (946684800, 946684800))
        port = _free_port()  # a fixed port: the new daemon answers where the old one did
        with _env(RHCLI_PORT=str(port)):
            first = daemon.start()
        first_token = daemon.read_token()

        cluster = LocalCluster(home=root)
        assert rh.function(funcs.add, system=cluster)(1, 1) == 2  # connected, old token held

        client = DaemonClient(
            address=first.address, token=first_token, describe="test", restart_hint=""
        )
        finished = _call_request(
            f"finished-{secrets.token_hex(4)}", "tests.fixtures.funcs:add", 2, 3
        )
        finished_reply = client.call(finished, timeout=60)

        in_flight = _call_request(
            f"in-flight-{secrets.token_hex(4)}", "tests.fixtures.funcs:sleep_then", 60, "never"
        )
        errors: list[BaseException] = []

        def call_in_flight() -> None:
            try:
                client.call(in_flight, timeout=90)
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=call_in_flight, daemon=True)
        thread.start()
        _wait_for(
            lambda: daemon.paths.run_db.exists() and _has_row(root, in_flight.run_id),
            timeout=20,
            what="the in-flight run to be recorded",
        )
        time.sleep(0.5)  # let the worker start sleeping
        os.kill(first.pid, signal.SIGKILL)
        thread.join(timeout=30)
        client.close()
        assert not thread.is_alive(), "the call kept waiting on a killed daemon"

        with _env(RHCLI_PORT=str(port)):
            second = daemon.start()
        yield Restarted(
            daemon=daemon,
            cluster=cluster,
            first=first,
            second=second,
            first_token=first_token,
            second_token=daemon.read_token(),
            stale_pids=(dead.pid, other.pid),
            other_process=other,
            finished=finished,
            finished_reply=finished_reply,
            in_flight=in_flight,
            in_flight_errors=errors,
            planted_session=planted_session,
        )
    finally:
        other.kill()
        other.wait()
        _stop_and_check(daemon)


def test_stale_pid_and_state_files_do_not_keep_a_new_daemon_from_starting(
    restarted: Restarted,
) -> None:
    assert restarted.first.pid not in restarted.stale_pids
    assert restarted.other_process.poll() is None  # the process a stale file named lives on


def test_each_start_keeps_only_the_previous_ray_session_of_the_root(
    restarted: Restarted,
) -> None:
    # Two starts over a planted older session: the second removed it, and kept the one
    # of the daemon it followed (a look at how that ended) beside its own.
    sessions = list(restarted.daemon.paths.ray_temp_dir.glob("session_2*"))  # not _latest
    assert not restarted.planted_session.exists()
    assert len(sessions) == 2


def test_a_new_token_is_written_at_every_start(restarted: Restarted) -> None:
    assert restarted.first_token != restarted.second_token
    assert _mode(restarted.daemon.paths.token) == 0o600


def test_the_token_of_a_previous_start_is_refused(restarted: Restarted) -> None:
    channel, stub = _stub(restarted.second.port)
    with channel, pytest.raises(grpc.RpcError) as caught:
        stub.Health(
            pb.HealthRequest(),
            metadata=((TOKEN_METADATA_KEY, restarted.first_token),),
            timeout=10,
        )
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_call_waiting_on_a_daemon_that_dies_fails_as_unreachable(restarted: Restarted) -> None:
    assert len(restarted.in_flight_errors) == 1
    assert isinstance(restarted.in_flight_errors[0], UnreachableError)


def test_a_finished_run_survives_a_daemon_restart(restarted: Restarted) -> None:
    assert restarted.finished_reply.outcome.status == pb.SUCCEEDED
    status, _, _, outcome = _row(restarted.root, restarted.finished.run_id)
    assert status == pb.SUCCEEDED
    assert outcome is not None
    assert pickle.loads(outcome.result) == 5
    assert outcome.started_at == restarted.finished_reply.outcome.started_at


def test_a_retry_after_a_restart_is_answered_from_the_store_not_run_again(
    restarted: Restarted,
) -> None:
    client = DaemonClient(
        address=restarted.second.address,
        token=restarted.second_token,
        describe="test",
        restart_hint="",
    )
    try:
        finished = client.call(restarted.finished, timeout=30).outcome
        in_flight = client.call(restarted.in_flight, timeout=30).outcome
    finally:
        client.close()
    assert finished.status == pb.SUCCEEDED and pickle.loads(finished.result) == 5
    assert finished.started_at == restarted.finished_reply.outcome.started_at
    assert (in_flight.status, in_flight.failure) == (pb.FAILED, pb.WORKER_DIED)


def test_a_run_in_flight_when_the_daemon_was_killed_is_marked_failed_after_restart(
    restarted: Restarted,
) -> None:
    status, failure, reason, outcome = _row(restarted.root, restarted.in_flight.run_id)
    assert (status, failure, reason) == (pb.FAILED, pb.WORKER_DIED, RESTART_REASON)
    assert outcome is not None and outcome.result == b""
    log = restarted.daemon.paths.log.read_text()
    assert "failed 1 runs the previous daemon left running" in log
    assert restarted.in_flight.run_id in log


def test_a_client_reconnects_to_a_restarted_daemon_with_its_new_token(
    restarted: Restarted,
) -> None:
    assert restarted.second.port == restarted.first.port  # the old channel still connects
    add = rh.function(funcs.add, system=restarted.cluster)
    assert add(4, 5) == 9
    assert restarted.cluster.status().pid == restarted.second.pid


def test_sigterm_stops_the_daemon_cleanly(restarted: Restarted) -> None:
    # Last of the module: it stops the restarted daemon.
    paths = restarted.daemon.paths
    pid = restarted.second.pid
    os.kill(pid, signal.SIGTERM)
    _wait_for(lambda: not is_daemon_process(pid), timeout=30, what="the daemon to exit")
    assert not paths.state.exists()
    assert not paths.pid.exists()
    assert restarted.daemon.state() is None
    log_lines = paths.log.read_text().splitlines()
    assert log_lines[-1].endswith("rhcli.server: stopped"), log_lines[-5:]
    _wait_for(
        lambda: not _leftovers(restarted.root), timeout=10, what="the root's processes to end"
    )
