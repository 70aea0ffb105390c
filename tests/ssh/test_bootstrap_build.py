"""The build id of the shipped tree: the archive's hash, kept while the tree's files keep
their names, sizes and mtimes (an unchanged `up` stats the files instead of hashing
them). No sshd needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rhcli.transport import bootstrap


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RHCLI_HOME", str(tmp_path / "home"))
    bootstrap._tree.cache_clear()
    return tmp_path / "home"


def test_the_build_id_is_the_archives_and_is_kept_with_a_stamp(home: Path) -> None:
    build = bootstrap.build_id()
    assert build == bootstrap.package_archive()[1]
    kept = json.loads((home / "cache" / "build.json").read_text())
    assert kept["build"] == build
    assert len(kept["stamp"]) == len(bootstrap._shipped_files())
    bootstrap._tree.cache_clear()
    assert bootstrap.build_id() == build


def test_a_kept_build_id_whose_stamp_differs_is_computed_anew(home: Path) -> None:
    build = bootstrap.build_id()
    cache = home / "cache" / "build.json"
    kept = json.loads(cache.read_text())
    kept["stamp"][0][2] += 1  # as if a file had been edited since
    kept["build"] = "0.0.0-stale"
    cache.write_text(json.dumps(kept))
    bootstrap._tree.cache_clear()
    assert bootstrap.build_id() == build
    assert json.loads(cache.read_text())["build"] == build


def test_an_unwritable_cache_only_costs_the_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "home"
    blocked.mkdir()
    (blocked / "cache").write_text("a file where the folder would be")
    monkeypatch.setenv("RHCLI_HOME", str(blocked))
    assert bootstrap.build_id() == bootstrap.package_archive()[1]
