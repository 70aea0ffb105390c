"""Shell completion through a real bash: the script `rhcli completion bash` prints, sourced,
completes commands, options, function and cluster names from the manifest, and run ids."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli

BIN = Path(sys.executable).parent
MANIFEST = """\
default_cluster: local
clusters:
  local: {type: local}
  box: {type: ssh, host: 10.0.0.5, user: ubuntu}
functions:
  greet: {entrypoint: 'jobs:greet'}
  grow: {entrypoint: 'jobs:grow'}
"""


def complete(line: str, cwd: Path, tmp_path: Path, env: dict[str, str] | None = None) -> list[str]:
    """What TAB offers at the end of `line` in a bash that sourced rhcli's script."""
    script = tmp_path / "rhcli-completion.bash"
    script.write_text(run_cli("completion", "bash").stdout)
    words = line.split(" ")
    program = (
        f"source {script}\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        "_rhcli_completion rhcli\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        cwd=cwd,
        env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [word for word in done.stdout.splitlines() if word]


@pytest.fixture
def manifest_project(project: Path) -> Path:
    (project / "runhouse.yaml").write_text(MANIFEST)
    return project


def test_commands_and_options_complete(tmp_path: Path) -> None:
    assert complete("rhcli ru", tmp_path, tmp_path) == ["run", "runs"]
    assert complete("rhcli logs --ti", tmp_path, tmp_path) == ["--timestamps"]
    assert complete("rhcli completion ", tmp_path, tmp_path) == ["bash", "zsh", "fish"]


def test_function_and_cluster_names_complete_from_the_manifest(
    manifest_project: Path, tmp_path: Path
) -> None:
    assert complete("rhcli run gr", manifest_project, tmp_path) == ["greet", "grow"]
    assert complete("rhcli up ", manifest_project, tmp_path) == ["box", "local"]
    assert complete("rhcli -c b", manifest_project, tmp_path) == ["box"]
    assert complete("rhcli runs --status f", manifest_project, tmp_path) == ["failed"]


def test_run_ids_complete_from_the_running_daemon(local: Any, tmp_path: Path) -> None:
    done = run_cli("run", "--detach", "tests.fixtures.funcs:add", "1", "2")
    run_id = done.stdout.strip()
    offered = complete("rhcli get ", tmp_path, tmp_path)
    assert offered[0] == "last" and run_id in offered
    assert complete(f"rhcli logs {run_id[:-4]}", tmp_path, tmp_path) == [run_id]


def test_run_ids_offer_only_last_when_no_daemon_runs_and_start_none(tmp_path: Path) -> None:
    root = tmp_path / "root"
    offered = complete("rhcli cancel ", tmp_path, tmp_path, env={"RHCLI_HOME": str(root)})
    assert offered == ["last"]
    assert not (root / "daemon.json").exists()


def test_zsh_and_fish_scripts_are_printed_and_other_shells_refused() -> None:
    assert "compdef _rhcli_completion rhcli" in run_cli("completion", "zsh").stdout
    assert "complete --command rhcli" in run_cli("completion", "fish").stdout
    done = run_cli("completion", "tcsh")
    assert done.returncode == 2
    assert "no completion for shell 'tcsh'" in done.stderr
