"""Global options after the command are moved before it (rhcli.cli.global_options), unless
the command has an option of that name itself; nothing after `--` moves."""

from __future__ import annotations

import typer

from rhcli.cli.global_options import hoist, wants
from rhcli.cli.main import app

GROUP = typer.main.get_command(app)


def test_flags_after_the_command_move_before_it() -> None:
    assert hoist(["run", "fn", "1", "2", "--json"], GROUP) == ["--json", "run", "fn", "1", "2"]
    assert hoist(["runs", "--debug", "-n", "3"], GROUP) == ["--debug", "runs", "-n", "3"]


def test_options_with_a_value_move_with_it() -> None:
    assert hoist(["up", "--file", "x.yaml"], GROUP) == ["--file", "x.yaml", "up"]
    assert hoist(["status", "-f", "x.yaml", "box"], GROUP) == ["-f", "x.yaml", "status", "box"]
    assert hoist(["map", "fn", "1", "--cluster=box"], GROUP) == ["--cluster=box", "map", "fn", "1"]


def test_a_commands_own_option_of_that_name_stays() -> None:
    # logs -f is --follow; get -c is get's own --cluster; run has its own -c too.
    assert hoist(["logs", "-f", "last"], GROUP) == ["logs", "-f", "last"]
    assert hoist(["get", "last", "-c", "box"], GROUP) == ["get", "last", "-c", "box"]


def test_the_value_of_a_commands_own_option_is_never_taken_for_a_global() -> None:
    argv = ["run", "fn", "--args-json", "--json"]
    assert hoist(argv, GROUP) == argv


def test_nothing_after_double_dash_moves() -> None:
    argv = ["run", "fn", "--", "--json", "-c"]
    assert hoist(argv, GROUP) == argv


def test_global_options_before_the_command_and_unknown_commands_are_left_alone() -> None:
    assert hoist(["--json", "-c", "box", "runs"], GROUP) == ["--json", "-c", "box", "runs"]
    assert hoist(["frob", "--json"], GROUP) == ["frob", "--json"]


def test_wants_reads_only_the_global_part() -> None:
    assert wants(["--json", "run", "fn"], "--json")
    assert not wants(["run", "fn", "--", "--json"], "--json")
    assert wants(["-c", "box", "--json"], "--json")  # no command at all
