"""Help pages read like the docs: real examples, metavars in capitals, no Python type
names, and a command list that is never cut short."""

from __future__ import annotations

import re

import pytest

from rhcli.cli.main import app
from tests.conftest import run_cli

COMMANDS = sorted(info.name for info in app.registered_commands if info.name)
# What Typer writes when left alone: {fn}, <str>, args... <list[str]>, <int range>.
TYPE_NAMES = re.compile(r"\{[a-z_]+\}|<(str|int|float|bool|path|list\[str\]|int range)>")


def test_the_command_list_gives_each_command_whole(capsys: pytest.CaptureFixture[str]) -> None:
    done = run_cli("-h")
    assert done.returncode == 0
    listing = done.stdout.split("Commands:")[1].split("Examples:")[0]
    for name in COMMANDS:
        assert re.search(rf"^  {name}\s+\S", listing, re.M), name
    assert "..." not in listing


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_examples_and_no_type_names(command: str) -> None:
    done = run_cli(command, "-h")
    assert done.returncode == 0, done.stderr
    page = done.stdout
    assert not TYPE_NAMES.search(page), TYPE_NAMES.search(page)
    usage = page.splitlines()[0]
    assert usage.startswith(f"Usage: rhcli {command} [OPTIONS]")
    assert usage == usage.replace("[[", "["), usage  # no doubled brackets
    if command != "map":  # map's page is the maps engineer's to write
        examples = page.split("Examples:")[1]
        assert f"rhcli {command}" in examples or f"rhcli --json {command}" in examples


def test_usage_names_arguments_as_the_docs_do() -> None:
    assert run_cli("run", "-h").stdout.splitlines()[0] == "Usage: rhcli run [OPTIONS] FN [ARGS]..."
    assert run_cli("get", "-h").stdout.splitlines()[0] == "Usage: rhcli get [OPTIONS] RUN_ID"
    # Optional, since --endpoint NAME may stand in for it.
    assert run_cli("logs", "-h").stdout.splitlines()[0] == "Usage: rhcli logs [OPTIONS] [RUN_ID]"
    assert run_cli("up", "-h").stdout.splitlines()[0] == "Usage: rhcli up [OPTIONS] [CLUSTER]"


def test_root_help_says_global_options_may_follow_the_command() -> None:
    text = " ".join(run_cli("-h").stdout.split())
    assert "Global options go before or after the command" in text
