"""Reading YAML safely into checked nodes, with errors that point at file, line and column.

A document is composed into nodes with a safe loader (never constructed into Python
objects), every tag beyond plain YAML is refused before anything else is looked at, and
``NodeReader`` reads each value as the shape a caller expects (a mapping of known keys, a
string, an integer in a range, ...), failing with a ManifestError at the first value that
does not fit. What the values mean is the caller's (``rhcli.config.manifest``).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Sequence
from typing import NoReturn, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from rhcli.errors import ManifestError

_T = TypeVar("_T")
Fields = dict[str, tuple[Node, Node]]  # key -> (key node, value node), in file order

_YAML = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_YAML + t for t in ("str", "int", "float", "bool", "null"))
_SEQ, _MAP = _YAML + "seq", _YAML + "map"
_EXPONENT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+")


class SafeTextLoader(yaml.SafeLoader):
    """SafeLoader that reads dates and ``=`` as plain strings.

    The manifest has no date fields, and a region or image id that happens to look like
    a date must stay the text it was written as.
    """


SafeTextLoader.yaml_implicit_resolvers = {
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


def compose(data: bytes, file: str) -> Node | None:
    try:
        return yaml.compose(data, Loader=SafeTextLoader)
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


def check_tags(node: Node, path: str, seen: set[int], file: str) -> None:
    """Refuse any tag beyond plain YAML, anywhere in the document (even unknown keys).

    Afterwards every scalar's tag is one of _SCALARS and converts cleanly, every list is
    tagged !!seq and every mapping !!map.
    """
    if id(node) in seen:  # an alias: already checked, and it may point at an ancestor
        return
    seen.add(id(node))
    tag = node.tag.replace(_YAML, "!!", 1)
    if node.tag == _YAML + "merge":
        fail(file, node, path, "merge keys (<<) are not supported; write the keys out")
    if node.tag not in {*_SCALARS, _SEQ, _MAP}:
        hint = "write plain YAML: strings, numbers, booleans, null, lists and mappings"
        fail(file, node, path, f"tag {tag} is not allowed; {hint}")
    if isinstance(node, ScalarNode):
        try:
            _SCALARS[node.tag](node)
        except (ValueError, KeyError, TypeError):  # an explicit `!!int abc`
            fail(file, node, path, f"tag {tag} does not fit {node.value!r}")
    elif node.tag != (_SEQ if isinstance(node, SequenceNode) else _MAP):
        fail(file, node, path, f"tag {tag} does not fit {describe(node)}")
    if isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            check_tags(item, f"{path}[{i}]", seen, file)
    elif isinstance(node, MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, ScalarNode) else "?"
            check_tags(key, path, seen, file)
            check_tags(value, f"{path}.{name}" if path else name, seen, file)


def fail(file: str, node: Node, path: str, message: str) -> NoReturn:
    mark = node.start_mark
    raise ManifestError(
        f"{path or 'top level'}: {message}", path=file, line=mark.line + 1, column=mark.column + 1
    )


def describe(node: Node) -> str:
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


def scalar_tagged(node: Node, *tags: str) -> ScalarNode | None:
    """``node`` if it is a scalar tagged with one of ``tags``."""
    return node if isinstance(node, ScalarNode) and node.tag in tags else None


def suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=2)
    return f"did you mean {' or '.join(map(repr, close))}? " if close else ""


class NodeReader:
    """Reads the values of one file's node tree as typed shapes, failing at the first
    value that does not fit (subclassed for what a file means)."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, node: Node, path: str, message: str) -> NoReturn:
        fail(self.file, node, path, message)

    # Shapes. Each takes the value node and its key path, and returns the Python value.

    def mapping(
        self, node: Node, path: str, allowed: Sequence[str] | None = None, where: str = ""
    ) -> Fields:
        """Key -> (key node, value node): keys are strings, unique, and (if given) allowed.

        ``where`` says where an unknown key was found ("in cluster 'box'").
        """
        if not isinstance(node, MappingNode):
            keys = f" (keys: {', '.join(sorted(allowed))})" if allowed else ""
            self.fail(node, path, f"expected a mapping{keys}, got {describe(node)}")
        fields: Fields = {}
        for key, value in node.value:
            key_path = f"{path}.{key.value}" if path else str(key.value)
            if key.tag != _STR:
                hint = "; quote it" if isinstance(key, ScalarNode) else ""
                self.fail(key, path, f"expected a name as key, got {describe(key)}{hint}")
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
            f"unknown key {key!r} {where}; {suggest(key, allowed)}"
            f"expected one of: {', '.join(sorted(allowed))}"
        )

    def string(self, node: Node, path: str) -> str:
        if node.tag == _STR and isinstance(node, ScalarNode) and node.value:
            return str(node.value)
        hint = "; quote it to use it as text" if node.tag in {_INT, _FLOAT, _BOOL} else ""
        self.fail(node, path, f"expected a non-empty string, got {describe(node)}{hint}")

    def strings(self, node: Node, path: str) -> tuple[str, ...]:
        if isinstance(node, SequenceNode):
            return tuple(self.string(item, f"{path}[{i}]") for i, item in enumerate(node.value))
        hint = f"; write [{node.value}]" if node.tag == _STR else ""
        self.fail(node, path, f"expected a list of strings, got {describe(node)}{hint}")

    def boolean(self, node: Node, path: str) -> bool:
        if not (scalar := scalar_tagged(node, _BOOL)):
            self.fail(node, path, f"expected true or false, got {describe(node)}")
        return _CONSTRUCT.construct_yaml_bool(scalar)

    def integer(self, node: Node, path: str, low: int, high: int | None = None) -> int:
        # The YAML tag decides, not Python's isinstance: `true` must not pass for 1.
        scalar = scalar_tagged(node, _INT)
        value = _CONSTRUCT.construct_yaml_int(scalar) if scalar else None
        if value is None or value < low or (high is not None and value > high):
            expected = f"from {low} to {high}" if high is not None else f"of at least {low}"
            self.fail(node, path, f"expected an integer {expected}, got {describe(node)}")
        return value

    def number(self, node: Node, path: str, *, positive: bool) -> float:
        value: float | None = None
        if scalar := scalar_tagged(node, _INT):
            value = _CONSTRUCT.construct_yaml_int(scalar)
        elif scalar := scalar_tagged(node, _FLOAT):
            value = _CONSTRUCT.construct_yaml_float(scalar)
        elif (scalar := scalar_tagged(node, _STR)) and scalar.style is None:
            # YAML 1.1 reads a plain 4e9 as text; whoever wrote it meant a number.
            value = float(scalar.value) if _EXPONENT.fullmatch(scalar.value) else None
        if value is None or not math.isfinite(value) or value < 0 or (positive and value == 0):
            expected = "greater than 0" if positive else "of at least 0"
            self.fail(node, path, f"expected a number {expected}, got {describe(node)}")
        return value

    def optional(
        self, fields: Fields, key: str, path: str, read: Callable[[Node, str], _T]
    ) -> _T | None:
        """The value under ``key``, or None when the key is absent or null (``key: ~``)."""
        if key not in fields or fields[key][1].tag == _NULL:
            return None
        return read(fields[key][1], f"{path}.{key}" if path else key)
