"""The targets of issue 16, judged on the rows of one run (and, for "nothing else gets
slower", on a baseline run given with --baseline).

Each target is a ratio of two rows measured in the same run, so a busy machine moves
both sides; a verdict is met, MISSED, or n/a (a row it needs was not measured).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.stats import Row, ratio

SSH = "ssh_"
# Target 5: how much worse than the baseline a row may read before it counts as slower
# (the spread of repeated quick runs on a loaded 2-core machine is about this).
NOISE = 0.15


def evaluate(rows: dict[str, Row], baseline: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Each target this run measured: met, MISSED or n/a, with the figures."""
    out: list[dict[str, Any]] = []

    def median(key: str) -> float:
        return rows[key].summary["median"]

    def check(target: str, met: bool | None, measured: str) -> None:
        verdict = "n/a" if met is None else ("met" if met else "MISSED")
        out.append({"target": target, "met": met, "verdict": verdict, "measured": measured})

    def within(target: str, key: str, floor_key: str, limit: float) -> None:
        if key in rows and floor_key in rows:
            r = median(key) / median(floor_key)
            check(
                target, r <= limit, f"{median(key):.0f} ms = {r:.2f}x of {median(floor_key):.0f} ms"
            )

    # 1. Whole processes over SSH, beside the same on the local cluster.
    within(
        "1. `rhcli run` on a warm SSH cluster within 1.3x of local", SSH + "cli_run", "cli_run", 1.3
    )
    within(
        "1. `rhcli up` of an unchanged SSH cluster within 1.3x of local",
        SSH + "cli_up_warm",
        "cli_up_warm",
        1.3,
    )
    # 2. A local run beside --help.
    within(
        "2. `rhcli run` on the warm local cluster within 1.5x of `rhcli --help`",
        "cli_run",
        "cli_help",
        1.5,
    )

    def floor_ratio(target: str, key: str, limit: float, digits: int) -> None:
        """key's ratio to its floor rows, at most limit."""
        if key in rows:
            r = ratio(rows[key], rows)
            assert r is not None
            check(
                target,
                r <= limit,
                f"{median(key):.{digits}f} ms = {r:.2f}x of {_floor(rows, key):.{digits}f} ms",
            )

    # 3. Calls beside bare gRPC + bare Ray.
    for prefix, where in (("", ""), (SSH, " (ssh)")):
        floor = "bare gRPC + bare Ray actor"
        floor_ratio(f"3. warm call within 1.5x of {floor}{where}", prefix + "call", 1.5, 2)
        if prefix + "call_stream" in rows and prefix + "call" in rows:
            extra = median(prefix + "call_stream") - median(prefix + "call")
            check(
                f"3. stream_logs=True within 1 ms of the warm call{where}",
                extra <= 1.0,
                f"{extra:+.2f} ms ({median(prefix + 'call_stream'):.2f} ms)",
            )
        floor_ratio(
            f"3. .remote() + rh.get within 1.8x of {floor}{where}", prefix + "remote_get", 1.8, 2
        )
    # 4. Payloads beside bare gRPC + bare Ray moving the same bytes; over SSH beside local.
    payloads = (("result_1mb_vs_both", "1 MB result"), ("arg_10mb_vs_both", "10 MB argument"))
    for key, what in payloads:
        floor_ratio(f"4. {what} within 1.5x of bare gRPC + bare Ray", key, 1.5, 1)
    for key, what in (("result_1mb", "1 MB result"), ("arg_10mb", "10 MB argument")):
        if SSH + key in rows and key in rows:
            r = median(SSH + key) / median(key)
            check(
                f"4. {what} over SSH within 2x of local",
                r <= 2.0,
                f"{median(SSH + key):.1f} ms = {r:.2f}x of {median(key):.1f} ms",
            )
    # Maps (issue 14): a map with failed items and its resume, through the journal, keep
    # client and daemon memory bounded (as a whole map must).
    for phase in ("partial", "resume"):
        key = f"map_100k_{phase}"
        if key + "_client_peak" in rows:
            client = median(key + "_client_peak") - median(key + "_client_before")
            daemon = (
                median(key + "_daemon_peak") - median(key + "_daemon_before")
                if key + "_daemon_peak" in rows
                else float("nan")
            )
            what = "with 10% failed" if phase == "partial" else "resumed (10% run again)"
            check(
                f"map of 100,000 {what}, through the journal: memory bounded",
                client < 256 and daemon < 256,
                f"{median(key):.1f} s; client +{client:.0f} MiB, daemon +{daemon:.0f} MiB "
                f"at peak; journal {median(key + '_journal'):.1f} MiB",
            )
    # 5. Nothing else slower than the baseline run.
    for key, label in _UNCHANGED:
        for prefix in ("", SSH):
            if prefix + key in rows:
                _no_slower(check, rows, prefix + key, label, baseline)
    return out


# Target 5: the rows of docs/benchmarks.md that must not get worse. Each is judged by its
# ratio to its floor where it has one (the floors move with the machine; for a rate the
# ratio is inverted, so larger is worse for all), else by its median.
_UNCHANGED = (
    ("map_1k", "map of 1,000"),
    ("log_latency", "log line latency"),
    ("enqueue", "enqueue throughput"),
    ("map_100k", "map of 100,000 (time)"),
    ("map_100k_client_peak", "map of 100,000: client peak RSS"),
    ("map_100k_daemon_peak", "map of 100,000: daemon peak RSS"),
    ("map_100k_partial", "map of 100,000 with 10% failed (time)"),
    ("map_100k_resume", "resume of that map (time)"),
)


def _no_slower(
    check: Any, rows: dict[str, Row], key: str, label: str, baseline: dict[str, Any] | None
) -> None:
    where = " (ssh)" if key.startswith(SSH) else ""
    now = ratio(rows[key], rows) or rows[key].summary["median"]
    then_row = (baseline or {}).get("rows", {}).get(key)
    if then_row is None:
        check(
            f"5. {label}{where} no worse than the baseline",
            None,
            f"{now:.3g} (no baseline row: give --baseline with a run of main)",
        )
        return
    then = then_row.get("ratio") or then_row["median"]
    check(
        f"5. {label}{where} no worse than the baseline",
        now <= then * (1 + NOISE),
        f"{now:.3g} now, {then:.3g} in the baseline ({_measure(rows[key])})",
    )


def _measure(row: Row) -> str:
    return "ratio to its floor" if row.floor else "median"


def _floor(rows: dict[str, Row], key: str) -> float:
    return sum(rows[k].summary["median"] for k in rows[key].floor)


def load_baseline(path: str | None) -> dict[str, Any] | None:
    return None if path is None else dict(json.loads(Path(path).read_text()))
