"""Help pages in the words of the docs: `rhcli run [OPTIONS] FN [ARGS]...`.

Typer writes a required argument as `{fn}` in the usage line and adds the Python type to
each argument's help (`fn <str>`, `args... <list[str]>`). Commands of rhcli use this
class instead: arguments show as their metavar (FN, RUN_ID, [CLUSTER], [ARGS]...), or
their name in capitals, bracketed when optional; an option's value as its metavar, or
its long name in capitals.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand


def examples(*lines: str) -> str:
    """A help page's epilog: an Examples section, its lines kept as written (the \\b
    stops click from re-wrapping them)."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)


class RhcliCommand(TyperCommand):
    """A Typer command whose usage line and Arguments section carry no type names."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        return pieces + [
            argument_name(param)
            for param in self.get_params(ctx)
            if param.param_type_name == "argument"
        ]

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments = []
        options = []
        for param in self.get_params(ctx):
            if getattr(param, "hidden", False):
                continue
            if param.param_type_name == "argument":
                arguments.append((argument_name(param), getattr(param, "help", None) or ""))
            elif param.param_type_name == "option":
                record = param.get_help_record(ctx)
                if record is not None:
                    options.append((option_names(param, record[0]), record[1]))
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        if options:
            with formatter.section("Options"):
                formatter.write_dl(options)


def argument_name(param: Any) -> str:
    """FN, [CLUSTER], [ARGS]...: the metavar when given, else the name in capitals,
    bracketed when optional, with "..." when it takes several values."""
    if param.metavar:
        return str(param.metavar)
    name = param.name.upper()
    if not param.required:
        name = f"[{name}]"
    return f"{name}..." if param.nargs != 1 else name


def option_names(param: Any, shown: str) -> str:
    """`-i, --input INPUT` for Typer's `-i, --input <str>`: an option without a metavar
    of its own shows its long name in capitals as its value's name."""
    if param.metavar or not shown.endswith(">") or " <" not in shown:
        return shown
    names = shown[: shown.rindex(" <")]
    longest = max([*param.opts, *param.secondary_opts], key=len)
    return f"{names} {longest.lstrip('-').replace('-', '_').upper()}"
