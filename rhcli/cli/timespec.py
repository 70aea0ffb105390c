"""Times as people write and read them: `--since 10m`, "5m ago", "1m02s".

`--since` takes a duration back from now (`90s`, `10m`, `2h`, `3d`, `1w`; as kubectl's
`--since`) or a point in time (`2026-11-26`, `2026-11-26T11:00`, `2026-11-26 11:00:05`,
local time unless it carries an offset or `Z`; as gh's `--created`).
"""

from __future__ import annotations

import datetime
import re
import time

from rhcli.errors import UsageError

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d|w)$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, *, now: float | None = None) -> float:
    """The unix time `--since text` names; UsageError saying what it takes otherwise."""
    spec = text.strip()
    current = time.time() if now is None else now
    match = _DURATION.match(spec)
    if match:
        return current - float(match.group(1)) * _SECONDS[match.group(2)]
    try:
        moment = datetime.datetime.fromisoformat(spec.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--since {text!r} is neither a duration (30s, 10m, 2h, 3d, 1w) nor a date or "
            "time (2026-11-26, 2026-11-26T11:00, 2026-11-26 11:00:05+00:00)"
        ) from None
    return moment.timestamp()  # a naive time is local time


def age(timestamp: float | None, *, now: float | None = None) -> str:
    """How long ago: "12s ago", "5m ago", "3h ago", "2d ago"; a date past 30 days; "-"."""
    if not timestamp:
        return "-"
    seconds = max(0.0, (time.time() if now is None else now) - timestamp)
    if seconds < 60:
        return f"{int(seconds)}s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)}m ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h ago"
    if seconds < 30 * 86400:
        return f"{int(seconds // 86400)}d ago"
    return time.strftime("%Y-%m-%d", time.localtime(timestamp))


def duration(seconds: float | None) -> str:
    """A duration the way people read it: "6ms", "1.25s", "59.9s", "1m02s", "2h05m"; "-"
    when there is none."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        minutes, rest = divmod(int(seconds), 60)
        return f"{minutes}m{rest:02d}s"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}h{rest // 60:02d}m"
