"""How a function travels: by reference when the cluster can import it, else by value."""

from __future__ import annotations

import functools
import pickle
import posixpath
import sys
import types
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from rhcli.errors import UsageError
from rhcli.function_ref import from_callable, from_entrypoint, git_root, project_root
from tests.fixtures import funcs

REPO = Path(__file__).resolve().parents[2]


def _shadowed() -> str:
    return "first"


_first_shadowed = _shadowed


def _shadowed() -> str:
    return "second"


def _logged(fn: Callable[[int], int]) -> Callable[[int], int]:
    @functools.wraps(fn)
    def wrapper(x: int) -> int:
        return fn(x)

    return wrapper


@_logged
def decorated(x: int) -> int:
    return x + 1


# --- from_callable: by reference ---------------------------------------------------------


def test_module_function_travels_by_reference() -> None:
    source = from_callable(funcs.add)
    assert source.entrypoint == "tests.fixtures.funcs:add"
    assert not source.by_value
    assert source.pickled == b""
    assert source.local_root == REPO
    assert source.name == "add"


def test_name_overrides_the_display_name_only() -> None:
    source = from_callable(funcs.add, name="plus")
    assert source.name == "plus"
    assert source.entrypoint == "tests.fixtures.funcs:add"


def test_installed_package_function_keeps_the_project_as_code_root(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    source = from_callable(yaml.safe_load)
    assert source.entrypoint == "yaml:safe_load"
    assert source.local_root == project.resolve()


def test_stdlib_function_keeps_the_project_as_code_root(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The standard library is on every cluster: its folder is not code to sync there.
    monkeypatch.chdir(project)
    source = from_callable(posixpath.join)
    assert source.entrypoint == "posixpath:join"
    assert source.local_root == project.resolve()


def test_function_of_a_package_init_gets_the_folder_above_the_package(tmp_path: Path) -> None:
    package = tmp_path / "root" / "pkg_fr_init"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("def hello():\n    return 'hi'\n")
    sys.path.insert(0, str(tmp_path / "root"))
    try:
        import pkg_fr_init  # type: ignore[import-not-found]

        source = from_callable(pkg_fr_init.hello)
    finally:
        sys.path.remove(str(tmp_path / "root"))
        sys.modules.pop("pkg_fr_init", None)
    assert source.entrypoint == "pkg_fr_init:hello"
    assert source.local_root == (tmp_path / "root").resolve()


# --- from_callable: the __main__ script ----------------------------------------------------


def _fake_main(monkeypatch: pytest.MonkeyPatch, file: Path) -> types.FunctionType:
    """Install a __main__ module loaded from file that defines `job`; return job."""
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text("def job():\n    return 1\n")
    module = types.ModuleType("__main__")
    module.__file__ = str(file)
    exec(compile(file.read_text(), str(file), "exec"), module.__dict__)
    monkeypatch.setitem(sys.modules, "__main__", module)
    job: types.FunctionType = module.job
    assert job.__module__ == "__main__"
    return job


def test_main_script_function_resolves_to_its_module_path_in_the_repo(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _fake_main(monkeypatch, project / "jobs" / "train.py")
    source = from_callable(job)
    assert source.entrypoint == "jobs.train:job"
    assert source.local_root == project.resolve()
    assert not source.by_value


def test_main_script_outside_a_repo_resolves_to_its_own_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _fake_main(monkeypatch, tmp_path / "loose" / "train.py")
    source = from_callable(job)
    assert source.entrypoint == "train:job"
    assert source.local_root == (tmp_path / "loose").resolve()


def test_main_script_in_a_non_identifier_folder_resolves_to_its_own_folder(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _fake_main(monkeypatch, project / "my-scripts" / "train.py")
    source = from_callable(job)
    assert source.entrypoint == "train:job"
    assert source.local_root == (project / "my-scripts").resolve()


def test_main_script_with_a_non_identifier_name_travels_by_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _fake_main(monkeypatch, tmp_path / "my-job.py")
    source = from_callable(job)
    assert source.by_value
    assert source.entrypoint == ""


# --- from_callable: by value ---------------------------------------------------------------


def test_lambda_travels_by_value_and_unpickles_to_a_working_function() -> None:
    source = from_callable(lambda x: x * 3)
    assert source.by_value
    assert source.entrypoint == ""
    assert source.name == "lambda"
    assert pickle.loads(source.pickled)(5) == 15


def test_closure_travels_by_value_with_its_captured_values() -> None:
    offset = 10

    def shifted(x: int) -> int:
        return x + offset

    source = from_callable(shifted)
    assert source.by_value
    assert source.name == "shifted"
    assert pickle.loads(source.pickled)(1) == 11


def test_function_no_longer_reachable_by_its_name_travels_by_value() -> None:
    # Importing the module on the cluster would give the other function of that name.
    source = from_callable(_first_shadowed)
    assert source.by_value
    assert pickle.loads(source.pickled)() == "first"


def test_decorated_module_function_travels_by_reference() -> None:
    source = from_callable(decorated)
    assert source.entrypoint == f"{__name__}:decorated"
    assert not source.by_value


def test_function_of_a_module_without_a_file_travels_by_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = types.ModuleType("notebook_like_fr")
    exec("def cell(x):\n    return x - 1\n", module.__dict__)
    monkeypatch.setitem(sys.modules, "notebook_like_fr", module)
    source = from_callable(module.cell)
    assert source.by_value
    assert pickle.loads(source.pickled)(3) == 2


# --- from_entrypoint -----------------------------------------------------------------------


def test_entrypoint_keeps_module_and_qualname() -> None:
    source = from_entrypoint("models.sd:Pipeline.generate", root=Path("/code"))
    assert source.entrypoint == "models.sd:Pipeline.generate"
    assert source.name == "Pipeline.generate"
    assert source.local_root == Path("/code")
    assert not source.by_value


def test_entrypoint_name_can_be_given() -> None:
    assert from_entrypoint("models.sd:generate", name="gen").name == "gen"


def test_entrypoint_root_defaults_to_the_git_root_of_cwd(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(project / "a" / "b")
    assert from_entrypoint("mod:fn").local_root == project.resolve()


@pytest.mark.parametrize(
    "entrypoint",
    ["models.sd", "models.sd:", ":generate", "models-sd:generate", "mod:fn()", "mod:a:b", ""],
)
def test_malformed_entrypoint_is_a_usage_error(entrypoint: str) -> None:
    with pytest.raises(UsageError, match="module:function"):
        from_entrypoint(entrypoint)


# --- git_root and project_root -------------------------------------------------------------


def test_git_root_is_the_nearest_folder_holding_git(project: Path) -> None:
    nested = project / "src" / "pkg"
    nested.mkdir(parents=True)
    assert git_root(nested) == project.resolve()
    assert git_root(project) == project.resolve()


def test_git_root_accepts_a_git_file_as_in_worktrees_and_submodules(tmp_path: Path) -> None:
    (tmp_path / "wt").mkdir()
    (tmp_path / "wt" / ".git").write_text("gitdir: /elsewhere/.git/worktrees/wt\n")
    assert git_root(tmp_path / "wt") == (tmp_path / "wt").resolve()


def test_git_root_is_none_outside_a_repo(tmp_path: Path) -> None:
    assert git_root(tmp_path) is None


def test_project_root_is_cwd_outside_a_repo(tmp_path: Path) -> None:
    assert project_root(tmp_path) == tmp_path.resolve()


def test_project_root_is_the_repo_root_inside_a_repo(project: Path) -> None:
    (project / "sub").mkdir()
    assert project_root(project / "sub") == project.resolve()
