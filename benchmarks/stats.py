"""Timing loops, summaries and the table: the arithmetic every case shares."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Units whose larger values are better (a rate): their ratio to a floor is inverted, so
# that a ratio always reads "how many times the floor's cost".
RATE_UNITS = frozenset({"calls/s", "items/s"})


def timed(fn: Callable[[], Any], *, calls: int, warmup: int) -> list[float]:
    """Seconds per call of fn, after warmup untimed calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def ms(samples_s: list[float]) -> list[float]:
    return [s * 1000.0 for s in samples_s]


def summarize(values: list[float]) -> dict[str, float]:
    """n, median, p10, p90, p99, spread (p90 - p10), stdev, mean, min, max."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("no samples")
    if n == 1:
        (v,) = ordered
        p10 = p90 = p99 = v
    else:
        cuts = statistics.quantiles(ordered, n=100, method="inclusive")
        p10, p90, p99 = cuts[9], cuts[89], cuts[98]
    return {
        "n": n,
        "median": statistics.median(ordered),
        "p10": p10,
        "p90": p90,
        "p99": p99,
        "spread": p90 - p10,
        "stdev": statistics.stdev(ordered) if n > 1 else 0.0,
        "mean": statistics.fmean(ordered),
        "min": ordered[0],
        "max": ordered[-1],
    }


@dataclass
class Row:
    """One line of the table: a case (or a floor) and its samples.

    floor names the rows whose medians, added up, are this row's floor; the ratio is
    median / floor (for rates: floor / median), so 1.0 means "costs what the floor costs".
    """

    key: str
    label: str
    unit: str
    values: list[float]
    floor: tuple[str, ...] = ()
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> dict[str, float]:
        return summarize(self.values)


def ratio(row: Row, rows: dict[str, Row]) -> float | None:
    if not row.floor or any(key not in rows for key in row.floor):
        return None
    floor = sum(rows[key].summary["median"] for key in row.floor)
    median = row.summary["median"]
    if row.unit in RATE_UNITS:
        return floor / median if median else None
    return median / floor if floor else None


def render_table(rows: dict[str, Row]) -> str:
    header = (
        f"{'case':<46} {'n':>5} {'median':>10} {'p99':>10} {'p90-p10':>9} {'unit':<7} "
        f"{'ratio':>6}  floor"
    )
    lines = [header, "-" * len(header)]
    for row in rows.values():
        s = row.summary
        r = ratio(row, rows)
        lines.append(
            f"{row.label:<46} {s['n']:>5} {_num(s['median']):>10} {_num(s['p99']):>10} "
            f"{_num(s['spread']):>9} {row.unit:<7} {'' if r is None else f'{r:.2f}':>6}  "
            + (" + ".join(row.floor) if row.floor else "")
        )
    return "\n".join(lines)


def _num(value: float) -> str:
    if value >= 1000:
        return f"{value:.0f}"
    if value >= 100:
        return f"{value:.1f}"
    return f"{value:.3f}" if value < 10 else f"{value:.2f}"
