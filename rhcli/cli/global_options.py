"""Global options after the command: `rhcli run fn 1 2 --json` as `rhcli --json run fn 1 2`.

As kubectl's and gh's persistent flags: `--json`, `--debug`, `-f/--file PATH` and
`-c/--cluster NAME` may follow the command. Before parsing, each one written after the
command is moved in front of it, unless the command has an option of that name itself
(`logs -f` is follow; `get -c` is get's own `--cluster`, which means the same). Nothing
after `--` moves: that is where values starting with `-` go.
"""

from __future__ import annotations

from typing import Any

FLAGS = ("--json", "--debug")
WITH_VALUE = ("-f", "--file", "-c", "--cluster")


def hoist(argv: list[str], group: Any) -> list[str]:
    """argv with the global options that follow the command moved before it. group is
    the click group of rhcli (its commands and their options). Pure: argv is unchanged."""
    at = _command_index(argv)
    if at is None or argv[at] not in getattr(group, "commands", {}):
        return argv
    own, valued = _options_of(group.commands[argv[at]])
    moved: list[str] = []
    rest: list[str] = []
    i = at + 1
    while i < len(argv):
        word = argv[i]
        name = word.split("=", 1)[0]
        if word == "--":
            rest.extend(argv[i:])
            break
        if name in own:
            rest.append(word)
            if name in valued and "=" not in word and i + 1 < len(argv):
                rest.append(argv[i + 1])  # its value stays with it, whatever it looks like
                i += 1
        elif word in FLAGS:
            moved.append(word)
        elif name in WITH_VALUE and ("=" in word or i + 1 < len(argv)):
            moved.append(word)
            if "=" not in word:
                moved.append(argv[i + 1])
                i += 1
        else:
            rest.append(word)
        i += 1
    return [*argv[:at], *moved, argv[at], *rest]


def wants(argv: list[str], flag: str) -> bool:
    """Whether flag is given as a global option (before the command, once hoisted)."""
    at = _command_index(argv)
    return flag in (argv if at is None else argv[:at])


def _command_index(argv: list[str]) -> int | None:
    """Where the command name is: the first word that is not a global option or the
    value of one; None when there is none (`rhcli --version`)."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            return None
        if word in WITH_VALUE:
            i += 2
            continue
        if word.startswith("-"):
            i += 1
            continue
        return i
    return None


def _options_of(command: Any) -> tuple[set[str], set[str]]:
    """The command's own option names, and those of them that take a value."""
    own: set[str] = set()
    valued: set[str] = set()
    for param in getattr(command, "params", []):
        if getattr(param, "param_type_name", "") != "option":
            continue
        names = [*param.opts, *param.secondary_opts]
        own.update(names)
        if not (getattr(param, "is_flag", False) or getattr(param, "count", False)):
            valued.update(names)
    return own, valued
