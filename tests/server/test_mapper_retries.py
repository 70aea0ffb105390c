"""Map retries through the session's real daemon: a chunk whose worker died is run again
on a new worker, a bounded number of times (the daemon's --map-retries, default 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

import rhcli as rh
from rhcli.errors import WorkerDiedError
from rhcli.server.mapper import DEFAULT_RETRIES
from tests.fixtures import funcs


def test_an_item_whose_worker_died_is_run_again_and_succeeds(local, tmp_path: Path) -> None:
    die_once = rh.function(funcs.die_once, system=local)
    marker = tmp_path / "died"
    assert die_once.map([str(marker)], value=[7]) == [7]
    assert marker.exists()  # the first attempt did die


def test_an_item_that_kills_every_worker_fails_after_the_bounded_retries(local) -> None:
    hard_exit = rh.function(funcs.hard_exit, system=local)
    [error] = hard_exit.map([5], return_exceptions=True)
    assert isinstance(error, WorkerDiedError)
    assert f"after {DEFAULT_RETRIES + 1} attempts" in str(error)


def test_an_item_that_raises_is_never_retried(local, tmp_path: Path) -> None:
    raises = rh.function(funcs.die_once, system=local)
    with pytest.raises(TypeError):
        raises.map([str(tmp_path / "m")])  # a missing argument: raised, not a death
