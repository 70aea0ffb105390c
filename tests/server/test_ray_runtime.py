"""The daemon's Ray around its starts. sweep_leftovers: what a killed daemon's Ray left
behind is found and stopped, and nothing else is touched (stand-in processes, sleep, play
the leftovers). prune_sessions: a root's old Ray session folders do not pile up in /tmp.
No Ray is started here."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rhcli.config.root_processes import OWNER_ENV, sweep_leftovers
from rhcli.server.ray_runtime import prune_sessions

Spawn = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Starts a `sleep` under bash: renamed (argv[0]), with a file held open as fd 3, with the
    environment given; every process it started is killed afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def start(
        *,
        name: str = "sleep",
        holds: Path | None = None,
        reads: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        redirect = f'exec 3>>"{holds}"; ' if holds is not None else ""
        if reads is not None:
            redirect += f'exec 4<"{reads}"; '

        proc = subprocess.Popen(
            ["/bin/bash", "-c", f'{redirect}exec -a "{name}" sleep 300'],
            env={"PATH": os.environ["PATH"], **(env or {})},
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _ready(proc: subprocess.Popen[bytes], name: str) -> None:
    """Waits until bash has exec'd into the named sleep."""
    for _ in range(200):
        try:
            if Path(f"/proc/{proc.pid}/cmdline").read_bytes().startswith(name.encode()):
                return
        except OSError:
            pass
        time.sleep(0.01)
    raise AssertionError(f"{name} did not start")


def _killed(proc: subprocess.Popen[bytes]) -> bool:
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == -9


@pytest.fixture
def marker() -> str:
    return secrets.token_hex(8)


def test_a_process_carrying_the_owner_marker_is_stopped(spawn: Spawn, marker: str) -> None:
    proc = spawn(env={OWNER_ENV: marker})
    _ready(proc, "sleep")
    assert sweep_leftovers(marker) == 1
    assert _killed(proc)


def test_a_process_of_another_owner_is_spared(spawn: Spawn, marker: str) -> None:
    proc = spawn(env={OWNER_ENV: secrets.token_hex(8)})
    _ready(proc, "sleep")
    assert sweep_leftovers(marker) == 0
    assert proc.poll() is None


def test_a_renamed_ray_process_holding_a_file_in_the_ray_dir_is_stopped_without_the_marker(
    spawn: Spawn, marker: str, tmp_path: Path
) -> None:
    # Ray's agents rename themselves over the memory /proc/PID/environ reads: no marker left.
    log = tmp_path / "ray" / "session_1" / "logs" / "dashboard_agent.out"
    log.parent.mkdir(parents=True)
    proc = spawn(name="ray::DashboardAgent", holds=log)
    _ready(proc, "ray::DashboardAgent")
    assert sweep_leftovers(marker, temp_dir=tmp_path / "ray") == 1
    assert _killed(proc)


def test_a_renamed_ray_process_of_another_ray_dir_is_spared(
    spawn: Spawn, marker: str, tmp_path: Path
) -> None:
    (tmp_path / "other").mkdir()
    proc = spawn(name="ray::DashboardAgent", holds=tmp_path / "other" / "agent.out")
    _ready(proc, "ray::DashboardAgent")
    (tmp_path / "ray").mkdir()
    assert sweep_leftovers(marker, temp_dir=tmp_path / "ray") == 0
    assert proc.poll() is None


def test_a_process_only_reading_a_file_in_the_ray_dir_is_spared(
    spawn: Spawn, marker: str, tmp_path: Path
) -> None:
    # Someone tailing a Ray log is not a leftover: only writers there are Ray's.
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "raylet.out").write_text("log\n")
    proc = spawn(name="tail", reads=tmp_path / "ray" / "raylet.out")
    _ready(proc, "tail")
    assert sweep_leftovers(marker, temp_dir=tmp_path / "ray") == 0
    assert proc.poll() is None


def _session(temp_dir: Path, name: str, age_s: float) -> Path:
    folder = temp_dir / f"session_2026-12-03_{name}"
    (folder / "logs").mkdir(parents=True)
    (folder / "logs" / "raylet.out").write_text("log\n")
    stamp = time.time() - age_s
    os.utime(folder, (stamp, stamp))
    return folder


def test_a_new_private_ray_keeps_only_the_newest_old_session_of_its_root(tmp_path: Path) -> None:
    oldest = _session(tmp_path, "a", age_s=300)
    older = _session(tmp_path, "b", age_s=200)
    newest = _session(tmp_path, "c", age_s=100)
    (tmp_path / "session_latest").symlink_to(newest)
    (tmp_path / "not-a-session").mkdir()

    assert prune_sessions(tmp_path) == [oldest, older]

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "not-a-session",
        newest.name,
        "session_latest",
    ]
    assert (newest / "logs" / "raylet.out").read_text() == "log\n"


def test_pruning_an_empty_or_fresh_ray_dir_removes_nothing(tmp_path: Path) -> None:
    assert prune_sessions(tmp_path) == []
    only = _session(tmp_path, "a", age_s=10)
    assert prune_sessions(tmp_path) == []
    assert only.is_dir()
