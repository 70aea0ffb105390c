"""How a function travels to the cluster: by reference when it can, by value otherwise.

- A function of an importable module travels as ``module:qualname`` plus the directory its
  module imports from (the code root), and the cluster imports it from there.
- A function of the ``__main__`` script is resolved to that file's module path (relative to
  its git repository), so it too travels by reference.
- Lambdas, closures and functions defined in a notebook or REPL travel by value
  (cloudpickle).
"""

from __future__ import annotations

import re
import sys
import sysconfig
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rhcli.protocol.wire import PICKLE_PROTOCOL

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class FunctionSource:
    """What to run and where its code lives on this machine."""

    name: str
    local_root: Path  # the directory its modules import from, on this machine
    entrypoint: str = ""  # "module:qualname" when by reference
    pickled: bytes = b""  # cloudpickle of the function when by value

    @property
    def by_value(self) -> bool:
        return bool(self.pickled)


def git_root(start: Path) -> Path | None:
    """The nearest directory at or above start that holds .git, or None."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def project_root(cwd: Path | None = None) -> Path:
    """The code root for entrypoints given by name: the git root of cwd, else cwd."""
    here = (cwd or Path.cwd()).resolve()
    return git_root(here) or here


def from_entrypoint(
    entrypoint: str, *, root: Path | None = None, name: str | None = None
) -> FunctionSource:
    """A function named as ``module:qualname``, imported from root (default: project)."""
    module, sep, qualname = entrypoint.partition(":")
    if not sep or not all(_IDENTIFIER.match(p) for p in module.split(".") + qualname.split(".")):
        from rhcli.errors import UsageError

        raise UsageError(
            f"entrypoint {entrypoint!r} is not of the form module:function "
            "(like models.sd:generate)"
        )
    return FunctionSource(
        name=name or qualname, local_root=root or project_root(), entrypoint=entrypoint
    )


def from_callable(fn: Callable[..., Any], *, name: str | None = None) -> FunctionSource:
    """Describe fn for the cluster: by reference when importable there, else by value."""
    qualname = getattr(fn, "__qualname__", "") or getattr(fn, "__name__", "fn")
    display = name or qualname.split(".")[-1].replace("<lambda>", "lambda")
    module_name = getattr(fn, "__module__", None) or "__main__"
    if "<" not in qualname:  # <lambda> and <locals> cannot be imported by name
        found = _module_location(module_name)
        if found is not None and _resolves_to(module_name, qualname, fn):
            root, importable_name = found
            return FunctionSource(
                name=display, local_root=root, entrypoint=f"{importable_name}:{qualname}"
            )
    import cloudpickle  # only for a function that travels by value

    return FunctionSource(
        name=display,
        local_root=project_root(),
        pickled=cloudpickle.dumps(fn, protocol=PICKLE_PROTOCOL),
    )


def _module_location(module_name: str) -> tuple[Path, str] | None:
    """(code root, importable module name) for a loaded module, or None if it has no file."""
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    if not file:
        return None  # a notebook, a REPL, or a built-in
    path = Path(file).resolve()
    if module_name == "__main__":
        return _script_location(path)
    depth = len(module_name.split("."))
    if path.name == "__init__.py":
        depth += 1
    root = path.parents[depth - 1]
    if _is_site_packages(root):
        # An installed package or the standard library: importable on the cluster from
        # its environment (its reqs), so the project's root stays the code root.
        return project_root(), module_name
    return root, module_name


def _script_location(path: Path) -> tuple[Path, str] | None:
    """A script's module name relative to its git repository (or its own folder)."""
    repo = git_root(path.parent)
    if repo is not None:
        parts = path.relative_to(repo).with_suffix("").parts
        if all(_IDENTIFIER.match(p) for p in parts):
            return repo, ".".join(parts)
    if _IDENTIFIER.match(path.stem):
        return path.parent, path.stem
    return None


def _resolves_to(module_name: str, qualname: str, fn: Callable[..., Any]) -> bool:
    obj: Any = sys.modules.get(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj is fn or getattr(obj, "__wrapped__", None) is fn


def _is_site_packages(path: Path) -> bool:

    # The standard library counts too: it is on every cluster, not code to sync there.
    paths = sysconfig.get_paths()
    installed = {str(Path(paths[k]).resolve()) for k in ("purelib", "platlib", "stdlib")}
    return str(path) in installed or path.name in ("site-packages", "dist-packages", "lib-dynload")


_RESOURCE_KEYS = ("num_cpus", "num_gpus", "memory")


def resources_message(resources: Mapping[str, float]) -> Any:
    """The protocol's Resources for a resource request (num_cpus, num_gpus, memory, and
    custom names)."""
    from rhcli.protocol import daemon_pb2 as pb

    message = pb.Resources()
    for key, value in resources.items():
        if key in _RESOURCE_KEYS:
            setattr(message, key, float(value))
        else:
            message.custom[key] = float(value)
    return message


def default_reqs(local_root: Path, manifest: str | None) -> tuple[str, ...]:
    """The requirements every function of the repository at local_root gets: the
    manifest's reqs, else the repo's requirements.txt when it has one, else none."""
    from rhcli.config.manifest import load

    loaded = load(manifest)
    if loaded.reqs is not None:
        return loaded.reqs
    return ("requirements.txt",) if (local_root / "requirements.txt").is_file() else ()
