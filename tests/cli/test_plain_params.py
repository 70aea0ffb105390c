"""The CLI's parameters are converted without pydantic (rhcli.cli.plain_params), with the
same results and the same usage errors as Typer's own conversion."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import typer

from rhcli.cli import plain_params
from rhcli.cli.main import HELP_NAMES, app
from tests.conftest import run_cli

PLAIN = (str, int, float, bool, list[str])


def _command() -> Any:
    command = typer.main.get_command(app)
    plain_params.install(command, help_names=HELP_NAMES)
    return command


def _all_params(command: Any) -> list[Any]:
    found = list(command.params)
    for sub in getattr(command, "commands", {}).values():
        found += _all_params(sub)
    return found


def test_every_plain_parameter_of_every_command_gets_its_plain_conversion() -> None:
    # Fails when a Typer upgrade stops taking the conversions: the CLI would then import
    # pydantic on every command again, silently.
    params = _all_params(_command())
    plain = [p for p in params if p.type_descriptor.annotation in PLAIN]
    assert plain, "no plain parameters found: the test would pass for nothing"
    for param in plain:
        assert type(param._runtime_param).__name__ == "PlainParam", param.name


def test_no_parameter_of_rhclis_commands_is_left_to_typers_pydantic_conversion() -> None:
    # One parameter Typer converts itself imports pydantic for the whole command (an
    # --output Path did once): every one of ours has a plain conversion.
    left = [p.name for p in _all_params(_command()) if p._runtime_param is None]
    assert not left, left


def test_install_is_idempotent() -> None:
    command = _command()
    assert plain_params.install(command, help_names=HELP_NAMES) == 0


def test_parsing_a_run_imports_no_pydantic(tmp_path: Path) -> None:
    # A cluster the manifest does not name: the command fails after its options were
    # parsed, without needing a daemon. Every option of run is parsed, given or not
    # (--output's Path too).
    script = (
        "import sys\n"
        "from rhcli.cli.main import main\n"
        "try:\n"
        "    main(['-c', 'nowhere', 'run', 'mod:fn', '1', 'x=2', '--timeout', '5',"
        " '--no-stream-logs'])\n"
        "except SystemExit as exit:\n"
        "    print('EXIT', exit.code)\n"
        "print('PYDANTIC', 'pydantic' in sys.modules)\n"
    )
    (tmp_path / "runhouse.yaml").write_text("")
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert "EXIT 2" in done.stdout, done.stderr
    assert "unknown cluster" in done.stderr or "nowhere" in done.stderr
    assert "PYDANTIC False" in done.stdout


def test_a_number_that_is_not_one_is_a_usage_error_naming_the_option() -> None:
    done = run_cli("run", "mod:fn", "--timeout", "soon")
    assert done.returncode == 2
    assert "--timeout" in done.stderr
    assert "'soon' is not a number" in done.stderr


def test_an_integer_below_its_minimum_is_refused() -> None:
    done = run_cli("serve", "sq", "--min-replicas", "-1", "--max-replicas", "2")
    assert done.returncode == 2
    assert "--min-replicas" in done.stderr
    assert "below the minimum, 0" in done.stderr


def test_flags_and_repeated_options_keep_their_values() -> None:
    seen: dict[str, Any] = {}
    probe = typer.Typer()

    @probe.command()
    def cmd(
        name: str,
        count: int = 1,
        ratio: float = 0.5,
        loud: bool = False,
        tag: list[str] | None = typer.Option(None, "--tag"),  # noqa: B008
    ) -> None:
        seen.update(name=name, count=count, ratio=ratio, loud=loud, tag=tag)

    command = typer.main.get_command(probe)
    assert plain_params.install(command) >= 5
    args = ["x", "--count", "3", "--ratio", "2.5", "--loud", "--tag", "a", "--tag", "b"]
    command.main(args=args, standalone_mode=False)
    assert seen == {"name": "x", "count": 3, "ratio": 2.5, "loud": True, "tag": ["a", "b"]}
