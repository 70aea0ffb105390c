"""Where one kind of call spends its time: py-spy on the client, the daemon and the worker
at once, while a client makes that call back to back against a private daemon.

    python benchmarks/profile_call.py CASE [--seconds 15] [--rate 500] [--idle] [--top 25]

CASE is one of call, stream (stream_logs=True), remote (.remote + rh.get), arg10mb,
result1mb. Needs py-spy (`.venv/bin/pip install py-spy`). Prints, for each process, the
functions with the most samples, as milliseconds per call (samples / rate / calls made
while sampling); the sampler slows the calls, so read them as shares. --idle also counts
threads that wait (sleeping, blocked in a read), which is how a polling loop shows.
Like run_all, it starts its own daemon under a new RHCLI_HOME in /tmp and leaves nothing.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import QUICK as _REPS
from benchmarks.harness import REPO, Bench, LocalTarget, leftover_processes

CASES = ("call", "stream", "remote", "arg10mb", "result1mb")
# Frames that say nothing about where the time goes.
_NOISE = re.compile(
    r"^(Thread\.|_bootstrap|<module>|_worker \(concurrent|_WorkItem|Worker\.main_loop|_run_code"
    r"|_run_module_as_main)|\(benchmarks/profile_call\.py\)$"
)


def loop(case: str, seconds: float, home: str) -> None:
    """Child: make the call back to back for seconds; print the mean seconds per call."""
    import rhcli as rh
    from benchmarks.workload import add, blob, size
    from rhcli.clusters.local import LocalCluster

    cluster = LocalCluster("local", home=Path(home))
    fn = rh.function(add, system=cluster, reqs=[])
    make = rh.function(blob, system=cluster, reqs=[])
    measure = rh.function(size, system=cluster, reqs=[])
    data = b"x" * 10_000_000
    calls = {
        "call": lambda: fn(1, 2),
        "stream": lambda: fn(1, 2, stream_logs=True),
        "remote": lambda: rh.get(fn.remote(1, 2)),
        "arg10mb": lambda: measure(data),
        "result1mb": lambda: make(1_000_000),
    }
    one = calls[case]
    one()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        one()
        n += 1
    print(f"{(time.perf_counter() - start) / n}", flush=True)


def worker_pids(marker: bytes) -> list[int]:
    """Ray workers of this daemon that run code from this repository."""
    found = []
    for pid in leftover_processes([marker]):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if cmdline.startswith(b"ray::Worker") and cwd == str(REPO):
            found.append(pid)
    return found


def summarize(path: Path, *, rate: float, calls: float, top: int) -> list[str]:
    inclusive: collections.Counter[str] = collections.Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = {re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")}
        for frame in frames:
            if frame and not _NOISE.search(frame):
                inclusive[frame] += int(count)
    return [
        f"  {samples / rate / calls * 1000:8.2f} ms/call  {frame}"
        for frame, samples in inclusive.most_common(top)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case", choices=CASES)
    parser.add_argument("--seconds", type=float, default=15.0, help="how long to sample")
    parser.add_argument("--rate", type=int, default=500, help="samples per second")
    parser.add_argument("--idle", action="store_true", help="also sample waiting threads")
    parser.add_argument("--top", type=int, default=25, help="functions shown per process")
    parser.add_argument("--loop", nargs=2, metavar=("SECONDS", "HOME"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.loop:
        loop(args.case, float(args.loop[0]), args.loop[1])
        return 0
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        parser.error("py-spy is not installed: .venv/bin/pip install py-spy")

    from rhcli.config.paths import DaemonPaths
    from rhcli.config.root_processes import OWNER_ENV

    home = Path(tempfile.mkdtemp(prefix="rhb-prof-", dir="/tmp"))
    bench = Bench(reps=_REPS, home=home)
    bench.own_root(home)
    out = Path(tempfile.mkdtemp(prefix="rhb-prof-out-", dir="/tmp"))
    target = LocalTarget(home)
    try:
        target.cluster.up()
        warm = 3.0
        client = subprocess.Popen(
            [
                *(sys.executable, "-m", "benchmarks.profile_call", args.case),
                *("--loop", str(args.seconds + 2 * warm), str(home)),
            ],
            cwd=REPO,
            env=target.cli_env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(warm)
        marker = f"{OWNER_ENV}={DaemonPaths(home).owner_marker}".encode()
        pids = {"client": client.pid, "daemon": target.daemon_pid()}
        for index, pid in enumerate(worker_pids(marker)):
            pids[f"worker{index}"] = pid
        spies = []
        for name, pid in pids.items():
            command = [spy, "record", "-p", str(pid), "-d", str(int(args.seconds))]
            command += ["-r", str(args.rate), "-f", "raw", "-o", str(out / f"{name}.raw")]
            command += ["--nonblocking", *(["--idle"] if args.idle else [])]
            spies.append(
                subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
        for process in spies:
            process.wait()
        assert client.stdout is not None
        per_call = float(client.stdout.read().strip().splitlines()[-1])
        client.wait()
        calls = args.seconds / per_call
        print(f"{args.case}: {per_call * 1000:.2f} ms per call while sampled ({calls:.0f} calls)")
        for name in pids:
            path = out / f"{name}.raw"
            if path.exists():
                print(f"{name} (pid {pids[name]}):")
                print("\n".join(summarize(path, rate=args.rate, calls=calls, top=args.top)))
    finally:
        target.stop()
        for root in bench.homes:
            shutil.rmtree(DaemonPaths(root).ray_temp_dir, ignore_errors=True)
            shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)
    left = leftover_processes(bench.markers)
    if left:
        print(f"warning: processes left running: {left}", file=sys.stderr)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
