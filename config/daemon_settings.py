"""The daemon's settings that come from the environment, read and checked in one place.

Both sides read them: the daemon for its defaults, and the client before it stops or
starts a local daemon, so that a malformed value (``RHCLI_RETENTION_DAYS=abc``) is refused
with its name and what it takes while the running daemon is still there, rather than
after it was stopped, by a daemon that then fails to start.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rhcli.errors import UsageError


@dataclass(frozen=True)
class _Setting:
    variable: str
    default: str
    parse: Callable[[str], float]
    takes: str  # what a good value is, for the error message
    valid: Callable[[float], bool]


SETTINGS = (
    _Setting(
        "RHCLI_PORT",
        "0",
        int,
        "a port number from 0 (any free port) to 65535",
        lambda v: 0 <= v <= 65535,
    ),
    _Setting("RHCLI_MAP_RETRIES", "2", int, "a whole number, 0 or more", lambda v: v >= 0),
    _Setting(
        "RHCLI_CANCEL_GRACE_S", "5", float, "a number of seconds, 0 or more", lambda v: v >= 0
    ),
    _Setting(
        "RHCLI_RETENTION_DAYS",
        "7",
        float,
        "a number of days above 0 (0.5 is 12 hours)",
        lambda v: v > 0,
    ),
)


def daemon_settings(environ: Mapping[str, str] | None = None) -> dict[str, float]:
    """Each setting's value by variable name (the default where unset or empty).

    Raises UsageError naming the variable, its value and what it takes when one is
    malformed or out of range. Reads only; idempotent.
    """
    env = os.environ if environ is None else environ
    values: dict[str, float] = {}
    for setting in SETTINGS:
        raw = env.get(setting.variable, "").strip() or setting.default
        try:
            value = setting.parse(raw)
        except ValueError:
            value = None
        if value is None or not setting.valid(value):
            raise UsageError(
                f"{setting.variable}={raw!r} is not {setting.takes}; fix or unset it "
                "(nothing was stopped or started)"
            )
        values[setting.variable] = value
    return values
