"""The layout's rules, read from the source (docs/architecture.md states them for people).

Imports run one way: cli -> library -> clusters -> transport -> protocol, with config,
errors and a few leaf modules below everything, and the daemon (server/) reaching into
the client only for what both sides share. The graph is built with ``ast`` from every
import statement, those inside functions included; imports under ``if TYPE_CHECKING:``
are left out (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Where each import name lives in the tree (setup.cfg's package_dir).
ROOTS = {"rhcli": REPO / "rhcli", "rhcli.server": REPO / "server", "rhcli.config": REPO / "config"}
GENERATED = ("_pb2.py", "_pb2_grpc.py")

# What the daemon may import of the client: the shared modules, nothing else.
SHARED_WITH_THE_DAEMON = (
    "rhcli.protocol",
    "rhcli.config",
    "rhcli.errors",
    "rhcli._version",
    "rhcli.on_cluster",
)
# Each layer and the prefixes it may import (besides its own).
LOWER_LAYERS = {
    "rhcli.protocol": (),
    "rhcli.config": ("rhcli.errors",),
    "rhcli.transport": ("rhcli.protocol", "rhcli.config", "rhcli.errors", "rhcli._version"),
    "rhcli.clusters": (
        "rhcli.transport",
        "rhcli.protocol",
        "rhcli.config",
        "rhcli.errors",
        "rhcli._version",
        "rhcli.progress",
        "rhcli.function_ref",
    ),
    "rhcli.server": SHARED_WITH_THE_DAEMON,
}
LEAVES = ("rhcli.errors", "rhcli._version", "rhcli.on_cluster", "rhcli.progress")
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package, folder in ROOTS.items():
        for path in folder.rglob("*.py"):
            if path.name.endswith(GENERATED):
                continue
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join([package, *parts])
            if package == "rhcli" and len(parts) and parts[0] in ("server", "config"):
                continue  # not there: server/ and config/ are separate folders
            found[name] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[str]:
    """Every module an import statement in tree names (TYPE_CHECKING blocks left out)."""
    names: list[str] = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            names += [name for child in node.orelse for name in _imports(child)]
            continue
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                names.append(child if child in MODULES else node.module)
        names += _imports(node)
    return names


def _graph() -> dict[str, set[str]]:
    graph = {}
    for name, path in MODULES.items():
        imported = set(_imports(ast.parse(path.read_text())))
        graph[name] = {m for m in imported if m in MODULES and m != name}
    return graph


GRAPH = _graph()


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_the_graph_sees_the_whole_tree() -> None:
    # A rule checked on a graph that missed the tree would pass for nothing.
    assert {"rhcli.functions", "rhcli.server.daemon", "rhcli.config.manifest"} <= MODULES.keys()
    assert "rhcli.clusters.base" in GRAPH["rhcli.clusters.local"]
    assert "rhcli.protocol.daemon_pb2" not in MODULES  # generated, not checked


def test_no_import_cycle_counting_imports_inside_functions() -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


@pytest.mark.parametrize("layer", sorted(LOWER_LAYERS))
def test_each_layer_imports_only_what_lies_below_it(layer: str) -> None:
    allowed = (layer, *LOWER_LAYERS[layer])
    wrong = {
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if _within(module, (layer,))
        for target in targets
        if not _within(target, allowed) and target != "rhcli"
    }
    assert not wrong, "\n".join(sorted(wrong))


def test_the_daemon_imports_no_client_module_but_the_shared_ones() -> None:
    wrong = {
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if _within(module, ("rhcli.server",))
        for target in targets
        if not _within(target, ("rhcli.server", *SHARED_WITH_THE_DAEMON))
    }
    assert not wrong, "\n".join(sorted(wrong))


def test_leaf_modules_import_nothing_of_ours() -> None:
    assert {leaf: GRAPH[leaf] for leaf in LEAVES if GRAPH[leaf]} == {}


def test_the_cli_goes_through_the_library_never_grpc_nor_protobuf() -> None:
    wrong = []
    for module, path in MODULES.items():
        if not _within(module, ("rhcli.cli", "rhcli.dashboard")):
            continue
        for target in _imports(ast.parse(path.read_text())):
            if _within(target, ("grpc", "google.protobuf", "rhcli.protocol", "rhcli.transport")):
                wrong.append(f"{module} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_no_submodule_shadows_a_name_of_the_facade() -> None:
    # Importing rhcli.X sets the attribute rhcli.X to the module: a submodule named like
    # rh.function or rh.runs would replace that function for every caller.
    import rhcli

    shadowed = [name for name in rhcli.__all__ if f"rhcli.{name}" in MODULES]
    assert not shadowed


def test_no_product_module_is_longer_than_about_400_lines() -> None:
    long = {
        name: count
        for name, path in MODULES.items()
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, long


def test_an_ssh_host_gets_every_package_setup_cfg_installs() -> None:
    import configparser

    from rhcli.transport import bootstrap

    setup = configparser.ConfigParser()
    setup.read(REPO / "setup.cfg")
    packages = setup["options"]["packages"].split()
    assert sorted(bootstrap._PACKAGES) == sorted(packages)


def test_only_the_cli_uses_the_dashboard() -> None:
    # The dashboard is a client of the library, like the CLI, and its web stack is an
    # optional extra: nothing below the CLI may need it.
    wrong = {
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if not _within(module, ("rhcli.cli", "rhcli.dashboard"))
        for target in targets
        if _within(target, ("rhcli.dashboard",))
    }
    assert not wrong, "\n".join(sorted(wrong))


def test_the_cli_starts_without_the_web_stack() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, rhcli.cli.main; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('starlette', 'uvicorn', 'anyio', 'selenium', 'pynvml')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert done.stdout.strip() == "[]"
