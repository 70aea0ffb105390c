"""Large results on disk are not fsynced, so a power loss may leave a run's row pointing
at a result file that is missing, empty or cut short. Every read through the daemon must
then fail loudly for that run (ResultLostError, exit 1), never hand back a value.

The power loss is stood in for by cutting the file after the run ended (the daemon holds
no copy once the run is over: every later read goes to the file).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import rhcli as rh
from rhcli.errors import ResultLostError
from rhcli.protocol.wire import INLINE_REPLY_LIMIT
from tests.conftest import run_cli
from tests.fixtures import funcs

# 1 MB is read back inline (Wait reads the file); 5 MB is streamed by ReadResult.
SIZES = {"inline": 1024 * 1024, "streamed": INLINE_REPLY_LIMIT + 1024 * 1024}
CUTS = {"empty": lambda size: 0, "truncated": lambda size: size // 2, "missing": None}


def _ended_with_a_result_file(local: Any, size: int) -> tuple[str, Path]:
    ref = rh.function(funcs.make_bytes, system=local).remote(size)
    assert len(rh.get(ref)) == size  # whole while the file is
    run_id = str(ref)
    path = local.daemon.paths.runs_dir / run_id / "result.pkl"
    assert path.stat().st_size > size
    return run_id, path


def _cut(path: Path, cut: str) -> None:
    keep = CUTS[cut]
    if keep is None:
        path.unlink()
        return
    with open(path, "r+b") as f:
        f.truncate(keep(path.stat().st_size))


@pytest.mark.parametrize("cut", sorted(CUTS))
@pytest.mark.parametrize("how", sorted(SIZES))
def test_a_cut_result_file_is_a_result_lost_error_never_a_value(
    local: Any, how: str, cut: str
) -> None:
    run_id, path = _ended_with_a_result_file(local, SIZES[how])
    _cut(path, cut)

    with pytest.raises(ResultLostError, match=f"run {run_id} succeeded but its result was lost"):
        rh.get(run_id, cluster=local)
    try:
        rh.get(run_id, cluster=local)
    except ResultLostError as exc:
        assert exc.run_id == run_id
        assert str(path) in str(exc)


def test_rhcli_get_of_a_lost_result_exits_1_and_names_the_run(local: Any) -> None:
    run_id, path = _ended_with_a_result_file(local, SIZES["inline"])
    _cut(path, "truncated")

    done = run_cli("--json", "get", run_id)
    assert done.returncode == 1, done.stderr
    error = json.loads(done.stdout)["error"]  # the error document, and no result
    assert error["type"] == "rhcli.errors.ResultLostError" and error["exit_code"] == 1
    assert f"run {run_id} succeeded but its result was lost" in error["message"]
