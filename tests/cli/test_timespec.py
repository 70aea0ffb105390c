"""Times as people write and read them (rhcli.cli.timespec)."""

from __future__ import annotations

import datetime

import pytest

from rhcli.cli.timespec import age, duration, parse_since
from rhcli.errors import UsageError

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("text", "back"),
    [("90s", 90), ("10m", 600), ("2h", 7200), ("3d", 3 * 86400), ("1w", 7 * 86400), ("1.5h", 5400)],
)
def test_a_duration_counts_back_from_now(text: str, back: float) -> None:
    assert parse_since(text, now=NOW) == NOW - back


def test_a_date_or_time_is_local_unless_it_says_otherwise() -> None:
    local = datetime.datetime(2026, 11, 26, 11, 0).timestamp()
    assert parse_since("2026-11-26T11:00", now=NOW) == local
    assert parse_since("2026-11-26 11:00:00", now=NOW) == local
    utc = datetime.datetime(2026, 11, 26, tzinfo=datetime.timezone.utc).timestamp()
    assert parse_since("2026-11-26T00:00:00Z", now=NOW) == utc
    assert parse_since("2026-11-26T00:00+00:00", now=NOW) == utc


@pytest.mark.parametrize("text", ["yesterday", "10", "5 m", "-3h", ""])
def test_anything_else_is_refused_saying_what_is_taken(text: str) -> None:
    with pytest.raises(UsageError, match="neither a duration"):
        parse_since(text, now=NOW)


def test_ages_read_as_how_long_ago() -> None:
    assert age(NOW - 5, now=NOW) == "5s ago"
    assert age(NOW - 300, now=NOW) == "5m ago"
    assert age(NOW - 3 * 3600, now=NOW) == "3h ago"
    assert age(NOW - 2 * 86400, now=NOW) == "2d ago"
    long_ago = NOW - 40 * 86400
    assert age(long_ago, now=NOW) == datetime.date.fromtimestamp(long_ago).isoformat()
    assert age(None, now=NOW) == "-"


def test_durations_read_at_a_glance() -> None:
    assert [duration(s) for s in (0.0061, 1.254, 59.94, 62, 7500)] == [
        "6ms",
        "1.25s",
        "59.9s",
        "1m02s",
        "2h05m",
    ]
    assert duration(None) == "-"
