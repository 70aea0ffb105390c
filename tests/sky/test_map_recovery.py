"""A map that outlives its sky cluster, SkyPilot replaced at its one boundary by the test
launcher: in the middle of `fn.map(..., recover=N)` the "VM" is lost as a spot VM is
(its processes killed, its sshd gone, its disk wiped, SkyPilot's record no longer UP);
the map relaunches it through the launcher, which provides a fresh host, and resumes
there from the client's journal. Everything after the launch runs for real."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import rhcli as rh
from rhcli.errors import MapIncompleteError
from rhcli.map_journal import MapJournal
from tests.conftest import processes_of_root
from tests.fixtures import batch
from tests.sky.conftest import SkyBox, seed_root
from tests.sky.launcher import LoopbackLauncher
from tests.sky.test_ondemand import _fresh
from tests.support.sshd import start_sshd

ITEMS = 60


def _lose_the_vm(skybox: SkyBox) -> None:
    """What a preempted spot VM leaves: nothing. Its processes are frozen first, so that
    the client notices nothing until the new state is complete: its disk is gone (the
    root is wiped and seeded afresh, as a new VM's image would be), SkyPilot's record is
    no longer UP, and the next launch "provisions" a new sshd (new port, new host key).
    Then the old daemon, Ray and keep-alive die (kill -9) and the old sshd goes with its
    SSH sessions."""
    doomed = processes_of_root(skybox.root)
    for pid in doomed:
        os.kill(pid, signal.SIGSTOP)
    shutil.rmtree(skybox.root)
    seed_root(skybox.root)
    old_host = skybox.host
    skybox.host = start_sshd(skybox.directory / f"sshd-{time.monotonic_ns()}")
    (skybox.directory / "host.json").write_text(
        json.dumps({"port": skybox.host.port, "key": str(skybox.host.user_key)})
    )
    LoopbackLauncher(cluster="sky1", state_dir=skybox.directory).stop("sky1")
    for pid in doomed:
        os.kill(pid, signal.SIGKILL)
    old_host.stop()


def _results_received(fn: Any, *, at_least: int) -> MapJournal:
    """The map's journal once it holds at least that many results (the client has them)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        journal = MapJournal.open(fn.last_map_id, writable=False) if fn.last_map_id else None
        if journal is not None and journal.held >= at_least:
            return journal
        time.sleep(0.05)
    raise AssertionError(f"the map never received {at_least} results")


def test_a_map_with_recover_relaunches_a_lost_cluster_and_resumes_with_every_result_once(
    skybox: SkyBox,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # the code root: this repo
    cluster = _fresh(skybox)
    fn = rh.function(batch.record, system=cluster, reqs=[])
    log = tmp_path / "log"
    assert fn(0, str(tmp_path / "warm")) == 0  # launched (or found up), daemon started
    launches = skybox.launcher_state()["sky1"]["launches"]
    kept_at_loss: set[int] = set()

    def lose_midway() -> None:
        journal = _results_received(fn, at_least=8)
        kept_at_loss.update(i for i in range(ITEMS) if journal.has(i))
        _lose_the_vm(skybox)

    loser = threading.Thread(target=lose_midway, daemon=True)
    loser.start()
    try:
        results = fn.map(range(ITEMS), log=str(log), seconds=0.1, recover=2)
    finally:
        loser.join(60)

    assert results == [2 * i for i in range(ITEMS)]
    assert skybox.launcher_state()["sky1"]["launches"] == launches + 1
    said = capfd.readouterr().err
    assert f"sky1: lost during map {fn.last_map_id}" in said and "recovery 1 of 2" in said
    ran = batch.executions(str(log))
    assert sorted(ran) == list(range(ITEMS))
    assert kept_at_loss and all(ran[i] == 1 for i in kept_at_loss)  # never run again
    # The new VM ran only the rest; the whole map's results still come back by its id.
    assert rh.get(fn.last_map_id, cluster=cluster) == results
    (record,) = [r for r in rh.runs(cluster=cluster, limit=5) if r.run_id == fn.last_map_id]
    assert (record.status, record.attempts) == ("succeeded", 2)

    cluster.down()  # the package's other tests start from no cluster, as they would alone


def test_a_map_without_recover_fails_loudly_when_its_cluster_is_lost(
    skybox: SkyBox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    cluster = _fresh(skybox)
    fn = rh.function(batch.record, system=cluster, reqs=[])
    log = tmp_path / "log"
    assert fn(0, str(tmp_path / "warm")) == 0

    def lose_midway() -> None:
        _results_received(fn, at_least=8)
        _lose_the_vm(skybox)

    loser = threading.Thread(target=lose_midway, daemon=True)
    loser.start()
    try:
        with pytest.raises(MapIncompleteError) as caught:
            fn.map(range(ITEMS), log=str(log), seconds=0.1)
    finally:
        loser.join(60)

    assert caught.value.cluster_lost and caught.value.map_id == fn.last_map_id
    assert 0 < caught.value.missing < ITEMS
    _fresh(skybox).down()
