"""Loaded manifests are kept while their file is unchanged (rhcli.config.manifest_cache):
the same records without reading YAML; an edit is read again; an error never cached."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from rhcli.config import manifest_cache
from rhcli.config.manifest import load_manifest
from rhcli.errors import ManifestError

MANIFEST = """\
default_cluster: box
clusters:
  box: {type: ssh, host: 10.0.0.5, user: ubuntu, port: 2222, home: /data/rh}
  gpu: {type: sky, instance_type: "A10G:1", provider: aws, autostop_mins: 30}
reqs: [requirements.txt, ./libs/mine]
functions:
  generate:
    entrypoint: models.sd:generate
    cluster: gpu
    reqs: []
    resources: {num_gpus: 1, memory: 1000, tpu_slice: 0.5}
    timeout: 3600
  plain:
    entrypoint: jobs:plain
endpoints:
  sd:
    function: generate
    min_replicas: 0
    max_replicas: 2
    resources: {num_gpus: 1}
  api: {asgi: "web:app", route: /v1, public: true}
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state dir of the test's own (the cache lives under it)."""
    root = tmp_path / "home"
    monkeypatch.setenv("RHCLI_HOME", str(root))
    return root


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_cached_load_gives_the_records_a_fresh_read_gives(home: Path, tmp_path: Path) -> None:
    path = _write(tmp_path / "runhouse.yaml", MANIFEST)
    first = load_manifest(path)  # read and cached
    stamp = manifest_cache.stamp(path)
    cached = manifest_cache.load(path, stamp)
    assert cached is not None
    assert cached == first
    assert cached.function("generate").resources == {
        "num_gpus": 1.0,
        "memory": 1000.0,
        "tpu_slice": 0.5,
    }
    assert cached.cluster("box").hosts == ("10.0.0.5",)
    assert cached.function("generate").reqs == ()
    assert cached.function("plain").reqs is None
    assert set(cached.endpoints) == {"sd", "api"}  # `rhcli up` serves them from a cached load
    assert cached.endpoints["sd"].resources == {"num_gpus": 1.0}
    assert cached.endpoints["api"].resources is None and cached.endpoints["api"].public
    assert load_manifest(path) == first


def test_a_process_loading_an_unchanged_manifest_imports_no_yaml(
    home: Path, tmp_path: Path
) -> None:
    path = _write(tmp_path / "runhouse.yaml", MANIFEST)
    load_manifest(path)
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from rhcli.config.manifest import load_manifest\n"
        f"m = load_manifest(Path({str(path)!r}))\n"
        "print(m.default_cluster, sorted(m.functions), 'yaml' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "RHCLI_HOME": str(home)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "box ['generate', 'plain'] False"


def test_an_edited_manifest_is_read_again(home: Path, tmp_path: Path) -> None:
    path = _write(tmp_path / "runhouse.yaml", MANIFEST)
    assert load_manifest(path).function("generate").timeout == 3600
    _write(path, MANIFEST.replace("timeout: 3600", "timeout: 60"))
    assert load_manifest(path).function("generate").timeout == 60


def test_a_manifest_with_an_error_is_never_cached(home: Path, tmp_path: Path) -> None:
    path = _write(tmp_path / "runhouse.yaml", MANIFEST.replace("port: 2222", "port: x"))
    for _ in range(2):  # the second load finds the error (with its line) again
        with pytest.raises(ManifestError) as info:
            load_manifest(path)
        assert info.value.line == 3
    assert manifest_cache.load(path, manifest_cache.stamp(path)) is None


def test_a_cache_entry_of_another_file_is_not_taken(home: Path, tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    one = _write(tmp_path / "one" / "runhouse.yaml", MANIFEST)
    load_manifest(one)
    other = tmp_path / "two" / "runhouse.yaml"
    other.parent.mkdir()
    _write(other, "default_cluster: local\n")
    assert manifest_cache.load(other, manifest_cache.stamp(one)) is None
    assert load_manifest(other).default_cluster == "local"


def test_a_state_dir_that_cannot_be_written_only_costs_a_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.geteuid() == 0:
        # root writes through permissions: make the cache's path a file instead
        blocked = tmp_path / "home"
        blocked.mkdir()
        (blocked / "cache").write_text("not a folder")
    else:
        blocked = tmp_path / "home"
        blocked.mkdir()
        blocked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    monkeypatch.setenv("RHCLI_HOME", str(blocked))
    path = _write(tmp_path / "runhouse.yaml", MANIFEST)
    assert load_manifest(path).default_cluster == "box"
    assert load_manifest(path).default_cluster == "box"
