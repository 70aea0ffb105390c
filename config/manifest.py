"""runhouse.yaml: where it is found, and loading it (read by rhcli.config.manifest_reader).

The file is composed into YAML nodes with a safe loader and checked node by node, so
every error names the file, line and column, the key path (``clusters.box.port``) and
what was expected. Nothing in the file is ever constructed as a Python object: tags
beyond plain YAML are refused before anything else is looked at. The format is
documented for users in docs/manifest.md. A manifest that loaded is kept in a cache
(rhcli.config.manifest_cache) while the file is unchanged: a command then imports no YAML.
"""

from __future__ import annotations

import os
from pathlib import Path

from rhcli.errors import ManifestError

from . import manifest_cache
from .schema import ClusterSpec, EndpointSpec, FunctionSpec, Manifest

__all__ = [
    "MANIFEST_ENV",
    "MANIFEST_NAMES",
    "ClusterSpec",
    "EndpointSpec",
    "FunctionSpec",
    "Manifest",
    "find_manifest",
    "load",
    "load_manifest",
]

MANIFEST_ENV = "RHCLI_FILE"
MANIFEST_NAMES = ("runhouse.yaml", "runhouse.yml")

# --- finding ----------------------------------------------------------------------------


def find_manifest(
    explicit: str | os.PathLike[str] | None = None, *, cwd: Path | None = None
) -> Path | None:
    """Where the manifest is, or None when there is none.

    In order: ``explicit`` (``-f``), then ``$RHCLI_FILE``; either must name an existing
    file, else ManifestError. Then runhouse.yaml (or .yml) in ``cwd`` or a parent, up to
    and including the git root (the first directory holding ``.git``); outside a git
    repository only ``cwd`` itself is searched. Relative paths are taken from ``cwd``
    (default: the process's working directory); the result is absolute.
    """
    base = (cwd or Path.cwd()).absolute()
    given = [(explicit, "given with -f/--file"), (os.environ.get(MANIFEST_ENV), f"${MANIFEST_ENV}")]
    for value, source in given:
        if value is not None and os.fspath(value) != "":
            path = base / Path(value).expanduser()
            if not path.is_file():
                what = "is not a file" if path.exists() else "does not exist"
                raise ManifestError(f"the manifest {what} ({source})", path=str(path))
            return path
    search = [base, *base.parents]
    git_root = next((d for d in search if (d / ".git").exists()), None)
    for directory in search[: search.index(git_root) + 1] if git_root else [base]:
        for name in MANIFEST_NAMES:
            if (directory / name).is_file():
                return directory / name
    return None


def load(explicit: str | os.PathLike[str] | None = None, *, cwd: Path | None = None) -> Manifest:
    """Find (see find_manifest) and load the manifest; the built-in default when none."""
    path = find_manifest(explicit, cwd=cwd)
    return Manifest(path=None) if path is None else load_manifest(path)


def load_manifest(path: Path) -> Manifest:
    """Read and validate the manifest at ``path``; raises ManifestError on any problem.

    An empty file is the default manifest (with ``path`` set). Served from the cache
    while the file is unchanged since it last loaded without error.
    """
    try:
        stamp = manifest_cache.stamp(path)
        data = Path(path).read_bytes()
    except OSError as e:
        raise ManifestError(f"cannot read the manifest: {e.strerror}", path=str(path)) from e
    cached = manifest_cache.load(path, stamp)
    if cached is not None:
        return cached
    from .manifest_reader import read_manifest  # imports yaml: only for a changed file

    manifest = read_manifest(data, Path(path))
    manifest_cache.store(path, stamp, manifest)
    return manifest
