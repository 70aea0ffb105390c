"""Requirements: how a set is planned and fingerprinted, when pip is skipped, and a real
install through a real daemon's InstallReqs (the session's daemon, real pip)."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

import rhcli as rh
from rhcli.protocol import daemon_pb2 as pb
from rhcli.server.reqs import InstallResult, ReqsInstaller, plan, satisfied
from tests.fixtures import funcs

# --- plan -----------------------------------------------------------------------------


def test_plain_specs_go_to_pip_as_they_are(tmp_path: Path) -> None:
    the_plan = plan(["requests>=2", "numpy"], tmp_path)
    assert the_plan.pip_args == ("requests>=2", "numpy")
    assert the_plan.plain_specs == ("requests>=2", "numpy")


def test_an_empty_set_plans_nothing(tmp_path: Path) -> None:
    the_plan = plan([], tmp_path)
    assert the_plan.pip_args == ()
    assert the_plan.plain_specs == ()


def test_a_requirements_file_is_passed_with_dash_r_and_its_specs_are_read(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("# pinned\nrequests>=2  # http\n\nnumpy\n")
    the_plan = plan(["requirements.txt"], tmp_path)
    assert the_plan.pip_args == ("-r", str(tmp_path / "requirements.txt"))
    assert the_plan.plain_specs == ("requests>=2", "numpy")


def test_a_requirements_file_in_a_subfolder_is_found_under_the_code_root(tmp_path: Path) -> None:
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "reqs.txt").write_text("numpy\n")
    assert plan(["env/reqs.txt"], tmp_path).pip_args == ("-r", str(tmp_path / "env" / "reqs.txt"))


@pytest.mark.parametrize(
    "line",
    ["-e ./lib", "--index-url https://example.invalid/simple", "https://x.invalid/p.whl", "./lib"],
)
def test_a_requirements_file_with_options_urls_or_paths_is_not_plain(
    tmp_path: Path, line: str
) -> None:
    (tmp_path / "requirements.txt").write_text(f"numpy\n{line}\n")
    assert plan(["requirements.txt"], tmp_path).plain_specs is None


@pytest.mark.parametrize("entry", ["./", ".", "libs/mylib", "{root}/libs/mylib"])
def test_a_local_path_is_installed_editable(tmp_path: Path, entry: str) -> None:
    (tmp_path / "libs" / "mylib").mkdir(parents=True)
    the_plan = plan([entry.format(root=tmp_path)], tmp_path)
    expected = tmp_path if entry in ("./", ".") else tmp_path / "libs" / "mylib"
    assert the_plan.pip_args == ("-e", str(expected))
    assert the_plan.plain_specs is None


def test_a_bare_name_is_a_pip_spec_even_when_a_folder_has_that_name(tmp_path: Path) -> None:
    (tmp_path / "mylib").mkdir()
    assert plan(["mylib"], tmp_path).pip_args == ("mylib",)


def test_a_mixed_set_keeps_its_order(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("numpy\n")
    (tmp_path / "lib").mkdir()
    the_plan = plan(["requirements.txt", "./lib", "torch"], tmp_path)
    assert the_plan.pip_args == (
        "-r",
        str(tmp_path / "requirements.txt"),
        "-e",
        str(tmp_path / "lib"),
        "torch",
    )
    assert the_plan.plain_specs is None


def test_the_fingerprint_is_stable_for_the_same_set(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("numpy\n")
    assert plan(["requirements.txt", "torch"], tmp_path) == plan(
        ["requirements.txt", "torch"], tmp_path
    )


def test_the_fingerprint_changes_when_a_spec_changes(tmp_path: Path) -> None:
    assert plan(["numpy"], tmp_path).fingerprint != plan(["numpy<2"], tmp_path).fingerprint


def test_the_fingerprint_changes_when_a_requirements_file_changes(tmp_path: Path) -> None:
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("numpy\n")
    before = plan(["requirements.txt"], tmp_path).fingerprint
    reqs.write_text("numpy\npandas\n")
    assert plan(["requirements.txt"], tmp_path).fingerprint != before


def test_the_fingerprint_changes_when_a_local_package_build_file_changes(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "pyproject.toml").write_text('[project]\nname = "lib"\ndependencies = []\n')
    before = plan(["./lib"], tmp_path).fingerprint
    (lib / "lib.py").write_text("x = 1\n")  # code is editable: no reinstall needed
    assert plan(["./lib"], tmp_path).fingerprint == before
    (lib / "pyproject.toml").write_text('[project]\nname = "lib"\ndependencies = ["numpy"]\n')
    assert plan(["./lib"], tmp_path).fingerprint != before


def test_a_spec_and_a_file_of_that_spec_have_different_fingerprints(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("numpy\n")
    assert plan(["requirements.txt"], tmp_path).fingerprint != plan(["numpy"], tmp_path).fingerprint


# --- satisfied --------------------------------------------------------------------------


def test_installed_distributions_satisfy_their_specs() -> None:
    installed = metadata.version("packaging")
    assert satisfied(("packaging", f"packaging=={installed}", "grpcio>=1"))


def test_no_specs_are_satisfied() -> None:
    assert satisfied(())


@pytest.mark.parametrize(
    "spec",
    [
        "rhcli-no-such-distribution",
        "packaging<1",
        "not a valid spec!!",
        "packaging @ https://example.invalid/packaging.whl",
    ],
)
def test_missing_wrong_version_invalid_or_url_specs_are_not_satisfied(spec: str) -> None:
    assert not satisfied(("packaging", spec))


def test_a_spec_whose_marker_does_not_apply_is_satisfied() -> None:
    assert satisfied(('rhcli-no-such-distribution; python_version < "3"',))


def test_an_extra_is_satisfied_only_when_what_it_requires_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A distribution installed without its extras, as ray is without ray[serve]: the
    # extra's own requirements decide, not the distribution being there.
    info = tmp_path / "rhcli_fake_dist-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: rhcli-fake-dist\nVersion: 1.0\n"
        'Requires-Dist: packaging; extra == "present"\n'
        'Requires-Dist: rhcli-no-such-distribution; extra == "absent"\n'
        'Requires-Dist: rhcli-no-such-distribution; python_version < "3"\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert satisfied(("rhcli-fake-dist",))
    assert satisfied(("rhcli-fake-dist[present]==1.0",))
    assert not satisfied(("rhcli-fake-dist[absent]",))
    assert not satisfied(("rhcli-fake-dist[present,absent]",))


# --- the installer without pip ----------------------------------------------------------


def _results(items: Iterator[str | InstallResult]) -> tuple[list[str], InstallResult]:
    lines: list[str] = []
    for item in items:
        if isinstance(item, InstallResult):
            return lines, item
        lines.append(item)
    raise AssertionError("the installer ended without a result")


def test_an_empty_set_is_skipped(tmp_path: Path) -> None:
    lines, result = _results(ReqsInstaller(tmp_path / "done").install([], tmp_path))
    assert lines == [] and result.ok and result.skipped


def test_a_satisfied_set_is_skipped_without_pip(tmp_path: Path) -> None:
    # A python that does not exist: running pip would fail the install.
    installer = ReqsInstaller(tmp_path / "done", python=str(tmp_path / "no-python"))
    lines, result = _results(installer.install(["packaging", "grpcio>=1"], tmp_path))
    assert lines == []
    assert result.ok and result.skipped
    assert (tmp_path / "done" / result.fingerprint).exists()


# --- a real install through the daemon --------------------------------------------------


@pytest.fixture
def tiny_package(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local package with a unique name; uninstalled again afterwards."""
    name = f"rhcli_testpkg_{uuid.uuid4().hex[:10]}"
    root = tmp_path / name
    (root / name).mkdir(parents=True)
    (root / name / "__init__.py").write_text("VALUE = 42\n")
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64"]\n'
        'build-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{name}"\nversion = "0.1.0"\n'
    )
    yield name, root
    subprocess.run(
        [sys.executable, "-m", "pip", "uninstall", "-y", "-q", name],
        capture_output=True,
        check=False,
    )


def _install(
    local: rh.Cluster, reqs: list[str], code_root: Path
) -> tuple[list[str], pb.InstallDone]:
    """pip's lines, and the done event that ends the stream."""
    lines: list[str] = []
    for event in local.client().install_reqs(reqs, str(code_root)):
        if event.WhichOneof("event") == "done":
            return lines, event.done
        lines.append(event.line)
    raise AssertionError("InstallReqs ended without a done event")


def test_a_local_package_is_installed_once_then_skipped(
    local: rh.Cluster, tiny_package: tuple[str, Path], tmp_path: Path
) -> None:
    name, root = tiny_package
    arrivals: list[float] = []
    lines: list[str] = []
    done = None
    for event in local.client().install_reqs([str(root)], str(tmp_path)):
        arrivals.append(time.monotonic())
        if event.WhichOneof("event") == "done":
            done = event.done
            break
        lines.append(event.line)

    assert done is not None
    assert done.ok and not done.skipped, "\n".join(lines)
    assert done.fingerprint
    assert any(f"Successfully installed {name}" in line for line in lines), "\n".join(lines)
    # Streamed while pip ran, not handed over at the end: pip builds for seconds.
    assert arrivals[-1] - arrivals[0] > 0.5
    assert metadata.version(name) == "0.1.0"
    # The daemon's workers see the new package.
    assert rh.function(funcs.dist_version, system=local)(name) == "0.1.0"

    again_lines, again = _install(local, [str(root)], tmp_path)
    assert again_lines == []
    assert again.ok and again.skipped
    assert again.fingerprint == done.fingerprint


def test_a_requirement_that_cannot_be_found_fails_with_pips_error(
    local: rh.Cluster, tmp_path: Path
) -> None:
    missing = f"rhcli-no-such-package-{uuid.uuid4().hex[:10]}"
    lines, done = _install(local, [missing], tmp_path)
    assert not done.ok and not done.skipped
    assert "pip install exited with status 1" in done.reason
    assert any(
        line.startswith("ERROR:") and "No matching distribution found" in line and missing in line
        for line in lines
    ), "\n".join(lines)

    # A failed set is not remembered as done: the next try runs pip again.
    again_lines, again = _install(local, [missing], tmp_path)
    assert not again.ok and again_lines
