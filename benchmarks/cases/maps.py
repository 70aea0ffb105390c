"""map: 1,000 trivial items (beside bare Ray maps of the same function), and 100,000
items in a child client (time, the client's peak RSS, the daemon's peak RSS)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.harness import REPO, Bench, proc_status_kib, reset_peak_rss
from benchmarks.stats import Row, ms, timed
from benchmarks.workload import add

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
    return rows


def big_map(bench: Bench) -> list[Row]:
    assert bench.target is not None
    pid = bench.target.daemon_pid()
    seconds, client_peak, client_before, daemon_peak, daemon_before = [], [], [], [], []
    for rep in range(bench.reps.big_map_reps):
        bench.log(f"  map of {BIG_MAP:,}: {rep + 1} of {bench.reps.big_map_reps}")
        reset = pid is not None and reset_peak_rss(pid)
        if pid is not None:
            daemon_before.append(proc_status_kib(pid, "VmRSS") / 1024)
        report = child_client(bench)
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


def child_client(bench: Bench) -> dict[str, float]:
    assert bench.target is not None
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.cases.maps", str(bench.home), str(BIG_MAP)],
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


def _child(home: str, count: int) -> None:
    """A client process of its own, so its peak RSS (VmHWM) is this map's alone."""
    import time

    import rhcli as rh
    from rhcli.clusters.local import LocalCluster

    fn = rh.function(add, system=LocalCluster("local", home=Path(home)), reqs=[])
    assert fn(1, 2) == 3  # connected, imports done: what follows is the map's own
    rss_before = proc_status_kib("self", "VmRSS")
    start = time.perf_counter()
    out = fn.map(range(count), range(count))
    seconds = time.perf_counter() - start
    assert len(out) == count and out[-1] == 2 * (count - 1)
    maxrss = proc_status_kib("self", "VmHWM")  # ru_maxrss would carry the parent's peak across exec
    print(json.dumps({"seconds": seconds, "maxrss_kib": maxrss, "rss_before_kib": rss_before}))


if __name__ == "__main__":
    _child(sys.argv[1], int(sys.argv[2]))
