"""Manifests that loaded, kept while their file is unchanged: a command reads no YAML.

Importing PyYAML and checking a runhouse.yaml node by node cost 15 to 35 ms of every
`rhcli` process here, a tenth of a whole `rhcli run`, to find the same records as the
last command. A manifest that loaded without error is written to
``<state dir>/cache/manifests/<name>-<checksum of its path>.json`` with the file's stamp (size,
mtime to the nanosecond, inode, and the same of the reader's own sources, so an rhcli
with another reader never trusts it); a later load uses it only while the stamps match.
A file with an error is never cached: its error is found (with line and column) anew.
A cache that cannot be read or written is ignored (the file is read instead).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import zlib
from dataclasses import fields
from pathlib import Path
from typing import Any

from .paths import rhcli_home
from .schema import ClusterSpec, EndpointSpec, FunctionSpec, Manifest

log = logging.getLogger(__name__)

_FORMAT = 2  # 2: endpoints kept too
# The modules that decide what a file means: an edit of any is another stamp.
_READERS = ("manifest_reader.py", "schema.py", "yaml_reader.py")


def stamp(path: Path) -> list[int]:
    """What must be unchanged for a cached load of path to hold; raises OSError."""
    found: list[int] = []
    here = Path(__file__).parent
    for file in (Path(path), *(here / name for name in _READERS)):
        st = os.stat(file)
        found += [st.st_size, st.st_mtime_ns, st.st_ino]
    return found


def _cache_file(path: Path) -> Path:
    # A checksum names the file (no hashlib: no OpenSSL to load); the path inside it is
    # what decides, so two manifests with one checksum only ever miss.
    name = f"{Path(path).name}-{zlib.crc32(str(Path(path).absolute()).encode()):08x}"
    return rhcli_home() / "cache" / "manifests" / f"{name}.json"


def load(path: Path, file_stamp: list[int]) -> Manifest | None:
    """The manifest cached for path under file_stamp, or None."""
    try:
        found = json.loads(_cache_file(path).read_text())
        if (found["format"], found["path"], found["stamp"]) != (
            _FORMAT,
            str(Path(path).absolute()),
            file_stamp,
        ):
            return None
        return _manifest(Path(path), found["manifest"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.debug("ignoring the cached manifest of %s: %s", path, exc)
        return None


def store(path: Path, file_stamp: list[int], manifest: Manifest) -> None:
    """Cache manifest (loaded from path, as file_stamp says); never raises."""
    document = {
        "format": _FORMAT,
        "path": str(Path(path).absolute()),
        "stamp": file_stamp,
        "manifest": _plain(manifest),
    }
    target = _cache_file(path)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        for folder in (target.parent.parent, target.parent):  # private, like the state dir
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp.write_text(json.dumps(document))
        os.replace(tmp, target)
    except OSError as exc:
        log.debug("could not cache the manifest %s: %s", path, exc)
        with contextlib.suppress(OSError):  # its folder may be what failed
            tmp.unlink(missing_ok=True)


def _plain(manifest: Manifest) -> dict[str, Any]:
    return {
        "default_cluster": manifest.default_cluster,
        "reqs": manifest.reqs,
        "clusters": {name: _fields(spec) for name, spec in manifest.clusters.items()},
        "functions": {name: _fields(spec) for name, spec in manifest.functions.items()},
        "endpoints": {name: _fields(spec) for name, spec in manifest.endpoints.items()},
    }


def _fields(record: ClusterSpec | FunctionSpec | EndpointSpec) -> dict[str, Any]:
    """A record's fields as JSON takes them (its read-only mappings as dicts)."""
    plain = {f.name: getattr(record, f.name) for f in fields(record)}
    return {k: dict(v) if k == "resources" and v is not None else v for k, v in plain.items()}


def _manifest(path: Path, plain: dict[str, Any]) -> Manifest:
    clusters = {
        name: ClusterSpec(**{**spec, "hosts": tuple(spec["hosts"])})
        for name, spec in plain["clusters"].items()
    }
    functions = {name: FunctionSpec(**spec) for name, spec in plain["functions"].items()}
    endpoints = {name: EndpointSpec(**spec) for name, spec in plain["endpoints"].items()}
    return Manifest(
        path=path,
        default_cluster=plain["default_cluster"],
        clusters=clusters,
        reqs=plain["reqs"],
        functions=functions,
        endpoints=endpoints,
    )
