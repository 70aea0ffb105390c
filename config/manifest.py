"""runhouse.yaml: where it is found, how it is read, and what it may say.

The file is composed into YAML nodes with a safe loader and checked node by node, so
every error names the file, line and column, the key path (``clusters.box.port``) and
what was expected. Nothing in the file is ever constructed as a Python object: tags
beyond plain YAML are refused before anything else is looked at. The format is
documented for users in docs/manifest.md.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import NoReturn, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from rhcli.errors import ManifestError

from . import schema
from .schema import ClusterSpec, FunctionSpec, Manifest

__all__ = [
    "MANIFEST_ENV",
    "MANIFEST_NAMES",
    "ClusterSpec",
    "FunctionSpec",
    "Manifest",
    "find_manifest",
    "load",
    "load_manifest",
]

MANIFEST_ENV = "RHCLI_FILE"
MANIFEST_NAMES = ("runhouse.yaml", "runhouse.yml")

_T = TypeVar("_T")
_Fields = dict[str, tuple[Node, Node]]  # key -> (key node, value node), in file order

_YAML = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_YAML + t for t in ("str", "int", "float", "bool", "null"))
_SEQ, _MAP = _YAML + "seq", _YAML + "map"
_EXPONENT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+")


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads dates and ``=`` as plain strings.

    The manifest has no date fields, and a region or image id that happens to look like
    a date must stay the text it was written as.
    """


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in {_YAML + "timestamp", _YAML + "value"}]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_CONSTRUCT = yaml.constructor.SafeConstructor()  # only ever given plain scalars
_SCALARS: dict[str, Callable[[ScalarNode], object]] = {
    _STR: _CONSTRUCT.construct_yaml_str,
    _INT: _CONSTRUCT.construct_yaml_int,
    _FLOAT: _CONSTRUCT.construct_yaml_float,
    _BOOL: _CONSTRUCT.construct_yaml_bool,
    _NULL: _CONSTRUCT.construct_yaml_null,
}


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

    An empty file is the default manifest (with ``path`` set).
    """
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ManifestError(f"cannot read the manifest: {e.strerror}", path=str(path)) from e
    root = _compose(data, str(path))
    if root is None:
        return Manifest(path=path)
    _check_tags(root, "", set(), str(path))
    return _Reader(str(path)).manifest(root, path)


def _compose(data: bytes, file: str) -> Node | None:
    try:
        return yaml.compose(data, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or e.context or "unreadable"
        if problem == "but found another document":
            problem = "found a second document (---); the manifest is one document"
        elif e.context and e.problem and e.context_mark:
            problem += f" ({e.context} that starts on line {e.context_mark.line + 1})"
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise ManifestError(f"invalid YAML: {problem}", path=file, line=line, column=column) from e
    except yaml.reader.ReaderError as e:  # bytes that are no text: no line to point at
        why = f"not text at byte {e.position} ({e.reason}); save the file as UTF-8"
        raise ManifestError(why, path=file) from e
    except yaml.YAMLError as e:
        raise ManifestError(f"invalid YAML: {e}", path=file) from e
    except RecursionError as e:
        raise ManifestError("invalid YAML: nested too deeply", path=file) from e


def _check_tags(node: Node, path: str, seen: set[int], file: str) -> None:
    """Refuse any tag beyond plain YAML, anywhere in the document (even unknown keys).

    Afterwards every scalar's tag is one of _SCALARS and converts cleanly, every list is
    tagged !!seq and every mapping !!map.
    """
    if id(node) in seen:  # an alias: already checked, and it may point at an ancestor
        return
    seen.add(id(node))
    tag = node.tag.replace(_YAML, "!!", 1)
    if node.tag == _YAML + "merge":
        _fail(file, node, path, "merge keys (<<) are not supported; write the keys out")
    if node.tag not in {*_SCALARS, _SEQ, _MAP}:
        hint = "write plain YAML: strings, numbers, booleans, null, lists and mappings"
        _fail(file, node, path, f"tag {tag} is not allowed; {hint}")
    if isinstance(node, ScalarNode):
        try:
            _SCALARS[node.tag](node)
        except (ValueError, KeyError, TypeError):  # an explicit `!!int abc`
            _fail(file, node, path, f"tag {tag} does not fit {node.value!r}")
    elif node.tag != (_SEQ if isinstance(node, SequenceNode) else _MAP):
        _fail(file, node, path, f"tag {tag} does not fit {_describe(node)}")
    if isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _check_tags(item, f"{path}[{i}]", seen, file)
    elif isinstance(node, MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, ScalarNode) else "?"
            _check_tags(key, path, seen, file)
            _check_tags(value, f"{path}.{name}" if path else name, seen, file)


def _fail(file: str, node: Node, path: str, message: str) -> NoReturn:
    mark = node.start_mark
    raise ManifestError(
        f"{path or 'top level'}: {message}", path=file, line=mark.line + 1, column=mark.column + 1
    )


def _describe(node: Node) -> str:
    """A node as an error message shows it: 'text' (quoted), 22, true (a boolean), a list."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    text = str(node.value)
    if node.tag == _STR:
        return repr(text if len(text) <= 60 else text[:57] + "...")
    if node.tag == _NULL:
        return "nothing (null)"
    return f"{text} (a boolean)" if node.tag == _BOOL else text


def _scalar(node: Node, *tags: str) -> ScalarNode | None:
    """``node`` if it is a scalar tagged with one of ``tags``."""
    return node if isinstance(node, ScalarNode) and node.tag in tags else None


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=2)
    return f"did you mean {' or '.join(map(repr, close))}? " if close else ""


# --- validating -------------------------------------------------------------------------


class _Reader:
    """Turns the node tree of one file into a Manifest, failing at the first problem."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, node: Node, path: str, message: str) -> NoReturn:
        _fail(self.file, node, path, message)

    # Shapes. Each takes the value node and its key path, and returns the Python value.

    def mapping(
        self, node: Node, path: str, allowed: Sequence[str] | None = None, where: str = ""
    ) -> _Fields:
        """Key -> (key node, value node): keys are strings, unique, and (if given) allowed.

        ``where`` says where an unknown key was found ("in cluster 'box'").
        """
        if not isinstance(node, MappingNode):
            keys = f" (keys: {', '.join(sorted(allowed))})" if allowed else ""
            self.fail(node, path, f"expected a mapping{keys}, got {_describe(node)}")
        fields: _Fields = {}
        for key, value in node.value:
            key_path = f"{path}.{key.value}" if path else str(key.value)
            if key.tag != _STR:
                hint = "; quote it" if isinstance(key, ScalarNode) else ""
                self.fail(key, path, f"expected a name as key, got {_describe(key)}{hint}")
            if key.value in fields:
                first = fields[key.value][0].start_mark.line + 1
                why = f"duplicate key {key.value!r} (first on line {first}); give it once"
                self.fail(key, key_path, why)
            if allowed is not None and key.value not in allowed:
                self.fail(key, key_path, self.unknown(key.value, where, allowed))
            fields[key.value] = (key, value)
        return fields

    @staticmethod
    def unknown(key: str, where: str, allowed: Sequence[str]) -> str:
        return (
            f"unknown key {key!r} {where}; {_suggest(key, allowed)}"
            f"expected one of: {', '.join(sorted(allowed))}"
        )

    def string(self, node: Node, path: str) -> str:
        if node.tag == _STR and isinstance(node, ScalarNode) and node.value:
            return str(node.value)
        hint = "; quote it to use it as text" if node.tag in {_INT, _FLOAT, _BOOL} else ""
        self.fail(node, path, f"expected a non-empty string, got {_describe(node)}{hint}")

    def strings(self, node: Node, path: str) -> tuple[str, ...]:
        if isinstance(node, SequenceNode):
            return tuple(self.string(item, f"{path}[{i}]") for i, item in enumerate(node.value))
        hint = f"; write [{node.value}]" if node.tag == _STR else ""
        self.fail(node, path, f"expected a list of strings, got {_describe(node)}{hint}")

    def boolean(self, node: Node, path: str) -> bool:
        if not (scalar := _scalar(node, _BOOL)):
            self.fail(node, path, f"expected true or false, got {_describe(node)}")
        return _CONSTRUCT.construct_yaml_bool(scalar)

    def integer(self, node: Node, path: str, low: int, high: int | None = None) -> int:
        # The YAML tag decides, not Python's isinstance: `true` must not pass for 1.
        scalar = _scalar(node, _INT)
        value = _CONSTRUCT.construct_yaml_int(scalar) if scalar else None
        if value is None or value < low or (high is not None and value > high):
            expected = f"from {low} to {high}" if high is not None else f"of at least {low}"
            self.fail(node, path, f"expected an integer {expected}, got {_describe(node)}")
        return value

    def number(self, node: Node, path: str, *, positive: bool) -> float:
        value: float | None = None
        if scalar := _scalar(node, _INT):
            value = _CONSTRUCT.construct_yaml_int(scalar)
        elif scalar := _scalar(node, _FLOAT):
            value = _CONSTRUCT.construct_yaml_float(scalar)
        elif (scalar := _scalar(node, _STR)) and scalar.style is None:
            # YAML 1.1 reads a plain 4e9 as text; whoever wrote it meant a number.
            value = float(scalar.value) if _EXPONENT.fullmatch(scalar.value) else None
        if value is None or not math.isfinite(value) or value < 0 or (positive and value == 0):
            expected = "greater than 0" if positive else "of at least 0"
            self.fail(node, path, f"expected a number {expected}, got {_describe(node)}")
        return value

    def optional(
        self, fields: _Fields, key: str, path: str, read: Callable[[Node, str], _T]
    ) -> _T | None:
        """The value under ``key``, or None when the key is absent or null (``key: ~``)."""
        if key not in fields or fields[key][1].tag == _NULL:
            return None
        return read(fields[key][1], f"{path}.{key}" if path else key)

    # The parts of the manifest.

    def manifest(self, root: Node, path: Path) -> Manifest:
        top = self.mapping(root, "", schema.TOP_KEYS, "at the top level")
        clusters = {"local": schema.LOCAL_CLUSTER}
        for name, (key, node) in (self.optional(top, "clusters", "", self.mapping) or {}).items():
            if not schema.CLUSTER_NAME.match(name):
                self.fail(
                    key,
                    f"clusters.{name}",
                    "a cluster name is a letter or digit, then letters, digits, _ . -",
                )
            clusters[name] = self.cluster(name, node)
        default = self.optional(top, "default_cluster", "", self.string) or "local"
        if default not in clusters:
            self.fail(top["default_cluster"][1], "default_cluster", self.missing(default, clusters))
        functions = {}
        for name, (key, node) in (self.optional(top, "functions", "", self.mapping) or {}).items():
            if not schema.FUNCTION_NAME.match(name):
                self.fail(
                    key,
                    f"functions.{name}",
                    "a function name is a letter or _, then letters, digits, _ -",
                )
            functions[name] = self.function(name, node, clusters)
        reqs = self.optional(top, "reqs", "", self.strings)
        return Manifest(
            path=path, default_cluster=default, clusters=clusters, reqs=reqs, functions=functions
        )

    @staticmethod
    def missing(name: str, clusters: Sequence[str] | dict[str, ClusterSpec]) -> str:
        known = sorted(clusters)
        return f"unknown cluster {name!r}; {_suggest(name, known)}defined: {', '.join(known)}"

    def cluster(self, name: str, node: Node) -> ClusterSpec:
        path = f"clusters.{name}"
        fields = self.mapping(node, path)
        if "type" not in fields:
            self.fail(node, path, "missing key 'type'; expected one of: local, ssh, sky")
        kind = self.string(fields["type"][1], f"{path}.type")
        if kind not in schema.CLUSTER_KEYS:
            why = f"unknown type {kind!r}; {_suggest(kind, list(schema.CLUSTER_KEYS))}"
            self.fail(fields["type"][1], f"{path}.type", why + "expected one of: local, ssh, sky")
        if name == "local" and kind != "local":
            why = "the cluster named 'local' is this machine: its type must be local"
            self.fail(fields["type"][1], f"{path}.type", why)
        allowed = schema.CLUSTER_KEYS[kind]
        for key, (key_node, _) in fields.items():
            if key not in allowed:
                owners = [t for t, keys in schema.CLUSTER_KEYS.items() if key in keys]
                why = f" (a key of {owners[0]} clusters; this one is {kind})" if owners else ""
                where = f"in cluster {name!r}{why}"
                self.fail(key_node, f"{path}.{key}", self.unknown(key, where, allowed))
        get = self.optional
        host = get(fields, "host", path, self.string)
        hosts = get(fields, "hosts", path, self.strings)
        if host and hosts:
            self.fail(fields["hosts"][0], f"{path}.hosts", "give either host or hosts, not both")
        if kind == "ssh" and not (host or hosts):
            why = "an ssh cluster needs host (one machine) or hosts (a list of machines)"
            self.fail(node, path, why)
        return ClusterSpec(
            name=name,
            type=kind,
            host=host,
            hosts=hosts or (),
            user=get(fields, "user", path, self.string),
            key=get(fields, "key", path, self.string),
            port=get(fields, "port", path, partial(self.integer, low=1, high=65535)),
            instance_type=get(fields, "instance_type", path, self.string),
            provider=get(fields, "provider", path, self.string),
            region=get(fields, "region", path, self.string),
            use_spot=get(fields, "use_spot", path, self.boolean) or False,
            num_nodes=get(fields, "num_nodes", path, partial(self.integer, low=1)) or 1,
            autostop_mins=get(fields, "autostop_mins", path, partial(self.integer, low=0)),
            image_id=get(fields, "image_id", path, self.string),
            disk_size=get(fields, "disk_size", path, partial(self.integer, low=1)),
            home=get(fields, "home", path, self.string),
        )

    def function(self, name: str, node: Node, clusters: dict[str, ClusterSpec]) -> FunctionSpec:
        path = f"functions.{name}"
        fields = self.mapping(node, path, schema.FUNCTION_KEYS, f"in function {name!r}")
        if "entrypoint" not in fields:
            self.fail(node, path, "missing key 'entrypoint' (like models.sd:generate)")
        entry_node = fields["entrypoint"][1]
        entrypoint = self.string(entry_node, f"{path}.entrypoint")
        if not schema.is_entrypoint(entrypoint):
            why = f"expected module:function (like models.sd:generate), got {entrypoint!r}"
            self.fail(entry_node, f"{path}.entrypoint", why)
        cluster = self.optional(fields, "cluster", path, self.string)
        if cluster is not None and cluster not in clusters:
            self.fail(fields["cluster"][1], f"{path}.cluster", self.missing(cluster, clusters))
        return FunctionSpec(
            name=name,
            entrypoint=entrypoint,
            cluster=cluster,
            reqs=self.optional(fields, "reqs", path, self.strings),
            resources=self.optional(fields, "resources", path, self.resources) or {},
            timeout=self.optional(fields, "timeout", path, partial(self.number, positive=True)),
        )

    def resources(self, node: Node, path: str) -> dict[str, float]:
        resources = {}
        for name, (key, value) in self.mapping(node, path).items():
            if builtin := schema.misspelt_resource(name):
                why = f"unknown resource {name!r}; did you mean {builtin!r}?"
                self.fail(key, f"{path}.{name}", why + " (a custom name must not resemble it)")
            if not name.isidentifier():
                self.fail(key, f"{path}.{name}", "a resource name is a Python identifier")
            resources[name] = self.number(value, f"{path}.{name}", positive=False)
        return resources
