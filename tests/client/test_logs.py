"""Logs through the real daemon and Ray workers: streamed live, followed, read later.

Every run here prints on a real worker, whose fd 1 and 2 are captured into the run's log
on the daemon; the client reads it back through the Logs stream. Nothing is mocked.
"""

from __future__ import annotations

import io
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

import rhcli as rh
from rhcli.clusters.local import LocalCluster
from rhcli.log_follower import Follower, LogPrinter
from rhcli.protocol import daemon_pb2 as pb
from rhcli.transport.grpc_client import DaemonClient
from tests.conftest import REPO, processes_of_root, run_cli
from tests.fixtures import funcs
from tests.support.processes import spawn_interruptible

RHCLI = str(Path(sys.executable).parent / "rhcli")


def json_printer() -> tuple[io.StringIO, LogPrinter]:
    """A printer that keeps every line it is given, as JSON records, in a buffer."""
    buffer = io.StringIO()
    return buffer, LogPrinter(out=buffer, err=buffer, as_json=True)


def records(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def texts(recs: list[dict[str, Any]], stream: str) -> list[str]:
    return [r["text"] for r in recs if r["stream"] == stream]


def chatty_out(tag: str, n: int) -> list[str]:
    """What funcs.chatty prints on stdout."""
    return [*(f"{tag} out {i}" for i in range(n)), f"{tag} subprocess"]


def chatty_err(tag: str, n: int) -> list[str]:
    """What funcs.chatty logs on stderr."""
    return [f"WARNING {tag} log {i}" for i in range(0, n, 1000)]


def ticks_out(count: int) -> str:
    return "".join(f"tick {i}\n" for i in range(count))


class LineReader:
    """Reads a child's pipe in a thread, so a test can wait for a line with a timeout."""

    def __init__(self, pipe: IO[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(pipe,), daemon=True).start()

    def _read(self, pipe: IO[str]) -> None:
        for line in pipe:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"no line matching {pattern!r} in {timeout} s: {self.lines}"
                ) from None
            if line is None:
                raise AssertionError(f"the pipe closed before {pattern!r}: {self.lines}")
            self.lines.append(line)
            match = re.search(pattern, line)
            if match:
                return match

    def rest(self, timeout: float = 30) -> list[str]:
        """Every line up to the end of the pipe."""
        while (line := self._queue.get(timeout=timeout)) is not None:
            self.lines.append(line)
        return self.lines


def spawn(*argv: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """The command, its output piped; SIGINT at its default whatever this process
    inherited, so the Ctrl-C tests hold when the suite runs from a background job."""
    return spawn_interruptible(
        list(argv),
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def detach(*args: str) -> str:
    """`rhcli run --detach ARGS`: the run id it prints."""
    done = run_cli("run", "--detach", *args)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()
    assert run_id, done.stderr
    return run_id


def wait_for_first_line(client: Any, run_id: str, timeout: float = 60) -> None:
    """Return once run_id has printed something (its worker is running it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(batch.lines for batch in client.logs(run_id, follow=False)):
            return
        time.sleep(0.05)
    raise AssertionError(f"{run_id} printed nothing in {timeout} s")


# --- streaming while the call runs -----------------------------------------------------------


@pytest.fixture(scope="module")
def big_run(local: Any) -> tuple[str, list[dict[str, Any]]]:
    """A run of 10,000 print lines, logging and a subprocess, streamed: its id and the
    records the stream had printed by the time the call returned."""
    chatty = rh.function(funcs.chatty, system=local)
    buffer, printer = json_printer()
    outcome = chatty.call_raw((10_000,), {"tag": "big"}, stream_logs=printer)
    streamed = records(buffer)  # read at once: all of it must be there already
    assert outcome.status == "succeeded", outcome.reason
    return outcome.run_id, streamed


def test_10000_lines_of_print_logging_and_a_subprocess_stream_in_order_once_before_the_result(
    big_run: tuple[str, list[dict[str, Any]]],
) -> None:
    _, streamed = big_run
    assert texts(streamed, "out") == chatty_out("big", 10_000)
    assert texts(streamed, "err") == chatty_err("big", 10_000)
    # One sequence over both streams: none lost, none repeated, none out of order.
    assert [r["seq"] for r in streamed] == list(range(10_000 + 1 + 10))


def test_stream_logs_true_prints_stdout_lines_on_stdout_and_stderr_lines_on_stderr(
    local: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    shout = rh.function(funcs.shout, system=local)
    assert shout(5, stream_logs=True) == 5
    captured = capsys.readouterr()
    assert captured.out == "item says 5\n"
    assert captured.err == "item warns 5\n"


def test_enqueue_streams_its_logs_too(local: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ticks = rh.function(funcs.ticks, system=local)
    assert ticks.enqueue(3, 0, stream_logs=True) == 3
    assert capsys.readouterr().out == ticks_out(3)


def test_two_concurrent_runs_keep_their_lines_apart(local: Any, tmp_path: Path) -> None:
    streamed: dict[str, list[dict[str, Any]]] = {}
    errors: list[BaseException] = []

    def call(tag: str, other: str) -> None:
        try:
            chatty = rh.function(funcs.chatty, system=local)
            buffer, printer = json_printer()
            meet = (str(tmp_path / tag), str(tmp_path / other))  # both print at once
            outcome = chatty.call_raw((3000,), {"tag": tag, "meet": meet}, stream_logs=printer)
            assert outcome.status == "succeeded", outcome.reason
            streamed[tag] = records(buffer)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=call, args=("A", "B")),
        threading.Thread(target=call, args=("B", "A")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    for tag in ("A", "B"):
        assert texts(streamed[tag], "out") == chatty_out(tag, 3000)
        assert texts(streamed[tag], "err") == chatty_err(tag, 3000)
    # They did print at the same time: each one's lines span some of the other's.
    a = [r["t"] for r in streamed["A"]]
    b = [r["t"] for r in streamed["B"]]
    assert min(a) < max(b) and min(b) < max(a)


def test_map_streams_every_items_lines_once_prefixed_with_its_index(
    local: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    shout = rh.function(funcs.shout, system=local)
    assert shout.map(range(8), stream_logs=True) == list(range(8))
    captured = capsys.readouterr()
    assert sorted(captured.out.splitlines()) == sorted(f"[{i}] item says {i}" for i in range(8))
    assert sorted(captured.err.splitlines()) == sorted(f"[{i}] item warns {i}" for i in range(8))


def test_rhcli_run_streams_the_output_on_stderr_and_keeps_stdout_for_the_result(
    local: Any,
) -> None:
    done = run_cli("run", "tests.fixtures.funcs:shout", "3")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "3\n"
    assert "item says 3\n" in done.stderr and "item warns 3\n" in done.stderr

    quiet = run_cli("run", "--no-stream-logs", "tests.fixtures.funcs:shout", "4")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == "4\n"
    assert "item says" not in quiet.stderr


# --- reading a log later: rhcli logs ---------------------------------------------------------


def test_rhcli_logs_prints_a_finished_runs_whole_log(
    big_run: tuple[str, list[dict[str, Any]]],
) -> None:
    run_id, _ = big_run
    done = run_cli("logs", run_id)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == chatty_out("big", 10_000)
    assert done.stderr.splitlines() == chatty_err("big", 10_000)


def test_rhcli_logs_json_prints_one_object_per_line(
    big_run: tuple[str, list[dict[str, Any]]],
) -> None:
    run_id, streamed = big_run
    done = run_cli("--json", "logs", run_id)
    assert done.returncode == 0, done.stderr
    printed = [json.loads(line) for line in done.stdout.splitlines()]
    assert printed == streamed  # both streams on stdout, each line once, as streamed live
    assert set(printed[0]) == {"seq", "stream", "t", "text"}


def test_rhcli_logs_item_prints_one_map_items_lines(local: Any) -> None:
    shout = rh.function(funcs.shout, system=local)
    assert shout.map(range(4)) == [0, 1, 2, 3]
    done = run_cli("logs", shout.last_map_id, "--item", "2")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[2] item says 2\n"
    assert done.stderr == "[2] item warns 2\n"

    whole = run_cli("logs", shout.last_map_id)
    assert sorted(whole.stdout.splitlines()) == [f"[{i}] item says {i}" for i in range(4)]


def test_rhcli_logs_of_an_unknown_run_says_so(local: Any) -> None:
    done = run_cli("logs", "add-20200101-000000-deadbeef")
    assert done.returncode != 0
    assert "no run add-20200101-000000-deadbeef" in done.stderr


@pytest.mark.parametrize(
    ("run_args", "code", "printed"),
    [
        pytest.param(["tests.fixtures.funcs:ticks", "15", "0.1"], 0, ticks_out(15), id="ok"),
        pytest.param(
            ["tests.fixtures.funcs:ticks", "15", "0.1", "fail=true"], 1, ticks_out(15), id="raised"
        ),
        pytest.param(
            ["--timeout", "1", "tests.fixtures.funcs:ticks", "100", "0.1"], 4, None, id="timed-out"
        ),
    ],
)
def test_logs_follow_waits_for_a_detached_run_to_end_and_exits_with_its_code(
    local: Any, run_args: list[str], code: int, printed: str | None
) -> None:
    run_id = detach(*run_args)
    assert local.client().get_run(run_id).status in (pb.QUEUED, pb.RUNNING)
    done = run_cli("logs", "-f", run_id)
    assert done.returncode == code, done.stderr
    assert local.client().get_run(run_id).status != pb.RUNNING
    if printed is not None:
        assert done.stdout == printed
    else:  # stopped after a second: the ticks up to then, in order, and no more
        lines = done.stdout.splitlines()
        assert 1 <= len(lines) < 100
        assert lines == [f"tick {i}" for i in range(len(lines))]


# --- a follower that cannot finish says so -----------------------------------------------------


def _own_client(local: Any) -> DaemonClient:
    """A second client of the session's daemon, to break without harming the others."""
    return DaemonClient(
        address=local.client().address,
        token=local.daemon.read_token(),
        describe="the session's daemon",
        restart_hint="",
    )


def _wait_for_lines(buffer: io.StringIO, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(buffer.getvalue().splitlines()) < count:
        assert time.monotonic() < deadline, f"fewer than {count} lines: {buffer.getvalue()!r}"
        time.sleep(0.02)


def test_a_log_stream_broken_mid_run_is_reported_with_the_command_that_shows_every_line(
    local: Any,
) -> None:
    run_id = str(rh.function(funcs.ticks, system=local).remote(30, 0.05))
    buffer, printer = json_printer()
    warnings = io.StringIO()
    client = _own_client(local)
    follower = Follower(client, run_id, printer, warn=warnings)
    _wait_for_lines(buffer, 3)
    client.close()  # the stream breaks under the follower, as a dropped connection would
    assert rh.get(run_id, cluster=local) == 30  # the run itself is not affected
    assert follower.finish(timeout=10) is False
    printed = len(records(buffer))
    assert 3 <= printed < 30
    message = warnings.getvalue()
    assert f"run {run_id} ended, but its log stream stopped before the end of the log" in message
    assert f"any line after the {printed} printed here may be missing" in message
    assert f"`rhcli logs {run_id}` prints them all" in message
    assert run_cli("logs", run_id).stdout == ticks_out(30)  # ...and it does


def test_a_log_stream_that_fails_is_reported_with_its_error(local: Any) -> None:
    run_id = str(rh.function(funcs.ticks, system=local).remote(3, 0.01))
    refused = DaemonClient(
        address=local.client().address,
        token="not-the-token",  # a wrong token on purpose
        describe="the session's daemon",
        restart_hint="",
    )
    warnings = io.StringIO()
    follower = Follower(refused, run_id, json_printer()[1], warn=warnings)
    assert rh.get(run_id, cluster=local) == 3
    assert follower.finish(timeout=30) is False
    message = warnings.getvalue()
    assert f"run {run_id} ended, but streaming its log failed (AuthError: " in message
    assert f"any line after the 0 printed here may be missing. `rhcli logs {run_id}`" in message


def test_a_log_that_does_not_end_in_time_is_reported_and_no_longer_followed(
    local: Any,
) -> None:
    run_id = str(rh.function(funcs.ticks, system=local).remote(600, 0.05))
    try:
        buffer, printer = json_printer()
        warnings = io.StringIO()
        follower = Follower(_own_client(local), run_id, printer, warn=warnings)
        _wait_for_lines(buffer, 1)
        assert follower.finish(timeout=0.5) is False
        assert f"run {run_id} ended, but its log did not reach its end within 0.5 s" in (
            warnings.getvalue()
        )
        printed = len(buffer.getvalue().splitlines())
        time.sleep(0.5)
        assert len(buffer.getvalue().splitlines()) <= printed + 1  # stopped following
    finally:
        local.client().cancel(run_id)


def test_a_follower_that_reaches_the_end_says_nothing(local: Any) -> None:
    run_id = str(rh.function(funcs.ticks, system=local).remote(5, 0.01))
    buffer, printer = json_printer()
    warnings = io.StringIO()
    follower = Follower(_own_client(local), run_id, printer, warn=warnings)
    assert follower.finish(timeout=60) is True
    assert texts(records(buffer), "out") == [f"tick {i}" for i in range(5)]
    assert warnings.getvalue() == ""


# --- clients that go away ----------------------------------------------------------------------

STREAMING_CLIENT = """\
import sys, threading, time
import rhcli as rh
from tests.fixtures import funcs

ticks = rh.function(funcs.ticks, system=rh.cluster("local"))

def announce():
    while not ticks.last_run_id:
        time.sleep(0.001)
    print("RUN_ID", ticks.last_run_id, file=sys.stderr, flush=True)

threading.Thread(target=announce, daemon=True).start()
ticks({count}, {interval}, stream_logs=True)
"""


def test_client_killed_mid_stream_leaves_a_run_that_completes_with_its_whole_log(
    local: Any,
) -> None:
    client = spawn(sys.executable, "-c", STREAMING_CLIENT.format(count=40, interval=0.05))
    try:
        run_id = LineReader(client.stderr).wait_for(r"RUN_ID (\S+)").group(1)  # type: ignore[arg-type]
        LineReader(client.stdout).wait_for(r"^tick 3$")  # type: ignore[arg-type]
        client.kill()
    finally:
        client.kill()
        client.wait()
    assert local.client().get_run(run_id).status == pb.RUNNING  # killed mid-run
    followed = run_cli("logs", "-f", run_id)
    assert followed.returncode == 0, followed.stderr  # it completed, and succeeded
    assert followed.stdout == ticks_out(40)
    assert rh.get(run_id, cluster=local) == 40


FOLLOWERS = """\
import sys, time
import rhcli as rh

client = rh.cluster("local").client()
streams = [iter(client.logs({run_id!r}, follow=True)) for _ in range({count})]
for stream in streams:
    next(stream)  # the daemon is streaming to us on every one of them
print("following", flush=True)
time.sleep(120)
"""


def daemon_threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no Threads line")


def settled_threads(pid: int, *, at_most: int, timeout: float = 8.0) -> int:
    """The daemon's thread count, once it is at_most or timeout has passed."""
    deadline = time.monotonic() + timeout
    while (count := daemon_threads(pid)) > at_most and time.monotonic() < deadline:
        time.sleep(0.1)
    return count


def test_daemon_releases_the_streams_of_killed_followers(local: Any) -> None:
    """Each round kills a client that follows a live run on eight streams.

    The daemon serves streams from a thread pool that keeps its threads: the first round
    may grow it, which is why the count is taken after it. A stream the daemon kept
    serving would hold its thread, so every later round would need eight more.
    """
    pid = local.status().pid
    # A run that prints once and then nothing: no later line would tell the daemon, when
    # it tried to send it, that the client has gone.
    run_id = str(rh.function(funcs.ticks, system=local).remote(2, 600))
    try:
        wait_for_first_line(local.client(), run_id)

        def round_of_killed_followers() -> None:
            follower = spawn(sys.executable, "-c", FOLLOWERS.format(run_id=run_id, count=8))
            try:
                LineReader(follower.stdout).wait_for("^following$")  # type: ignore[arg-type]
            finally:
                follower.kill()
                follower.wait()

        round_of_killed_followers()
        time.sleep(1.0)
        after_first = daemon_threads(pid)
        for _ in range(3):
            round_of_killed_followers()
        count = settled_threads(pid, at_most=after_first + 2)
        assert count <= after_first + 2, (
            f"the daemon went from {after_first} to {count} threads over 3 rounds of 8 killed "
            "followers: their streams were not released"
        )
        assert local.client().get_run(run_id).status == pb.RUNNING  # undisturbed
    finally:
        local.client().cancel(run_id)


def test_ctrl_c_on_rhcli_run_detaches_and_the_run_completes(local: Any) -> None:
    # 6 s of ticks: room for a loaded machine to deliver tick 0 and the signal before
    # the run ends (a run that ended first would exit 0, not detach).
    cli = spawn(RHCLI, "run", "tests.fixtures.funcs:ticks", "60", "0.1")
    try:
        stderr = LineReader(cli.stderr)  # type: ignore[arg-type]
        stderr.wait_for("^tick 0$")  # streamed on stderr while it runs
        cli.send_signal(signal.SIGINT)
        assert cli.wait(30) == 130
        message = "\n".join(stderr.rest())
    finally:
        cli.kill()
        cli.wait()
    match = re.search(r"detached: run (\S+) goes on", message)
    assert match, message
    run_id = match.group(1)
    assert f"rhcli logs -f {run_id}" in message
    assert f"rhcli cancel {run_id}" in message
    got = run_cli("get", run_id)
    assert got.returncode == 0, got.stderr
    assert got.stdout == "60\n"
    assert run_cli("logs", run_id).stdout == ticks_out(60)


def test_ctrl_c_on_logs_follow_detaches_and_leaves_the_run_alone(local: Any) -> None:
    run_id = str(rh.function(funcs.ticks, system=local).remote(2, 600))
    try:
        cli = spawn(RHCLI, "logs", "-f", run_id)
        try:
            LineReader(cli.stdout).wait_for("^tick 0$")  # type: ignore[arg-type]
            cli.send_signal(signal.SIGINT)
            assert cli.wait(30) == 130
            message = cli.stderr.read()  # type: ignore[union-attr]
        finally:
            cli.kill()
            cli.wait()
        assert f"detached: run {run_id} goes on" in message
        assert f"rhcli cancel {run_id}" in message
        assert local.client().get_run(run_id).status == pb.RUNNING
    finally:
        local.client().cancel(run_id)


# --- the daemon's own log, and logs across a restart -------------------------------------------


def test_status_logs_shows_the_daemons_own_log(private_cluster: LocalCluster) -> None:
    # A daemon of its own: the session's has logged more than the last 50 lines since its
    # start line by the time this runs, depending on the tests before it.
    private_cluster.up()
    home = {"RHCLI_HOME": str(private_cluster.daemon.paths.root)}
    done = run_cli("status", "--logs", env=home)
    assert done.returncode == 0, done.stderr
    assert "daemon.log" in done.stdout
    assert "serving on 127.0.0.1:" in done.stdout

    as_json = run_cli("--json", "status", "--logs", env=home)
    assert as_json.returncode == 0, as_json.stderr
    document = json.loads(as_json.stdout)
    assert "serving on" in document["daemon_log"]["text"]


@pytest.fixture
def private_cluster() -> Iterator[LocalCluster]:
    """A cluster with a daemon of its own, free to restart without touching the session's."""
    home = Path(tempfile.mkdtemp(prefix="rhcli-logs-"))
    cluster = LocalCluster("local", home=home)
    try:
        yield cluster
    finally:
        cluster.down()
        left = processes_of_root(home)
        shutil.rmtree(home, ignore_errors=True)
        assert not left, f"processes left behind by the private daemon: {left}"


def test_logs_survive_a_daemon_restart(private_cluster: LocalCluster) -> None:
    cluster = private_cluster
    home = {"RHCLI_HOME": str(cluster.daemon.paths.root)}
    chatty = rh.function(funcs.chatty, system=cluster)
    outcome = chatty.call_raw((2000,), {"tag": "kept"})
    finished = outcome.run_id
    assert outcome.status == "succeeded", outcome.reason
    ticks = rh.function(funcs.ticks, system=cluster)
    interrupted = str(ticks.remote(600, 0.05))
    wait_for_first_line(cluster.client(), interrupted)

    cluster.down()
    cluster.up()
    assert cluster.status().pid != 0

    done = run_cli("logs", finished, env=home)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == chatty_out("kept", 2000)
    assert done.stderr.splitlines() == chatty_err("kept", 2000)
    # The run the restart cut short: what it printed is kept, and following it ends at
    # once with its outcome (failed by the restart) instead of waiting forever.
    followed = run_cli("logs", "-f", interrupted, env=home, timeout=30)
    assert followed.returncode == 1, followed.stderr
    lines = followed.stdout.splitlines()
    assert lines and lines == [f"tick {i}" for i in range(len(lines))]
    assert cluster.client().get_run(interrupted).status == pb.FAILED
