"""rhcli in environments unlike a developer's shell: a CI step (no terminal, COLUMNS=0,
LANG=C, TERM=dumb, a HOME it cannot write), a terminal that says it is 0 columns wide or
dumb, a reader that closes the pipe early, and Ctrl-C in any command. Each failure under
--json is still exactly one JSON document on stdout, its line on stderr, and the exit code
docs/cli.md gives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.support.processes import spawn_interruptible
from tests.support.terminal import ANSI, run_in_terminal

FUNCS = "tests.fixtures.funcs"
RUN_ID = "add-20260101-000000-0123456789ab"


def ci_env(root: Path) -> dict[str, str]:
    """What a CI runner's step may hand rhcli: odd width, C locale, dumb terminal."""
    return {"RHCLI_HOME": str(root), "COLUMNS": "0", "LANG": "C", "LC_ALL": "C", "TERM": "dumb"}


# (arguments, exit code) of failures that need no daemon, one of each kind.
FAILURES = [
    (["frob"], 2),  # unknown command
    (["runs", "--bogus"], 2),  # unknown option
    (["run"], 2),  # missing argument
    (["run", "generate"], 2),  # unknown function (no manifest)
    (["-f", "/no/such/runhouse.yaml", "runs"], 2),  # missing manifest
    (["run", f"{FUNCS}:add", "--args-json", "{oops"], 2),
    (["run", f"{FUNCS}:add", "--args-json", "@/no/such/args.json"], 2),
    (["run", f"{FUNCS}:add", "1", "2", "--output", "/no/such/dir/x.json"], 2),
    (["get", RUN_ID, "--output", "/no/such/dir/x.json"], 2),
    (["runs", "--since", "yesterday-ish"], 2),
    (["logs", RUN_ID, "--tail", "-1"], 2),
    (["completion", "tcsh"], 2),
    (["ssh"], 2),  # the local cluster has nothing to ssh to
    (["runs"], 3),  # read-only, daemon down
    (["get", "last"], 3),
    (["logs", "-f", RUN_ID], 3),
    (["cancel", RUN_ID], 3),
]


@pytest.mark.parametrize(("args", "code"), FAILURES, ids=[" ".join(a) for a, _ in FAILURES])
def test_every_failure_under_json_in_a_ci_step_is_one_document_and_its_line(
    args: list[str], code: int, tmp_path: Path
) -> None:
    done = run_cli("--json", *args, cwd=tmp_path, env=ci_env(tmp_path / "root"))
    assert done.returncode == code, done.stderr
    assert done.stdout.count("\n") == 1, done.stdout  # one document, one line
    error = json.loads(done.stdout)["error"]
    assert error["exit_code"] == code and error["message"] and error["type"]
    assert "rror" in done.stderr  # `error: ...`, or click's `Error: ...` under its usage
    assert "Traceback" not in done.stderr
    assert ANSI not in done.stdout + done.stderr
    assert not (tmp_path / "root" / "daemon.json").exists()  # nothing was started


def test_a_home_rhcli_cannot_write_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    env = {"HOME": "/proc", "RHCLI_HOME": ""}  # /proc/.rhcli can never be made
    done = run_cli("run", f"{FUNCS}:add", "1", "2", cwd=tmp_path, env=env)
    assert done.returncode == 2, done.stderr
    assert "cannot use /proc/.rhcli as rhcli's root" in done.stderr
    assert "RHCLI_HOME" in done.stderr and "internal error" not in done.stderr
    as_json = run_cli("--json", "up", cwd=tmp_path, env=env)
    assert as_json.returncode == 2
    assert json.loads(as_json.stdout)["error"]["type"] == "rhcli.errors.UsageError"


def test_a_terminal_that_says_it_is_0_columns_wide_still_shows_every_word(
    tmp_path: Path,
) -> None:
    # Rich reads COLUMNS=0 as a width of 0 and would print an empty label.
    screen = run_in_terminal("runs", env={"RHCLI_HOME": str(tmp_path), "COLUMNS": "0"})
    assert screen.returncode == 3
    assert "\x1b[1;31merror:\x1b[0m the local daemon is not running" in screen.raw


def test_a_dumb_terminal_gets_no_escape_codes(tmp_path: Path) -> None:
    screen = run_in_terminal("runs", env={"RHCLI_HOME": str(tmp_path), "TERM": "dumb"})
    assert screen.returncode == 3
    assert "error: the local daemon is not running" in screen.raw
    assert ANSI not in screen.raw


@pytest.mark.parametrize("args", [["--help"], ["run", "-h"], ["completion", "bash"]])
def test_a_reader_that_closes_the_pipe_gets_exit_141_and_no_noise(args: list[str]) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before rhcli writes a byte: `rhcli ... | true`
    try:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "rhcli"), *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)
    assert done.returncode == 141, done.stderr  # as a shell reports a tool killed by SIGPIPE
    assert done.stderr == ""


def test_only_our_own_closed_output_ends_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    # A BrokenPipeError from another pipe (ssh, rsync) must stay a reported fault.
    from rhcli.cli.main import _output_closed

    read, write = os.pipe()
    with open(write, "w") as out, open(os.devnull, "w") as err:
        monkeypatch.setattr(sys, "stdout", out)
        monkeypatch.setattr(sys, "stderr", err)
        assert not _output_closed()
        os.close(read)
        assert _output_closed()


def _blocked_on_stdin(pid: int, timeout: float = 60) -> None:
    """Wait until the process sleeps reading its stdin pipe (it has imported everything
    and parsed its options by then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/wchan").read_text().endswith("pipe_read"):
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"rhcli (pid {pid}) never waited on its stdin")


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_ctrl_c_in_a_command_without_a_handler_of_its_own_is_told(
    as_json: bool, tmp_path: Path
) -> None:
    # `--args-json -` waits on stdin before anything is sent: Ctrl-C there.
    args = [*(["--json"] if as_json else []), "run", f"{FUNCS}:add", "--args-json", "-"]
    process = spawn_interruptible(
        [str(Path(sys.executable).parent / "rhcli"), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env={**os.environ, "RHCLI_HOME": str(tmp_path / "root")},
    )
    try:
        _blocked_on_stdin(process.pid)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "interrupted" in err
    if as_json:
        assert json.loads(out) == {
            "error": {"type": "KeyboardInterrupt", "message": "interrupted", "exit_code": 130}
        }
    else:
        assert out == ""


def test_json_status_of_a_cluster_that_is_down_says_why_on_stderr(tmp_path: Path) -> None:
    done = run_cli("--json", "status", cwd=tmp_path, env=ci_env(tmp_path / "root"))
    assert done.returncode == 3
    assert json.loads(done.stdout)["up"] is False  # the status document, as when it is up
    assert "local is down: no daemon running" in done.stderr
    assert "start it with `rhcli up local`" in done.stderr


@pytest.mark.parametrize(
    ("redirect", "args", "code"),
    [
        (">&-", ["--json", "runs"], 3),  # stdout closed: the exit code still says why
        ("2>&- >&-", ["runs"], 3),
        ("<&-", ["--json", "run", f"{FUNCS}:add", "--args-json", "-"], 2),  # empty stdin
    ],
    ids=["stdout", "stdout-and-stderr", "stdin"],
)
def test_a_closed_standard_stream_is_no_internal_error(
    redirect: str, args: list[str], code: int, tmp_path: Path
) -> None:
    rhcli = Path(sys.executable).parent / "rhcli"
    done = subprocess.run(
        ["bash", "-c", f'"$0" "$@" {redirect}', str(rhcli), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "RHCLI_HOME": str(tmp_path / "root")},
        timeout=60,
        check=False,
    )
    assert done.returncode == code, done.stderr
    assert "internal error" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_output_that_stdouts_encoding_cannot_write_shows_escaped(local: object) -> None:
    ran = run_cli("run", "--detach", f"{FUNCS}:chatty", "n=1", "tag=café")
    assert ran.returncode == 0, ran.stderr
    run_id = ran.stdout.strip()
    assert run_cli("get", run_id).returncode == 0
    done = run_cli("logs", run_id, env={"PYTHONIOENCODING": "ascii"})
    assert done.returncode == 0, done.stderr
    assert "caf\\xe9 out 0" in done.stdout
