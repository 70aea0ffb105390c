"""map: 1,000 trivial items (beside bare Ray maps of the same function), and 100,000
items in a child client (time, the client's peak RSS, the daemon's peak RSS): a whole
map (journaled, as every map is), then a map whose every 10th item fails and its resume
(90,000 results reused from the journal and the cluster, 10,000 items run again), each
in a client process of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.harness import REPO, Bench, proc_status_kib, reset_peak_rss
from benchmarks.stats import Row, ms, timed
from benchmarks.workload import add, flaky_add

BIG_MAP = 100_000


def run(bench: Bench) -> list[Row]:
    import rhcli as rh

    assert bench.target is not None
    r = bench.reps
    fn = rh.function(add, system=bench.target.cluster, reqs=[])
    items = list(range(1000))

    def one_map() -> None:
        out = fn.map(items, items)
        assert out[-1] == 2 * items[-1]

    bench.log(f"  map of 1,000: {r.map_reps} maps")
    small = timed(one_map, calls=r.map_reps, warmup=1)
    rows = [
        Row(
            "map_1k",
            "rhcli map, 1,000 items",
            "ms",
            ms(small),
            floor=("ray_pool_map_1k",),
        ),
        Row(
            "map_1k_vs_tasks",
            "  the same, beside bare Ray tasks",
            "ms",
            ms(small),
            floor=("ray_tasks_map_1k",),
        ),
    ]
    if bench.target.name == "local":  # the child client is a local one
        rows += big_map(bench)
        rows += resumed_map(bench)
    return rows


def resumed_map(bench: Bench) -> list[Row]:
    """A 100,000-item map with 10% failed, then its resume: time and peak memory of each
    client and of the daemon, and the journal's size."""
    assert bench.target is not None
    pid = bench.target.daemon_pid()
    rows: dict[str, list[float]] = {}
    for rep in range(bench.reps.big_map_reps):
        fixed = bench.home / f"fixed-{rep}"
        map_id = ""
        for phase in ("partial", "resume"):
            bench.log(f"  map of {BIG_MAP:,}, {phase}: {rep + 1} of {bench.reps.big_map_reps}")
            reset = pid is not None and reset_peak_rss(pid)
            if pid is not None:
                rows.setdefault(f"{phase}_daemon_before", []).append(
                    proc_status_kib(pid, "VmRSS") / 1024
                )
            report = child_client(bench, phase, str(fixed), map_id)
            map_id = str(report["map_id"])
            rows.setdefault(phase, []).append(report["seconds"])
            rows.setdefault(f"{phase}_client_peak", []).append(report["maxrss_kib"] / 1024)
            rows.setdefault(f"{phase}_client_before", []).append(report["rss_before_kib"] / 1024)
            rows.setdefault(f"{phase}_journal", []).append(report["journal_bytes"] / 2**20)
            if pid is not None and reset:
                rows.setdefault(f"{phase}_daemon_peak", []).append(
                    proc_status_kib(pid, "VmHWM") / 1024
                )
            fixed.touch()  # what failed is fixed: the resume runs it
    labels = {
        "partial": (f"map of {BIG_MAP:,}, every 10th item failing", "s"),
        "partial_client_peak": ("  client peak RSS (VmHWM)", "MiB"),
        "partial_client_before": ("  client RSS before the map", "MiB"),
        "partial_daemon_peak": ("  daemon peak RSS (VmHWM)", "MiB"),
        "partial_daemon_before": ("  daemon RSS before", "MiB"),
        "partial_journal": ("  the map's journal on disk", "MiB"),
        "resume": (f"resume of it: {BIG_MAP // 10:,} run again, the rest reused", "s"),
        "resume_client_peak": ("  client peak RSS (VmHWM)", "MiB"),
        "resume_client_before": ("  client RSS before the resume", "MiB"),
        "resume_daemon_peak": ("  daemon peak RSS (VmHWM)", "MiB"),
        "resume_daemon_before": ("  daemon RSS before", "MiB"),
        "resume_journal": ("  the map's journal on disk after it", "MiB"),
    }
    return [
        Row(f"map_100k_{key}", label, unit, rows[key])
        for key, (label, unit) in labels.items()
        if key in rows
    ]


def big_map(bench: Bench) -> list[Row]:
    assert bench.target is not None
    pid = bench.target.daemon_pid()
    seconds, client_peak, client_before, daemon_peak, daemon_before = [], [], [], [], []
    for rep in range(bench.reps.big_map_reps):
        bench.log(f"  map of {BIG_MAP:,}: {rep + 1} of {bench.reps.big_map_reps}")
        reset = pid is not None and reset_peak_rss(pid)
        if pid is not None:
            daemon_before.append(proc_status_kib(pid, "VmRSS") / 1024)
        report = child_client(bench, "map")
        seconds.append(report["seconds"])
        client_peak.append(report["maxrss_kib"] / 1024)
        client_before.append(report["rss_before_kib"] / 1024)
        if pid is not None and reset:
            daemon_peak.append(proc_status_kib(pid, "VmHWM") / 1024)
    extra = {"daemon_rss_before_mib": daemon_before, "client_rss_before_mib": client_before}
    rows = [
        Row("map_100k", f"rhcli map, {BIG_MAP:,} items", "s", seconds, extra=extra),
        Row("map_100k_client_peak", "  client peak RSS (VmHWM)", "MiB", client_peak),
        Row("map_100k_client_before", "  client RSS before the map", "MiB", client_before),
    ]
    if daemon_peak:
        rows.append(Row("map_100k_daemon_peak", "  daemon peak RSS (VmHWM)", "MiB", daemon_peak))
    if daemon_before:
        rows.append(Row("map_100k_daemon_before", "  daemon RSS before", "MiB", daemon_before))
    return rows


def child_client(bench: Bench, mode: str, fixed: str = "", map_id: str = "") -> dict[str, float]:
    assert bench.target is not None
    argv = ["-m", "benchmarks.cases.maps", str(bench.home), str(BIG_MAP), mode, fixed, map_id]
    done = subprocess.run(
        [sys.executable, *argv],
        cwd=REPO,
        env=bench.target.cli_env(),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the {BIG_MAP:,}-item map client failed:\n{done.stderr[-3000:]}")
    report: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def _child(home: str, count: int, mode: str, fixed: str, map_id: str) -> None:
    """A client process of its own, so its peak RSS (VmHWM) is this map's alone. mode:
    "map" (a whole map), "partial" (every 10th item fails), "resume" (of map_id)."""
    import time

    import rhcli as rh
    from rhcli.clusters.local import LocalCluster
    from rhcli.map_journal import journals_root

    cluster = LocalCluster("local", home=Path(home))
    fn = rh.function(add if mode == "map" else flaky_add, system=cluster, reqs=[])
    assert fn(1, 2, *([fixed] if mode != "map" else [])) == 3  # connected, imports done
    rss_before = proc_status_kib("self", "VmRSS")
    start = time.perf_counter()
    if mode == "map":
        out = fn.map(range(count), range(count))
    elif mode == "partial":
        out = fn.map(range(count), range(count), fixed=fixed, return_exceptions=True)
        assert sum(isinstance(r, Exception) for r in out) == count // 10
    else:
        out = fn.map(range(count), range(count), fixed=fixed, resume=map_id)
    seconds = time.perf_counter() - start
    assert len(out) == count and out[-1] == 2 * (count - 1)
    maxrss = proc_status_kib("self", "VmHWM")  # ru_maxrss would carry the parent's peak across exec
    journal = journals_root() / fn.last_map_id
    size = sum(p.stat().st_size for p in journal.iterdir())
    print(
        json.dumps(
            {
                "seconds": seconds,
                "maxrss_kib": maxrss,
                "rss_before_kib": rss_before,
                "map_id": fn.last_map_id,
                "journal_bytes": size,
            }
        )
    )


if __name__ == "__main__":
    _child(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
