"""Call arguments from the command line: `name=value` keywords, anything else positional.

Each value is read as JSON when it parses as JSON (``50``, ``true``, ``[1, 2]``,
``{"a": 1}``, ``"text"``), else kept as the string it is (``A dog.``). ``--args-json``
gives exact types instead: ``{"args": [...], "kwargs": {...}}``, inline, from ``@FILE``,
or from stdin (``-``).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from rhcli.errors import UsageError

_KEYWORD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)


def parse_value(text: str) -> Any:
    """JSON when text is JSON, else text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_call_args(
    tokens: list[str],
    args_json: str | None = None,
) -> tuple[list[Any], dict[str, Any]]:
    """(args, kwargs) for a call; raises UsageError on a repeated keyword or bad JSON."""
    if args_json is not None:
        if tokens:
            raise UsageError("give call arguments either as ARGS or as --args-json, not both")
        text, where = read_args_json(args_json)
        return parse_args_document(text, where=where)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for token in tokens:
        match = _KEYWORD.match(token)
        if match is None:
            if kwargs:
                raise UsageError(
                    f"positional argument {token!r} follows a keyword argument; "
                    "put positional arguments first"
                )
            args.append(parse_value(token))
            continue
        name, value = match.groups()
        if name in kwargs:
            raise UsageError(f"keyword argument {name!r} is given twice")
        kwargs[name] = parse_value(value)
    return args, kwargs


def read_args_json(value: str) -> tuple[str, str]:
    """The document --args-json gives, and where it came from for messages: the value
    itself, the file `@FILE` names, or stdin for `-` (for arguments past the shell's
    argument limit). UsageError when the file cannot be read."""
    if value == "-":
        return sys.stdin.read(), "--args-json - (stdin)"
    if value.startswith("@"):
        path = value[1:]
        try:
            return Path(path).expanduser().read_text(), f"--args-json {value}"
        except OSError as exc:
            raise UsageError(f"cannot read --args-json {value}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise UsageError(f"--args-json {value} is not UTF-8 text (JSON is)") from None
    return value, "--args-json"


def parse_args_document(text: str, *, where: str) -> tuple[list[Any], dict[str, Any]]:
    """Read `{"args": [...], "kwargs": {...}}` (both keys optional)."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(document, dict) or set(document) - {"args", "kwargs"}:
        raise UsageError(f'{where} must be an object {{"args": [...], "kwargs": {{...}}}}')
    args = document.get("args", [])
    kwargs = document.get("kwargs", {})
    if not isinstance(args, list):
        raise UsageError(f'{where}: "args" must be a JSON array')
    if not isinstance(kwargs, dict):
        raise UsageError(f'{where}: "kwargs" must be a JSON object')
    return args, kwargs
