"""The daemon's RHCLI_* settings from the environment: defaults, and malformed values
refused with the variable's name (rhcli.config.daemon_settings)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rhcli.config.daemon_settings import daemon_settings
from rhcli.errors import UsageError


def test_unset_or_empty_settings_take_their_defaults() -> None:
    assert daemon_settings({}) == {
        "RHCLI_PORT": 0,
        "RHCLI_MAP_RETRIES": 2,
        "RHCLI_CANCEL_GRACE_S": 5.0,
        "RHCLI_RETENTION_DAYS": 7.0,
    }
    assert daemon_settings({"RHCLI_RETENTION_DAYS": " "})["RHCLI_RETENTION_DAYS"] == 7.0


def test_good_values_are_read() -> None:
    found = daemon_settings({"RHCLI_RETENTION_DAYS": "0.5", "RHCLI_PORT": "7000"})
    assert found["RHCLI_RETENTION_DAYS"] == 0.5 and found["RHCLI_PORT"] == 7000


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RHCLI_RETENTION_DAYS", "abc"),
        ("RHCLI_RETENTION_DAYS", "0"),
        ("RHCLI_RETENTION_DAYS", "nan"),
        ("RHCLI_PORT", "70000"),
        ("RHCLI_PORT", "1.5"),
        ("RHCLI_MAP_RETRIES", "-1"),
        ("RHCLI_CANCEL_GRACE_S", "soon"),
    ],
)
def test_a_malformed_value_is_refused_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(UsageError) as refused:
        daemon_settings({variable: value})
    assert f"{variable}={value!r}" in str(refused.value)


def test_the_daemon_refuses_a_malformed_setting_before_it_starts(tmp_path: object) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rhcli.server", "--home", str(tmp_path)],
        env={"RHCLI_RETENTION_DAYS": "abc", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "RHCLI_RETENTION_DAYS='abc'" in done.stderr
    assert "Traceback" not in done.stderr
