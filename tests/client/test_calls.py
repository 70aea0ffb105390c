"""Blocking calls through the local cluster's real daemon and real Ray workers."""

from __future__ import annotations

import importlib.util
import os
import py_compile
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import rhcli as rh
from rhcli.errors import (
    ArgumentNotSerializableError,
    EntrypointNotFoundError,
    ResourcesUnavailableError,
    ResultNotSerializableError,
    UsageError,
)
from rhcli.transport.grpc_client import DaemonClient
from tests.fixtures import funcs


def write_module(project: Path, name: str, code: str) -> Path:
    path = project / f"{name}.py"
    path.write_text(textwrap.dedent(code))
    return path


def run_script(script: Path, *, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """Run script with this interpreter, as a user runs `python script.py`."""
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=script.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# --- how functions travel ------------------------------------------------------------------


def test_call_by_reference_returns_the_result(local: Any) -> None:
    add = rh.function(funcs.add, system=local)
    assert add.source.entrypoint == "tests.fixtures.funcs:add"
    assert add(2, 3) == 5
    assert add(a="x", b="y") == "xy"


def test_call_by_entrypoint_string(local: Any) -> None:
    echo = rh.function("tests.fixtures.funcs:echo", system=local)
    assert echo(1, [2], k={"v": None}) == {"args": [1, [2]], "kwargs": {"k": {"v": None}}}


def test_lambda_travels_by_value(local: Any) -> None:
    double = rh.function(lambda x: x * 2, system=local)
    assert double.source.by_value
    assert double(21) == 42


def test_closure_travels_by_value_with_what_it_captured(local: Any) -> None:
    prefix = "run-"

    def label(n: int) -> str:
        return f"{prefix}{n}"

    remote = rh.function(label, system=local)
    assert remote.source.by_value
    assert remote(7) == "run-7"


def test_function_of_a_main_script_resolves_to_its_module(local: Any, project: Path) -> None:
    script = project / "jobs" / "train.py"
    script.parent.mkdir()
    script.write_text(
        textwrap.dedent(
            """\
            import rhcli as rh

            def double(x):
                return (x * 2, __name__)

            if __name__ == "__main__":
                f = rh.function(double, system="local")
                print(f(21))
                print(f.source.entrypoint)
            """
        )
    )
    done = run_script(script)
    assert done.returncode == 0, done.stderr
    # The cluster imported the script as a module, so its __name__ guard kept it quiet.
    assert done.stdout.splitlines() == ["(42, 'jobs.train')", "jobs.train:double"]


def test_script_calling_at_import_time_is_refused_instead_of_recursing(
    local: Any, project: Path
) -> None:
    script = write_module(
        project,
        "unguarded",
        """\
        import rhcli as rh

        def double(x):
            return x * 2

        f = rh.function(double, system="local")
        print(f(21))
        """,
    )
    started = time.monotonic()
    done = run_script(script, timeout=60)
    assert time.monotonic() - started < 30
    assert done.returncode == 1
    assert "UsageError" in done.stderr
    assert "while the cluster imported unguarded" in done.stderr
    assert 'if __name__ == "__main__":' in done.stderr


def test_edited_module_is_picked_up_on_the_next_call_without_a_restart(
    local: Any, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    path = write_module(
        project, "model", "import os\n\ndef version():\n    return (1, os.getpid())\n"
    )
    version = rh.function("model:version", system=local)
    assert version.source.local_root == project.resolve()
    first, pid = version()
    assert first == 1
    path.write_text(path.read_text().replace("(1,", "(2,"))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert version() == (2, pid)


def test_edit_in_the_same_second_with_the_same_size_is_picked_up(
    local: Any, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Python's bytecode cache checks a source's mtime in whole seconds and its size: an
    # edit that keeps both (a quick scripted edit) must still not run the old code.
    monkeypatch.chdir(project)
    path = write_module(project, "quick", "def value():\n    return 'a'\n")
    # As a local run of the module leaves it (this session may not write bytecode itself).
    py_compile.compile(str(path), cfile=importlib.util.cache_from_source(str(path)), doraise=True)
    value = rh.function("quick:value", system=local)
    assert value() == "a"
    stat = path.stat()
    path.write_text("def value():\n    return 'b'\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert path.stat().st_size == stat.st_size
    assert value() == "b"


def test_a_function_added_after_a_call_found_it_missing_is_found_next_time(
    local: Any, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The failed lookup imported the module: that import must be watched for edits too.
    monkeypatch.chdir(project)
    path = write_module(project, "growing", "def first():\n    return 1\n")
    with pytest.raises(EntrypointNotFoundError):
        rh.function("growing:second", system=local)()
    stat = path.stat()
    path.write_text(path.read_text() + "\n\ndef second():\n    return 2\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert rh.function("growing:second", system=local)() == 2


def test_warm_worker_serves_consecutive_calls(local: Any) -> None:
    pid = rh.function(funcs.pid, system=local)
    first = pid()
    assert first != os.getpid()
    assert pid() == first


@pytest.mark.parametrize("stream_logs", [False, True], ids=["blocking", "stream_logs"])
def test_a_call_sends_its_request_to_the_daemon_once(
    local: Any, monkeypatch: pytest.MonkeyPatch, stream_logs: bool
) -> None:
    # A request sent twice is answered twice (the second from the store, as a retry),
    # so only counting the sends shows it: it once cost every blocking call a round trip.
    sent: list[str] = []
    for name in ("call", "call_stream", "submit"):
        real = getattr(DaemonClient, name)

        def counted(self: Any, request: Any, *args: Any, _real: Any = real, **kw: Any) -> Any:
            sent.append(request.run_id)
            return _real(self, request, *args, **kw)

        monkeypatch.setattr(DaemonClient, name, counted)
    add = rh.function(funcs.add, system=local)
    assert add(2, 3, stream_logs=stream_logs) == 5
    assert sent == [add.last_run_id]


# --- remote exceptions ---------------------------------------------------------------------


def test_remote_exception_is_raised_as_its_own_type(local: Any) -> None:
    fail = rh.function(funcs.fail, system=local)
    with pytest.raises(funcs.CustomError) as info:
        fail("disk full")
    exc = info.value
    run_id = exc.run_id  # type: ignore[attr-defined]
    assert run_id.startswith("fail-")
    assert str(exc) == f"disk full (run {run_id})"
    remote_tb = exc.remote_traceback  # type: ignore[attr-defined]
    assert 'funcs.py", line' in remote_tb
    assert "in fail" in remote_tb
    assert "tests.fixtures.funcs.CustomError: disk full" in remote_tb
    assert any("in fail" in note for note in exc.__notes__)


def test_builtin_remote_exception_keeps_its_type(local: Any) -> None:
    with pytest.raises(ValueError, match="bad value"):
        rh.function(funcs.fail_value, system=local)()


def test_file_not_found_on_the_cluster_names_the_run(local: Any) -> None:
    read = rh.function(lambda path: open(path).read(), system=local)
    with pytest.raises(FileNotFoundError) as info:
        read("/nonexistent/data.csv")
    assert info.value.filename == "/nonexistent/data.csv"
    assert f"(run {info.value.run_id})" in str(info.value)  # type: ignore[attr-defined]


def test_exception_that_cannot_be_rebuilt_arrives_as_remote_error(local: Any) -> None:
    with pytest.raises(rh.RemoteError) as info:
        rh.function(funcs.fail_stubborn, system=local)()
    exc = info.value
    assert exc.type_name == "tests.fixtures.funcs.StubbornError"
    assert exc.message == "1/2"
    assert "in fail_stubborn" in exc.remote_traceback
    assert exc.run_id in str(exc)


def test_sys_exit_in_the_function_fails_the_run_without_exiting_the_caller(local: Any) -> None:
    exit_with = rh.function(funcs.exit_with, system=local)
    with pytest.raises(rh.RemoteError) as info:
        exit_with(3)
    assert info.value.type_name == "builtins.SystemExit"
    assert info.value.message == "3"
    assert info.value.run_id.startswith("exit_with-")
    assert rh.function(funcs.add, system=local)(1, 1) == 2


def test_worker_that_dies_fails_the_run_and_the_next_call_works(local: Any) -> None:
    with pytest.raises(rh.WorkerDiedError) as info:
        rh.function(funcs.hard_exit, system=local)(3)
    assert info.value.run_id.startswith("hard_exit-")
    assert "worker process died" in str(info.value)
    assert rh.function(funcs.add, system=local)(2, 2) == 4


def test_timeout_stops_the_run_quickly_and_the_next_call_works(local: Any) -> None:
    sleep_then = rh.function(funcs.sleep_then, system=local)
    started = time.monotonic()
    with pytest.raises(rh.RunTimeoutError) as info:
        sleep_then(60, timeout=1)
    assert time.monotonic() - started < 15
    assert isinstance(info.value, TimeoutError)
    assert info.value.run_id.startswith("sleep_then-")
    assert "timed out after 1 s" in str(info.value)
    assert sleep_then(0, "done", timeout=30) == "done"


def test_function_timeout_applies_to_every_call(local: Any) -> None:
    sleep_then = rh.function(funcs.sleep_then, system=local, timeout=1)
    with pytest.raises(rh.RunTimeoutError):
        sleep_then(60)


# --- what cannot travel --------------------------------------------------------------------


def test_unpicklable_argument_is_refused_before_sending(local: Any) -> None:
    echo = rh.function(funcs.echo, system=local)
    with pytest.raises(ArgumentNotSerializableError) as info:
        echo(1, threading.Lock())
    assert info.value.argument == "#2 (lock)"
    with pytest.raises(ArgumentNotSerializableError) as info:
        echo(1, guard=threading.Lock())
    assert info.value.argument == "guard= (lock)"


def test_unpicklable_argument_is_refused_even_without_a_daemon(tmp_path: Path) -> None:
    # Refused before any I/O: this cluster has no daemon and must not get one.
    nowhere = rh.LocalCluster("nowhere", home=tmp_path / "home")
    with pytest.raises(ArgumentNotSerializableError):
        rh.function(funcs.echo, system=nowhere)(threading.Lock())
    assert nowhere.daemon.state() is None
    assert not (tmp_path / "home").exists()


def test_unpicklable_result_fails_the_run(local: Any) -> None:
    with pytest.raises(ResultNotSerializableError) as info:
        rh.function(funcs.make_unpicklable, system=local)()
    assert info.value.run_id.startswith("make_unpicklable-")
    assert "returned a lock that cannot be pickled" in str(info.value)


# --- entrypoints that do not resolve ------------------------------------------------------


def test_entrypoint_with_a_missing_module_is_not_found(local: Any) -> None:
    with pytest.raises(EntrypointNotFoundError) as info:
        rh.function("tests.fixtures.nothing_here:fn", system=local)()
    assert "no module named 'tests.fixtures.nothing_here'" in str(info.value)
    assert info.value.entrypoint == "tests.fixtures.nothing_here:fn"
    assert info.value.run_id


def test_entrypoint_with_a_missing_function_lists_the_module_functions(local: Any) -> None:
    with pytest.raises(EntrypointNotFoundError) as info:
        rh.function("tests.fixtures.funcs:ad", system=local)()
    assert info.value.entrypoint == "tests.fixtures.funcs:ad"
    message = str(info.value)
    assert "module 'tests.fixtures.funcs' has no attribute 'ad'" in message
    assert "add, " in message
    assert "sleep_then" in message


def test_module_that_raises_on_import_surfaces_that_exception(
    local: Any, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    path = write_module(
        project,
        "broken",
        """\
        def helper():
            raise RuntimeError("no config at import")

        helper()

        def fn():
            return "fixed"
        """,
    )
    fn = rh.function("broken:fn", system=local)
    with pytest.raises(RuntimeError) as info:
        fn()
    assert "no config at import" in str(info.value)
    remote_tb = info.value.remote_traceback  # type: ignore[attr-defined]
    assert 'broken.py", line 4' in remote_tb
    assert "in helper" in remote_tb
    path.write_text(path.read_text().replace("\nhelper()\n", "\n"))
    assert fn() == "fixed"


def test_module_missing_a_dependency_names_the_package_to_install_not_a_missing_entrypoint(
    local: Any, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A setup problem that rerunning cannot fix: a usage error (exit 2), as docs/cli.md says.
    monkeypatch.chdir(project)
    write_module(project, "needs_dep", "import not_installed_anywhere_xyz\n\ndef fn():\n    pass\n")
    with pytest.raises(EntrypointNotFoundError) as raised:
        rh.function("needs_dep:fn", system=local)()
    message = str(raised.value)
    assert "module 'needs_dep' imports 'not_installed_anywhere_xyz'" in message
    assert "needs_dep.py, line 1" in message and "rhcli install" in message
    assert "no module named 'needs_dep'" not in message
    assert raised.value.exit_code == 2


# --- resources and the daemon -------------------------------------------------------------


def test_resources_the_cluster_lacks_are_refused_at_once(local: Any) -> None:
    pid = rh.function(funcs.pid, system=local)
    warm = pid()
    gpu = rh.function(funcs.add, system=local, resources={"num_gpus": 1})
    started = time.monotonic()
    with pytest.raises(ResourcesUnavailableError, match="GPU=1"):
        gpu(1, 2)
    assert time.monotonic() - started < 5
    assert isinstance(ResourcesUnavailableError("x"), rh.UnreachableError)
    # Refusing it cost no warm worker.
    assert pid() == warm


def test_resources_the_cluster_lacks_are_refused_while_another_call_runs(local: Any) -> None:
    sleeper = threading.Thread(
        target=rh.function(funcs.sleep_then, system=local), args=(4,), daemon=True
    )
    sleeper.start()
    time.sleep(0.5)  # let it take its worker
    gpu = rh.function(funcs.add, system=local, resources={"num_gpus": 1})
    started = time.monotonic()
    try:
        with pytest.raises(ResourcesUnavailableError):
            gpu(1, 2)
        assert time.monotonic() - started < 2.5
    finally:
        sleeper.join(timeout=30)


def test_wrong_token_is_refused_with_auth_error(local: Any) -> None:
    state = local.daemon.state()
    client = DaemonClient(
        address=state.address,
        token="wrong",
        describe="the test daemon",
        restart_hint="Restart it.",
    )
    try:
        with pytest.raises(rh.AuthError, match="the test daemon refused the call"):
            client.health()
    finally:
        client.close()
    assert isinstance(rh.AuthError("x"), rh.UnreachableError)


def test_function_needs_something_to_run() -> None:
    with pytest.raises(UsageError, match=r"rh\.function needs fn"):
        rh.function()
