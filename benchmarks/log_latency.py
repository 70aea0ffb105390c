"""How long a line printed on the cluster takes to reach the client, measured on this machine.

    python benchmarks/log_latency.py [--lines N] [--interval S] [--json OUT]

The function below runs on the local cluster's real daemon and Ray worker and prints
time.time() every --interval seconds (20 ms by default). The client notes when it receives
each line and subtracts the stamp in it: cluster and client share this machine's clock, so
the difference is the whole path, print -> fd capture in the worker -> the run's log file
-> the daemon's follower -> gRPC stream -> client. Two rows:

  stream_logs   fn(..., stream_logs=printer) in this process: the time print_batch gets
                the line (what a user's terminal would show), split into capture (stamp
                -> the worker's record time) and delivery (record -> client)
  logs -f       `rhcli logs -f RUN_ID` as a whole process on a detached run: the time this
                script reads the line from that process's stdout pipe

A warm-up run first starts the worker (not measured). Everything it starts is its own: a
private RHCLI_HOME under /tmp whose daemon is stopped with LocalCluster.down() and whose
folder is removed at the end; it checks that no process of that home is left, and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import leftover_processes, rhcli_command

REPO = Path(__file__).resolve().parent.parent
ENTRYPOINT = "benchmarks.log_latency:stamps"


def stamps(count: int, interval: float, go_file: str | None = None) -> int:
    """Print time.time() count times, interval seconds apart (runs on the cluster).

    With go_file: print "ready" first, and start once that file exists (the benchmark
    creates it when its follower has received "ready", so every stamp is followed live).
    """
    if go_file is not None:
        print("ready", flush=True)
        deadline = time.monotonic() + 60
        while not os.path.exists(go_file):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{go_file} never appeared")
            time.sleep(0.005)
    for _ in range(count):
        print(repr(time.time()), flush=True)
        time.sleep(interval)
    return count


# --- statistics ---------------------------------------------------------------------------


def summarize(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000.0 for s in samples_s)
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "n": len(ms),
        "p50_ms": statistics.median(ms),
        "p90_ms": cuts[89],
        "p99_ms": cuts[98],
        "mean_ms": statistics.fmean(ms),
        "min_ms": ms[0],
        "max_ms": ms[-1],
    }


# --- the two rows -------------------------------------------------------------------------


def bench_stream_logs(cluster: Any, *, lines: int, interval: float) -> dict[str, list[float]]:
    """fn(..., stream_logs=printer): (whole, capture, delivery) latency of every line."""
    import rhcli as rh
    from rhcli.log_follower import LogPrinter

    class Timing(LogPrinter):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[tuple[float, float, float]] = []  # stamp, record time, received

        def print_batch(self, batch: Any) -> None:
            received = time.time()
            self.seen.extend((float(line.text), line.t, received) for line in batch.lines)

    fn = rh.function(stamps, system=cluster, reqs=[])
    assert fn.source.entrypoint == ENTRYPOINT, fn.source
    assert fn(3, interval, stream_logs=Timing()) == 3  # warm-up: starts the worker
    timing = Timing()
    assert fn(lines, interval, stream_logs=timing) == lines
    if len(timing.seen) != lines:
        raise SystemExit(f"stream_logs: {len(timing.seen)} of {lines} lines arrived")
    return {
        "whole": [received - stamp for stamp, _, received in timing.seen],
        "capture": [t - stamp for stamp, t, _ in timing.seen],
        "delivery": [received - t for _, t, received in timing.seen],
    }


def bench_logs_follow(cluster: Any, home: Path, *, lines: int, interval: float) -> list[float]:
    """`rhcli logs -f` on a detached run: latency of every line read from its stdout."""
    import rhcli as rh

    fn = rh.function(stamps, system=cluster, reqs=[])
    env = dict(os.environ, RHCLI_HOME=str(home))
    env.pop("RHCLI_FILE", None)
    manifest = home / "empty-runhouse.yaml"  # the built-in default: only `local`
    manifest.write_text("")
    go_file = home / "go"
    run_id = str(fn.remote(lines, interval, str(go_file)))
    follower = subprocess.Popen(
        [*rhcli_command(), "-f", str(manifest), "logs", "-f", run_id],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    samples: list[float] = []
    stderr: list[str] = []
    reader = threading.Thread(target=lambda: stderr.extend(follower.stderr or []), daemon=True)
    reader.start()
    assert follower.stdout is not None
    first = follower.stdout.readline()
    if first == "ready\n":
        go_file.touch()  # the follower is live: now the stamps
        for line in follower.stdout:
            samples.append(time.time() - float(line))
    code = follower.wait()
    reader.join(5)
    if code != 0 or len(samples) != lines:
        raise SystemExit(
            f"rhcli logs -f exited {code} after {len(samples)} of {lines} lines:\n"
            + "".join(stderr)
        )
    return samples


# --- running it all -----------------------------------------------------------------------


def render(results: dict[str, dict[str, float]], lines: int, interval: float) -> str:
    rows = [
        ("stream_logs: print -> client", "stream_logs"),
        ("  capture: print -> log record", "capture"),
        ("  delivery: log record -> client", "delivery"),
        ("rhcli logs -f: print -> its stdout", "logs_follow"),
    ]
    out = [
        f"log latency, {lines} lines {interval * 1000:g} ms apart (milliseconds)",
        f"{'':<38} {'n':>5} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8}",
    ]
    for label, key in rows:
        s = results[key]
        out.append(
            f"{label:<38} {s['n']:>5} {s['p50_ms']:>8.2f} {s['p90_ms']:>8.2f} "
            f"{s['p99_ms']:>8.2f} {s['max_ms']:>8.2f}"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=300, help="lines per row (at least 200)")
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between lines")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.lines < 200:
        parser.error("--lines must be at least 200 (a p99 needs them)")

    from rhcli.clusters.local import LocalCluster
    from rhcli.config.paths import DaemonPaths
    from rhcli.config.root_processes import OWNER_ENV

    home = Path(tempfile.mkdtemp(prefix="rhb-logs-", dir="/tmp"))
    paths = DaemonPaths(home)
    markers = [f"{OWNER_ENV}={paths.owner_marker}".encode(), f"RHCLI_HOME={home}".encode()]
    cluster = LocalCluster("local", home=home)
    try:
        print("starting a private daemon...", file=sys.stderr, flush=True)
        cluster.up()
        print(f"stream_logs: {args.lines} lines...", file=sys.stderr, flush=True)
        streamed = bench_stream_logs(cluster, lines=args.lines, interval=args.interval)
        print(f"rhcli logs -f: {args.lines} lines...", file=sys.stderr, flush=True)
        followed = bench_logs_follow(cluster, home, lines=args.lines, interval=args.interval)
    finally:
        cluster.down()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(paths.ray_temp_dir, ignore_errors=True)
    results = {
        "stream_logs": summarize(streamed["whole"]),
        "capture": summarize(streamed["capture"]),
        "delivery": summarize(streamed["delivery"]),
        "logs_follow": summarize(followed),
    }
    print(render(results, args.lines, args.interval))
    left = leftover_processes(markers)
    if left:
        print(f"warning: processes left running: {left}", file=sys.stderr)
    else:
        print("cleanup: no daemon or Ray process of this run is left", file=sys.stderr)
    if args.json:
        document = {
            "command": " ".join(["python", *sys.argv]),
            "lines": args.lines,
            "interval_s": args.interval,
            "cpus": os.cpu_count(),
            "results": results,
        }
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
