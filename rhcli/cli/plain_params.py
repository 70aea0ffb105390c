"""Plain conversions for the CLI's parameters, so a command does not import pydantic.

Typer (0.2x) turns every parameter a command parses into a pydantic ``TypeAdapter``:
importing pydantic and building the adapters cost about 150 ms of every `rhcli run`
(more than the call itself; `--help` parses nothing and never paid it). Our parameters
are all of a few plain types (str, int, float, bool, list[str], a Path the command
checks itself), for which a conversion
is one line; ``install`` gives each such parameter of a command tree its conversion up
front, and Typer uses it instead of building an adapter. Parameters of other types
(paths, choices, files) keep Typer's own handling.

Typer's hook for this (``_TyperParameter._runtime_param``, a ``RuntimeParam``) is not a
public API: when a Typer version lacks it, ``install`` changes nothing and Typer
converts as before (slower, same results). tests/cli/test_plain_params.py fails when the
installed Typer no longer takes the conversions, so an upgrade cannot lose them silently.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import typer


def install(command: Any, *, help_names: tuple[str, ...] = ("-h", "--help")) -> int:
    """Give every plain parameter of command (and of its subcommands) its conversion,
    the help option (made on first use, named help_names) included; returns how many
    parameters got one. Idempotent."""
    try:
        from typer._coercion import RuntimeParam
    except ImportError:  # a Typer without the adapter layer: nothing to replace
        return 0

    class PlainParam(RuntimeParam):  # type: ignore[misc]
        """One parameter's conversion from the command line's string."""

        def __init__(self, descriptor: Any, convert: Callable[[Any], Any]) -> None:
            super().__init__(
                parameter_info=descriptor.parameter_info, annotation=descriptor.annotation
            )
            object.__setattr__(self, "convert", convert)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                return self.convert(value)  # type: ignore[attr-defined]
            except ValueError as exc:
                raise typer.BadParameter(str(exc), ctx=ctx, param=param) from None

    count = 0
    for param in _parameters(command, help_names):
        if getattr(param, "_runtime_param", False) is not None:
            continue  # not Typer's kind of parameter, or converted already
        descriptor = getattr(param, "type_descriptor", None)
        convert = _conversion(descriptor) if descriptor is not None else None
        if convert is not None:
            param._runtime_param = PlainParam(descriptor, convert)
            count += 1
    return count


def _parameters(command: Any, help_names: tuple[str, ...]) -> list[Any]:
    found = list(getattr(command, "params", ()))
    make_help = getattr(command, "get_help_option", None)
    if make_help is not None:
        # Made (and kept) on first use from the context's names: make it now.
        help_option = make_help(SimpleNamespace(help_option_names=list(help_names)))
        if help_option is not None:
            found.append(help_option)
    for sub in getattr(command, "commands", {}).values():
        found += _parameters(sub, help_names)
    return found


def _conversion(descriptor: Any) -> Callable[[Any], Any] | None:
    """The conversion for a parameter's annotation, or None to leave it to Typer."""
    info = descriptor.parameter_info
    if getattr(info, "parser", None) is not None or getattr(info, "click_type", None):
        return None
    annotation = descriptor.annotation
    if descriptor.is_path and annotation is Path and _unconstrained_path(info):
        return _path  # an --output FILE the command checks itself
    if descriptor.file_annotation is not None or descriptor.is_choice or descriptor.is_path:
        return None
    if annotation is str:
        return _text
    if annotation is bool:
        return _flag
    if annotation in (int, float):
        return _number(annotation, low=info.min, high=info.max)
    if annotation == list[str]:
        return _texts
    return None


# Typer's path checks, at the values that mean "no check"; a path asking for any is Typer's.
_PLAIN_PATH = {
    "exists": False,
    "file_okay": True,
    "dir_okay": True,
    "writable": False,
    "readable": True,
    "resolve_path": False,
    "allow_dash": False,
    "path_type": None,
}


def _unconstrained_path(info: Any) -> bool:
    return all(getattr(info, name, value) == value for name, value in _PLAIN_PATH.items())


def _path(value: Any) -> Path:
    return Path(_text(value))


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not text")
    return value


def _texts(value: Any) -> list[str]:
    values = value if isinstance(value, (list, tuple)) else [value]
    return [_text(item) for item in values]


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{value!r} is not a boolean (true/false)")


def _number(kind: type, *, low: Any, high: Any) -> Callable[[Any], Any]:
    name = "an integer" if kind is int else "a number"

    def convert(value: Any) -> Any:
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not {name}") from None
        if low is not None and number < low:
            raise ValueError(f"{value} is below the minimum, {low}")
        if high is not None and number > high:
            raise ValueError(f"{value} is above the maximum, {high}")
        return number

    return convert
