"""Large values: a 1 MB result, a 10 MB argument (chunked upload), and behind --large a
500 MB argument and a 500 MB result with the client's and the daemon's peak memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.harness import REPO, Bench, proc_status_kib, reset_peak_rss
from benchmarks.stats import Row, ms, timed
from benchmarks.workload import blob, size

LARGE_BYTES = 500_000_000


def run(bench: Bench) -> list[Row]:
    import rhcli as rh

    assert bench.target is not None
    cluster = bench.target.cluster
    r = bench.reps
    make = rh.function(blob, system=cluster, reqs=[])
    measure = rh.function(size, system=cluster, reqs=[])

    bench.log(f"  1 MB result: {r.payload} calls")
    result = timed(lambda: make(bench.mb1), calls=r.payload, warmup=3)
    data = b"x" * bench.mb10
    bench.log(f"  10 MB argument: {r.payload} calls")
    argument = timed(lambda: measure(data), calls=r.payload, warmup=3)
    rows = [
        Row("result_1mb", "rhcli call, 1 MB result", "ms", ms(result), floor=("grpc_1mb_reply",)),
        Row(
            "arg_10mb",
            "rhcli call, 10 MB argument",
            "ms",
            ms(argument),
            floor=("grpc_10mb_request",),
        ),
        Row(
            "result_1mb_vs_both",
            "  1 MB result, beside gRPC + Ray",
            "ms",
            ms(result),
            floor=("grpc_1mb_reply", "ray_1mb_result"),
        ),
        Row(
            "arg_10mb_vs_both",
            "  10 MB argument, beside gRPC + Ray",
            "ms",
            ms(argument),
            floor=("grpc_10mb_request", "ray_10mb_arg"),
        ),
    ]
    if bench.large and bench.target.name == "local":  # the child client is a local one
        rows += large(bench)
    return rows


def large(bench: Bench) -> list[Row]:
    """500 MB each way, in a child client (its own peak RSS), once per direction."""
    assert bench.target is not None
    pid = bench.target.daemon_pid()
    rows = []
    for direction in ("argument", "result"):
        bench.log(f"  500 MB {direction}")
        reset = pid is not None and reset_peak_rss(pid)
        before = proc_status_kib(pid, "VmRSS") if pid else 0
        report = child_client(bench, direction)
        peak = proc_status_kib(pid, "VmHWM") if pid and reset else 0
        rows.append(
            Row(
                f"large_{direction}",
                f"rhcli call, 500 MB {direction}",
                "s",
                [report["seconds"]],
                extra={
                    "client_peak_rss_mib": report["maxrss_kib"] / 1024,
                    "client_rss_before_mib": report["rss_before_kib"] / 1024,
                    "daemon_rss_before_mib": before / 1024,
                    "daemon_peak_rss_mib": peak / 1024,
                },
            )
        )
        rows.append(
            Row(
                f"large_{direction}_daemon_peak",
                f"  daemon peak RSS (VmHWM), 500 MB {direction}",
                "MiB",
                [peak / 1024],
            )
        )
        rows.append(
            Row(
                f"large_{direction}_client_peak",
                f"  client peak RSS, 500 MB {direction}",
                "MiB",
                [report["maxrss_kib"] / 1024],
            )
        )
    return rows


def child_client(bench: Bench, direction: str) -> dict[str, float]:
    assert bench.target is not None
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.cases.payloads", str(bench.home), direction],
        cwd=REPO,
        env=bench.target.cli_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the 500 MB client failed:\n{done.stderr[-3000:]}")
    report: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def _child(home: str, direction: str) -> None:
    import time

    import rhcli as rh
    from rhcli.clusters.local import LocalCluster

    cluster = LocalCluster("local", home=Path(home))
    if direction == "argument":
        fn = rh.function(size, system=cluster, reqs=[])
        data = b"x" * LARGE_BYTES
        rss_before = proc_status_kib("self", "VmRSS")
        start = time.perf_counter()
        assert fn(data) == LARGE_BYTES
    else:
        fn = rh.function(blob, system=cluster, reqs=[])
        rss_before = proc_status_kib("self", "VmRSS")
        start = time.perf_counter()
        assert len(fn(LARGE_BYTES)) == LARGE_BYTES
    seconds = time.perf_counter() - start
    maxrss = proc_status_kib("self", "VmHWM")  # ru_maxrss would carry the parent's peak across exec
    print(json.dumps({"seconds": seconds, "maxrss_kib": maxrss, "rss_before_kib": rss_before}))


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2])
