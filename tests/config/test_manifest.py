"""runhouse.yaml: discovery, loading into records, and errors that point at line and column."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from rhcli.config.manifest import (
    MANIFEST_ENV,
    ClusterSpec,
    FunctionSpec,
    Manifest,
    find_manifest,
    load,
    load_manifest,
)
from rhcli.errors import ManifestError, UnknownClusterError, UnknownFunctionError

DESIGN_EXAMPLE = """\
default_cluster: local
clusters:
  local: {type: local}
  box:   {type: ssh, host: 10.0.0.5, user: ubuntu, key: ~/.ssh/id_ed25519, port: 22}
  gpu:   {type: sky, instance_type: "A10G:1", provider: aws, autostop_mins: 30}
reqs: [requirements.txt]          # default for every function
functions:
  generate:
    entrypoint: models.sd:generate
    cluster: gpu                  # default: default_cluster
    reqs: [torch, diffusers]
    resources: {num_gpus: 1}
    timeout: 3600
"""


@pytest.fixture(autouse=True)
def _no_manifest_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MANIFEST_ENV, raising=False)


def write(directory: Path, text: str, name: str = "runhouse.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def error_of(tmp_path: Path, text: str) -> ManifestError:
    path = write(tmp_path, text)
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert info.value.path == str(path)
    return info.value


# --- loading --------------------------------------------------------------------------


def test_design_example_loads_into_specs(tmp_path: Path) -> None:
    path = write(tmp_path, DESIGN_EXAMPLE)
    manifest = load_manifest(path)

    assert manifest.path == path
    assert manifest.default_cluster == "local"
    assert list(manifest.clusters) == ["local", "box", "gpu"]
    assert manifest.clusters["local"] == ClusterSpec(name="local", type="local")
    assert manifest.clusters["box"] == ClusterSpec(
        name="box",
        type="ssh",
        host="10.0.0.5",
        hosts=("10.0.0.5",),
        user="ubuntu",
        key="~/.ssh/id_ed25519",
        port=22,
    )
    assert manifest.clusters["gpu"] == ClusterSpec(
        name="gpu", type="sky", instance_type="A10G:1", provider="aws", autostop_mins=30
    )
    assert manifest.reqs == ("requirements.txt",)
    generate = manifest.function("generate")
    assert generate == FunctionSpec(
        name="generate",
        entrypoint="models.sd:generate",
        cluster="gpu",
        reqs=("torch", "diffusers"),
        resources={"num_gpus": 1},
        timeout=3600,
    )
    assert manifest.function_cluster(generate) is manifest.clusters["gpu"]
    assert manifest.cluster() is manifest.clusters["local"]


def test_every_cluster_key_is_read(tmp_path: Path) -> None:
    manifest = load_manifest(
        write(
            tmp_path,
            """
            default_cluster: a10
            clusters:
              rack: {type: ssh, hosts: [n1, n2], home: /data/rhcli}
              a10:
                type: sky
                instance_type: g5.xlarge
                provider: aws
                region: us-east-1
                use_spot: true
                num_nodes: 2
                autostop_mins: 0
                image_id: docker:python:3.11
                disk_size: 200
            """,
        )
    )
    assert manifest.cluster("rack") == ClusterSpec(
        name="rack", type="ssh", host="n1", hosts=("n1", "n2"), home="/data/rhcli"
    )
    assert manifest.cluster() == ClusterSpec(
        name="a10",
        type="sky",
        instance_type="g5.xlarge",
        provider="aws",
        region="us-east-1",
        use_spot=True,
        num_nodes=2,
        autostop_mins=0,
        image_id="docker:python:3.11",
        disk_size=200,
    )


def test_function_defaults_come_from_the_manifest(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, "functions:\n  f: {entrypoint: pkg.mod:Cls.run}\n"))
    fn = manifest.function("f")
    assert fn == FunctionSpec(name="f", entrypoint="pkg.mod:Cls.run")
    assert fn.cluster is None and fn.reqs is None and fn.timeout is None
    assert manifest.function_cluster(fn).name == "local"
    assert manifest.reqs is None


def test_empty_reqs_list_means_install_nothing(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, "reqs: []\nfunctions: {f: {entrypoint: m:f}}\n"))
    assert manifest.reqs == ()


def test_null_means_the_same_as_leaving_the_key_out(tmp_path: Path) -> None:
    text = "default_cluster:\nclusters:\n  b: {type: ssh, host: h, port: ~}\nfunctions:\nreqs:\n"
    manifest = load_manifest(write(tmp_path, text))
    assert manifest.default_cluster == "local"
    assert manifest.cluster("b").port is None
    assert manifest.reqs is None
    assert dict(manifest.functions) == {}


def test_custom_resources_and_fractions_are_accepted(tmp_path: Path) -> None:
    text = "functions:\n  f: {entrypoint: m:f, resources: {num_cpus: 0.5, tpu: 8}}\n"
    fn = load_manifest(write(tmp_path, text)).function("f")
    assert dict(fn.resources) == {"num_cpus": 0.5, "tpu": 8}


def test_numbers_with_a_bare_exponent_are_numbers(tmp_path: Path) -> None:
    # YAML 1.1 (PyYAML) reads 4e9 as text; whoever writes it means four billion.
    text = "functions:\n  f: {entrypoint: m:f, timeout: 1e3, resources: {memory: 4e9}}\n"
    fn = load_manifest(write(tmp_path, text)).function("f")
    assert fn.resources["memory"] == 4e9
    assert fn.timeout == 1000.0
    error = error_of(tmp_path, "functions:\n  f: {entrypoint: m:f, timeout: '1e3'}\n")
    assert error.reason == "functions.f.timeout: expected a number greater than 0, got '1e3'"


def test_text_that_looks_like_a_date_stays_text(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, "clusters: {c: {type: sky, region: 2024-01-01}}\n"))
    assert manifest.cluster("c").region == "2024-01-01"


def test_aliases_reuse_a_whole_value(tmp_path: Path) -> None:
    text = "reqs: &common [torch]\nfunctions:\n  f: {entrypoint: m:f, reqs: *common}\n"
    assert load_manifest(write(tmp_path, text)).function("f").reqs == ("torch",)


def test_empty_file_is_the_default_manifest_with_its_path(tmp_path: Path) -> None:
    path = write(tmp_path, "# nothing yet\n")
    manifest = load_manifest(path)
    assert manifest == Manifest(path=path)
    assert list(manifest.clusters) == ["local"]


def test_loaded_records_are_read_only(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, DESIGN_EXAMPLE))
    with pytest.raises(dataclasses.FrozenInstanceError):
        manifest.default_cluster = "gpu"  # type: ignore[misc]
    with pytest.raises(TypeError):
        manifest.clusters["x"] = ClusterSpec(name="x", type="local")  # type: ignore[index]
    with pytest.raises(TypeError):
        manifest.function("generate").resources["num_gpus"] = 2  # type: ignore[index]


# --- finding --------------------------------------------------------------------------


def test_no_manifest_gives_the_local_default(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    manifest = load(cwd=tmp_path)
    assert manifest.path is None
    assert manifest.default_cluster == "local"
    assert dict(manifest.clusters) == {"local": ClusterSpec(name="local", type="local")}
    assert dict(manifest.functions) == {}
    assert manifest.cluster().type == "local"


def test_explicit_path_wins_over_env_and_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "")
    monkeypatch.setenv(MANIFEST_ENV, str(write(tmp_path / "env", "")))
    chosen = write(tmp_path / "given", "")
    assert find_manifest(chosen, cwd=tmp_path) == chosen
    assert find_manifest("given/runhouse.yaml", cwd=tmp_path) == chosen


def test_explicit_path_that_does_not_exist_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as info:
        find_manifest("nope.yaml", cwd=tmp_path)
    assert info.value.path == str(tmp_path / "nope.yaml")
    assert "does not exist (given with -f/--file)" in str(info.value)


def test_env_var_wins_over_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "")
    from_env = write(tmp_path / "elsewhere", "", name="custom.yaml")
    monkeypatch.setenv(MANIFEST_ENV, str(from_env))
    assert find_manifest(cwd=tmp_path) == from_env
    assert load(cwd=tmp_path).path == from_env


def test_env_var_naming_a_missing_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MANIFEST_ENV, str(tmp_path / "gone.yaml"))
    with pytest.raises(ManifestError, match=r"does not exist \(\$RHCLI_FILE\)"):
        find_manifest(cwd=tmp_path)


def test_manifest_in_cwd_is_found(tmp_path: Path) -> None:
    assert find_manifest(cwd=tmp_path) is None
    path = write(tmp_path, "")
    assert find_manifest(cwd=tmp_path) == path


def test_yml_is_found_and_yaml_is_preferred(tmp_path: Path) -> None:
    yml = write(tmp_path, "", name="runhouse.yml")
    assert find_manifest(cwd=tmp_path) == yml
    yaml_path = write(tmp_path, "")
    assert find_manifest(cwd=tmp_path) == yaml_path


def test_parent_directories_are_searched_up_to_the_git_root(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    deep = repo / "src" / "pkg"
    deep.mkdir(parents=True)
    at_root = write(repo, "")
    assert find_manifest(cwd=deep) == at_root
    nearer = write(repo / "src", "")
    assert find_manifest(cwd=deep) == nearer


def test_search_stops_at_the_git_root(tmp_path: Path) -> None:
    write(tmp_path, "")  # above the repository: never used
    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    (repo / ".git").write_text("gitdir: /elsewhere\n")  # a worktree's .git is a file
    assert find_manifest(cwd=repo / "sub") is None
    assert load(cwd=repo / "sub").path is None


def test_outside_a_git_repo_only_cwd_is_searched(tmp_path: Path) -> None:
    write(tmp_path, "")
    (tmp_path / "child").mkdir()
    assert find_manifest(cwd=tmp_path / "child") is None


# --- errors ---------------------------------------------------------------------------


def test_error_reads_file_line_column_message(tmp_path: Path) -> None:
    error = error_of(tmp_path, "clusters:\n  box: {type: ssh, host: h, port: abc}\n")
    assert (error.line, error.column) == (2, 35)
    assert str(error) == (
        f"{tmp_path / 'runhouse.yaml'}:2:35: "
        "clusters.box.port: expected an integer from 1 to 65535, got 'abc'"
    )


def test_bad_indentation_points_at_the_offending_line(tmp_path: Path) -> None:
    error = error_of(tmp_path, "clusters:\n  box:\n    type: ssh\n   host: h\n")
    assert (error.line, error.column) == (4, 4)
    assert error.reason.startswith("invalid YAML: expected <block end>, but found")


def test_unknown_key_suggests_the_closest_one(tmp_path: Path) -> None:
    error = error_of(tmp_path, "clusters:\n  box:\n    type: ssh\n    host: h\n    usr: me\n")
    assert (error.line, error.column) == (5, 5)
    assert error.reason == (
        "clusters.box.usr: unknown key 'usr' in cluster 'box'; did you mean 'user'? "
        "expected one of: home, host, hosts, key, port, type, user"
    )


def test_unknown_top_level_key_suggests_the_closest_one(tmp_path: Path) -> None:
    error = error_of(tmp_path, "cluster: {}\n")
    assert error.reason.startswith("cluster: unknown key 'cluster' at the top level; ")
    assert "did you mean 'clusters'" in error.reason


def test_key_of_another_cluster_type_says_which_type_takes_it(tmp_path: Path) -> None:
    error = error_of(tmp_path, "clusters:\n  box: {type: ssh, host: h, use_spot: true}\n")
    assert "unknown key 'use_spot' in cluster 'box' (a key of sky clusters" in error.reason


def test_wrong_type_names_the_expected_type(tmp_path: Path) -> None:
    error = error_of(tmp_path, "clusters:\n  gpu: {type: sky, num_nodes: two}\n")
    assert error.reason == "clusters.gpu.num_nodes: expected an integer of at least 1, got 'two'"


def test_boolean_is_not_an_integer(tmp_path: Path) -> None:
    error = error_of(tmp_path, "clusters:\n  box: {type: ssh, host: h, port: true}\n")
    assert error.reason == (
        "clusters.box.port: expected an integer from 1 to 65535, got true (a boolean)"
    )


def test_number_where_text_belongs_hints_to_quote_it(tmp_path: Path) -> None:
    error = error_of(tmp_path, "clusters:\n  box: {type: ssh, host: h, user: 1000}\n")
    assert error.reason.endswith("got 1000; quote it to use it as text")


def test_duplicate_key_is_an_error_naming_the_first(tmp_path: Path) -> None:
    error = error_of(tmp_path, "clusters:\n  box:\n    type: ssh\n    host: a\n    host: b\n")
    assert (error.line, error.column) == (5, 5)
    assert error.reason == "clusters.box.host: duplicate key 'host' (first on line 4); give it once"


def test_python_tags_are_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f'functions: !!python/object/apply:os.system ["touch {marker}"]\n'
    error = error_of(tmp_path, text)
    assert (error.line, error.column) == (1, 12)
    assert "functions: tag !!python/object/apply:os.system is not allowed" in error.reason
    assert not marker.exists()


def test_tags_are_refused_even_under_unknown_keys(tmp_path: Path) -> None:
    error = error_of(tmp_path, "junk:\n  - !!python/object:os.system {}\n")
    assert error.reason.startswith("junk[0]: tag !!python/object:os.system is not allowed")
    assert (error.line, error.column) == (2, 5)


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    error = error_of(tmp_path, "- clusters\n- functions\n")
    assert error.reason.startswith("top level: expected a mapping")
    assert error.reason.endswith("got a list")


def test_default_cluster_must_be_defined(tmp_path: Path) -> None:
    error = error_of(tmp_path, "clusters: {gpu: {type: sky}}\ndefault_cluster: gpus\n")
    assert (error.line, error.column) == (2, 18)
    assert error.reason == (
        "default_cluster: unknown cluster 'gpus'; did you mean 'gpu'? defined: gpu, local"
    )


def test_function_cluster_must_be_defined(tmp_path: Path) -> None:
    error = error_of(tmp_path, "functions:\n  f: {entrypoint: m:f, cluster: box}\n")
    assert error.reason == "functions.f.cluster: unknown cluster 'box'; defined: local"


def test_entrypoint_must_be_module_colon_function(tmp_path: Path) -> None:
    error = error_of(tmp_path, "functions:\n  generate: {entrypoint: models.sd.generate}\n")
    assert (error.line, error.column) == (2, 26)
    assert error.reason == (
        "functions.generate.entrypoint: expected module:function "
        "(like models.sd:generate), got 'models.sd.generate'"
    )


def test_ssh_cluster_needs_a_host(tmp_path: Path) -> None:
    error = error_of(tmp_path, "clusters:\n  box: {type: ssh, user: me}\n")
    assert (error.line, error.column) == (2, 8)
    assert error.reason.startswith("clusters.box: an ssh cluster needs host")


def test_host_and_hosts_are_exclusive(tmp_path: Path) -> None:
    error = error_of(tmp_path, "clusters:\n  box: {type: ssh, host: a, hosts: [a, b]}\n")
    assert error.reason == "clusters.box.hosts: give either host or hosts, not both"


def test_reqs_as_a_single_string_hints_at_a_list(tmp_path: Path) -> None:
    error = error_of(tmp_path, "reqs: torch\n")
    assert error.reason == "reqs: expected a list of strings, got 'torch'; write [torch]"


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        pytest.param(
            "clusters: {box: {type: shh}}\n",
            (1, 24),
            "clusters.box.type: unknown type 'shh'; did you mean 'ssh'? "
            "expected one of: local, ssh, sky",
            id="unknown cluster type suggests the closest",
        ),
        pytest.param(
            "clusters: {box: {host: h}}\n",
            (1, 17),
            "clusters.box: missing key 'type'; expected one of: local, ssh, sky",
            id="cluster type is required",
        ),
        pytest.param(
            "clusters: {local: {type: ssh, host: h}}\n",
            (1, 26),
            "clusters.local.type: the cluster named 'local' is this machine: "
            "its type must be local",
            id="the cluster named local is local",
        ),
        pytest.param(
            "clusters: {-box: {type: local}}\n",
            (1, 12),
            "clusters.-box: a cluster name is a letter or digit, then letters, digits, _ . -",
            id="cluster names start with a letter or digit",
        ),
        pytest.param(
            "functions: {1st: {entrypoint: m:f}}\n",
            (1, 13),
            "functions.1st: a function name is a letter or _, then letters, digits, _ -",
            id="function names start with a letter or underscore",
        ),
        pytest.param(
            "functions: {f: {cluster: local}}\n",
            (1, 16),
            "functions.f: missing key 'entrypoint' (like models.sd:generate)",
            id="entrypoint is required",
        ),
        pytest.param(
            "functions: {f: {entrypoint: m:f, timeout: 0}}\n",
            (1, 43),
            "functions.f.timeout: expected a number greater than 0, got 0",
            id="timeout is positive",
        ),
        pytest.param(
            "functions: {f: {entrypoint: m:f, resources: {num_gpus: -1}}}\n",
            (1, 56),
            "functions.f.resources.num_gpus: expected a number of at least 0, got -1",
            id="resources are not negative",
        ),
        pytest.param(
            "functions: {f: {entrypoint: m:f, resources: {gpus: 1}}}\n",
            (1, 46),
            "functions.f.resources.gpus: unknown resource 'gpus'; did you mean 'num_gpus'? "
            "(a custom name must not resemble it)",
            id="a slip for a built-in resource is not a custom resource",
        ),
        pytest.param(
            "clusters: {c: {type: sky, region: !!timestamp 2024-01-01}}\n",
            (1, 35),
            "clusters.c.region: tag !!timestamp is not allowed; "
            "write plain YAML: strings, numbers, booleans, null, lists and mappings",
            id="timestamps are refused",
        ),
        pytest.param(
            "clusters:\n  a: &a {type: sky}\n  b: {<<: *a, region: x}\n",
            (3, 7),
            "clusters.b: merge keys (<<) are not supported; write the keys out",
            id="merge keys are refused",
        ),
        pytest.param(
            "clusters: {b: {type: ssh, host: h, port: !!int abc}}\n",
            (1, 42),
            "clusters.b.port: tag !!int does not fit 'abc'",
            id="an explicit tag must fit its value",
        ),
        pytest.param(
            "clusters: {1: {type: local}}\n",
            (1, 12),
            "clusters: expected a name as key, got 1; quote it",
            id="keys are strings",
        ),
        pytest.param(
            "clusters: {b: {type: ssh, host: ''}}\n",
            (1, 33),
            "clusters.b.host: expected a non-empty string, got ''",
            id="strings are not empty",
        ),
        pytest.param(
            "clusters: [box]\n",
            (1, 11),
            "clusters: expected a mapping, got a list",
            id="clusters is a mapping",
        ),
        pytest.param(
            "a: 1\n---\nb: 2\n",
            (2, 1),
            "invalid YAML: found a second document (---); the manifest is one document",
            id="one document only",
        ),
    ],
)
def test_invalid_manifests_are_refused_with_their_place(
    tmp_path: Path, text: str, where: tuple[int, int], reason: str
) -> None:
    error = error_of(tmp_path, text)
    assert error.reason == reason
    assert (error.line, error.column) == where


def test_bytes_that_are_not_text_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "runhouse.yaml"
    path.write_bytes(b"reqs: [\xff]\n")
    with pytest.raises(ManifestError, match="save the file as UTF-8"):
        load_manifest(path)


# --- lookups --------------------------------------------------------------------------


def test_unknown_function_lists_known_names(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, DESIGN_EXAMPLE))
    with pytest.raises(UnknownFunctionError) as info:
        manifest.function("genrate")
    assert info.value.known == ["generate"]
    assert str(tmp_path / "runhouse.yaml") in str(info.value)
    assert "known functions: generate" in str(info.value)


def test_unknown_cluster_lists_known_names(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, DESIGN_EXAMPLE))
    with pytest.raises(UnknownClusterError) as info:
        manifest.cluster("a100")
    assert info.value.known == ["box", "gpu", "local"]


def test_unknown_function_without_a_manifest_says_none_was_found() -> None:
    with pytest.raises(UnknownFunctionError, match=r"no runhouse.yaml was found"):
        Manifest(path=None).function("generate")


@pytest.mark.parametrize(
    ("name", "builtin"),
    [("gpus", "num_gpus"), ("GPU", "num_gpus"), ("num_cpu", "num_cpus"), ("mem", "memory")],
)
def test_a_slip_for_a_builtin_resource_is_refused(tmp_path: Path, name: str, builtin: str) -> None:
    error = error_of(tmp_path, f"functions: {{f: {{entrypoint: m:f, resources: {{{name}: 1}}}}}}\n")
    assert f"unknown resource {name!r}; did you mean {builtin!r}?" in error.reason


def test_custom_resources_near_builtin_names_are_accepted(tmp_path: Path) -> None:
    text = "functions: {f: {entrypoint: m:f, resources: {num_tpus: 4, memory_gb: 16}}}\n"
    fn = load_manifest(write(tmp_path, text)).function("f")
    assert dict(fn.resources) == {"num_tpus": 4, "memory_gb": 16}
