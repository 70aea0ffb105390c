"""The seed's default requirements: a repository with a requirements.txt, and no `reqs` in
its manifest, gets that file installed on the cluster before its functions run.

The requirements file names a tiny package that lives in the repository itself; the real
pip on the host builds and installs it into the cluster's virtualenv (the session's SSH
root, a fresh venv), and the function imports it there. It was never installed anywhere
else: the import can only work if the default did its job.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import run_cli
from tests.ssh.conftest import Box

PACKAGE = "rhcli_tinypkg_default_reqs"


def _repository(project: Path) -> None:
    package = project / "tinypkg"
    (package / PACKAGE).mkdir(parents=True)
    (package / PACKAGE / "__init__.py").write_text("GREETING = 'installed from requirements.txt'\n")
    (package / "pyproject.toml").write_text(
        "[build-system]\n"
        'requires = ["setuptools>=61"]\n'
        'build-backend = "setuptools.build_meta"\n\n'
        "[project]\n"
        f'name = "{PACKAGE}"\n'
        'version = "0.1.0"\n'
    )
    (project / "requirements.txt").write_text("./tinypkg\n")
    (project / "jobs.py").write_text(
        f"def greet():\n    import {PACKAGE}\n    return {PACKAGE}.GREETING, {PACKAGE}.__file__\n"
    )


def test_a_repos_requirements_txt_is_installed_on_the_cluster_when_the_manifest_has_no_reqs(
    box: Box, git_project: Path
) -> None:
    _repository(git_project)
    manifest = box.manifest(git_project)
    manifest.write_text(manifest.read_text() + "functions:\n  greet: {entrypoint: 'jobs:greet'}\n")
    assert "reqs" not in manifest.read_text()
    # Not importable here, nor in the host's venv before the call: only the default can
    # have put it there.
    here = subprocess.run([sys.executable, "-c", f"import {PACKAGE}"], capture_output=True)
    assert here.returncode != 0
    venv_python = str(box.root / "venv" / "bin" / "python")
    before = subprocess.run([venv_python, "-c", f"import {PACKAGE}"], capture_output=True)
    assert before.returncode != 0

    done = run_cli("--json", "run", "greet", cwd=git_project, timeout=600)
    assert done.returncode == 0, done.stderr
    assert '"installed from requirements.txt"' in done.stdout
    assert str(box.root / "venv") in done.stdout  # imported from the cluster's venv
    assert "tinypkg" in done.stderr  # pip's output streamed while it installed

    again = run_cli("run", "greet", cwd=git_project)  # installed once: skipped now
    assert again.returncode == 0, again.stderr
    assert "Successfully installed" not in again.stderr
