"""rhcli's benchmark suite: every hot path beside its floor, measured in one run.

    python benchmarks/run_all.py [--quick] [--large] [--json OUT] [--only CASES]
                                 [--target local,ssh]

Runs the floors (bare grpcio on loopback, bare Ray in a private instance, `python -c
pass`, bare rsync over the sshd), then every rhcli case against a private local daemon
(its own RHCLI_HOME under /tmp) and through the SSH tunnel to a loopback sshd started
here (an empty rhcli root, brought up from nothing), each stopped and deleted at the end;
and prints one table: median, p99, spread (p90 - p10) and n of each case, and its ratio
to its floor measured in this same run; then each target of issue 16, met or not.
--json OUT writes every sample and statistic; --baseline JSON (such a file, from a run
of main) is what target 5, "nothing else gets slower", compares with. It leaves no
process behind, and exits with 1 if it finds one of its own still running.

--quick runs fewer repetitions (a smoke run); --large adds the 500 MB argument and result
(about 3 GB of memory at peak, and minutes).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import floors, forwarding
from benchmarks.cases import calls, maps, payloads, processes, serving, sync
from benchmarks.harness import (
    FULL,
    QUICK,
    TARGETS,
    Bench,
    SshTarget,
    leftover_processes,
    make_target,
)
from benchmarks.stats import Row, ratio, render_table
from benchmarks.targets import evaluate, load_baseline

CASES = {
    "calls": calls,
    "payloads": payloads,
    "maps": maps,
    "processes": processes,
    "sync": sync,
    "serving": serving,
}
# Rows of the SSH target carry this prefix (their floors are the shared ones).
SSH = "ssh_"

# The order of the table: each floor just above the cases measured against it.
ORDER = [
    "grpc",
    "ray_actor",
    "call",
    "call_stream",
    "remote_get",
    "log_latency",
    "ray_actor_rate",
    "enqueue",
    "grpc_1mb_reply",
    "ray_1mb_result",
    "result_1mb",
    "result_1mb_vs_both",
    "grpc_1mb_reply_openssh",
    "grpc_1mb_reply_paramiko",
    "grpc_10mb_request",
    "ray_10mb_arg",
    "arg_10mb",
    "arg_10mb_vs_both",
    "grpc_10mb_request_openssh",
    "grpc_10mb_request_paramiko",
    "large_argument",
    "large_argument_client_peak",
    "large_argument_daemon_peak",
    "large_result",
    "large_result_client_peak",
    "large_result_daemon_peak",
    "ray_pool_map_1k",
    "ray_tasks_map_1k",
    "map_1k",
    "map_1k_vs_tasks",
    "map_100k",
    "map_100k_client_before",
    "map_100k_client_peak",
    "map_100k_daemon_before",
    "map_100k_daemon_peak",
    "map_100k_partial",
    "map_100k_partial_client_before",
    "map_100k_partial_client_peak",
    "map_100k_partial_daemon_before",
    "map_100k_partial_daemon_peak",
    "map_100k_partial_journal",
    "map_100k_resume",
    "map_100k_resume_client_before",
    "map_100k_resume_client_peak",
    "map_100k_resume_daemon_before",
    "map_100k_resume_daemon_peak",
    "map_100k_resume_journal",
    "serve_bare_latency",
    "serve_latency",
    "serve_bare_rate",
    "serve_rate",
    "serve_deploy",
    "python",
    "cli_help",
    "cli_run",
    "cli_up_warm",
    "sync_one_file",
    "sync_one_file_vs_master",
    "ray_init",
    "first_up",
    "first_up_ssh",
    "ssh_true_master",
    "rsync_fresh",
    "rsync_master",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (CI smoke)")
    parser.add_argument("--large", action="store_true", help="also 500 MB each way")
    parser.add_argument("--json", metavar="OUT", help="also write every result as JSON")
    parser.add_argument(
        "--only",
        metavar="CASES",
        help=f"comma-separated subset of {','.join(CASES)} (the floors always run)",
    )
    parser.add_argument(
        "--target",
        default=",".join(TARGETS),
        help="clusters to measure, comma-separated: local, ssh (default: both)",
    )
    parser.add_argument(
        "--baseline",
        metavar="JSON",
        help="a --json file of an earlier run (of main): target 5 compares with its rows",
    )
    args = parser.parse_args(argv)
    baseline = load_baseline(args.baseline)
    chosen = list(CASES) if not args.only else args.only.split(",")
    unknown = set(chosen) - set(CASES)
    if unknown:
        parser.error(f"unknown cases: {', '.join(sorted(unknown))}")
    targets = args.target.split(",")
    if set(targets) - set(TARGETS):
        parser.error(f"unknown targets: {', '.join(sorted(set(targets) - set(TARGETS)))}")

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    compile_sources()
    home = Path(tempfile.mkdtemp(prefix="rhb-home-", dir="/tmp"))
    bench = Bench(reps=QUICK if args.quick else FULL, home=home, large=args.large)
    bench.own_root(home)
    info = machine()
    started = time.perf_counter()
    rows: dict[str, Row] = {}
    try:
        bench.log("floors: bare gRPC")
        add_rows(rows, floors.bench_grpc(bench))
        bench.log("floors: bare Ray (a private instance in a child process)")
        add_rows(rows, floors.bench_ray(bench))
        actor = rows["ray_actor"].values
        add_rows(
            rows,
            [
                Row(
                    "ray_actor_rate",
                    "floor: bare Ray actor calls, back to back",
                    "calls/s",
                    [1000.0 / v for v in actor],
                )
            ],
        )
        for name in targets:
            add_rows(rows, run_target(bench, name, chosen))
    finally:
        cleanup(bench)
    elapsed = time.perf_counter() - started
    info["load_average_end"] = os.getloadavg()
    ordered = {key: rows[key] for key in ORDER if key in rows}
    ordered.update({SSH + key: rows[SSH + key] for key in ORDER if SSH + key in rows})
    ordered.update({key: row for key, row in rows.items() if key not in ordered})
    targets = evaluate(ordered, baseline)
    mode = "quick" if args.quick else "full"
    print(
        f"rhcli benchmarks ({mode}), {info['date']}: {info['cpus']} CPUs ({info['cpu_model']}),"
        f" Python {info['python']}, rhcli {info['rhcli']}, grpcio {info['grpcio']},"
        f" ray {info['ray']}; targets {args.target}; {elapsed:.0f} s; load average"
        f" {info['load_average'][0]:.1f} at start, {info['load_average_end'][0]:.1f} at end"
    )
    print(render_table(ordered))
    print()
    print("targets (issue 16):")
    for target in targets:
        print(f"  [{target['verdict']:^6}] {target['target']}: {target['measured']}")
    left = leftover_processes(bench.markers)
    if left:
        print(f"warning: processes of this run were left running: {left}", file=sys.stderr)
    else:
        print("cleanup: no daemon, Ray or server process of this run is left", file=sys.stderr)
    if args.json:
        document = {
            "machine": info,
            "command": " ".join(["python", "benchmarks/run_all.py", *(argv or sys.argv[1:])]),
            "mode": mode,
            "reps": bench.reps.__dict__,
            "target": args.target,
            "seconds": elapsed,
            "rows": {
                key: {
                    "label": row.label,
                    "unit": row.unit,
                    "floor": list(row.floor),
                    "ratio": ratio(row, ordered),
                    **row.summary,
                    "values": row.values,
                    **({"extra": row.extra} if row.extra else {}),
                }
                for key, row in ordered.items()
            },
            "targets": targets,
            "leftover_processes": left,
        }
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    return 1 if left else 0


def run_target(bench: Bench, name: str, chosen: list[str]) -> list[Row]:
    """Every chosen case on one cluster; the SSH cluster's rows carry the SSH prefix."""
    rows: list[Row] = []
    bench.target = target = make_target(name, bench.home)
    try:
        if isinstance(target, SshTarget):
            bench.own_root(target.root)
            bench.log(f"rhcli on ssh: first `up` of an empty root ({target.root})")
            start = time.perf_counter()
            target.cluster.up()
            rows.append(
                Row(
                    "first_up_ssh",
                    "first `up` of an empty SSH root (venv, pip)",
                    "s",
                    [time.perf_counter() - start],
                )
            )
        else:
            bench.log(f"rhcli on {name}: starting a private daemon ({bench.home})")
            target.cluster.up()
        for case in chosen:
            bench.log(f"rhcli on {name}: {case}")
            found = CASES[case].run(bench)
            if isinstance(target, SshTarget):
                found = [with_prefix(row) for row in found]
            rows += found
        if isinstance(target, SshTarget) and "payloads" in chosen:
            rows += forwarding.run(bench)
    finally:
        target.stop()
    if name == "local" and "processes" in chosen:
        rows += processes.first_up(bench)
    return rows


def with_prefix(row: Row) -> Row:
    """The SSH target's copy of a row: its own key and label, the same floors."""
    floors_ = tuple(key if key in FLOOR_KEYS else SSH + key for key in row.floor)
    label = row.label if row.label.startswith("floor:") else f"ssh: {row.label.strip()}"
    key = row.key if row.key in FLOOR_KEYS else SSH + row.key
    return Row(key, label, row.unit, row.values, floors_, row.note, row.extra)


# Rows that are floors, measured once for both targets (or by the SSH target alone).
FLOOR_KEYS = frozenset(
    {
        "grpc",
        "ray_actor",
        "ray_actor_rate",
        "grpc_1mb_reply",
        "ray_1mb_result",
        "grpc_10mb_request",
        "ray_10mb_arg",
        "ray_pool_map_1k",
        "ray_tasks_map_1k",
        "python",
        "ray_init",
        "ssh_true_master",
        "rsync_fresh",
        "rsync_master",
        "grpc_1mb_reply_openssh",
        "grpc_1mb_reply_paramiko",
        "grpc_10mb_request_openssh",
        "grpc_10mb_request_paramiko",
        "serve_bare_latency",
        "serve_bare_rate",
    }
)


def add_rows(rows: dict[str, Row], new: list[Row]) -> None:
    for row in new:
        rows[row.key] = row


def compile_sources() -> None:
    """Byte-compile rhcli's sources, as installing it does: the whole-process cases
    would otherwise compile every module they import, each time, wherever
    PYTHONDONTWRITEBYTECODE is set (and on the first run anywhere)."""
    import compileall

    repo = Path(__file__).resolve().parent.parent
    for folder in ("rhcli", "server", "config", "benchmarks"):
        compileall.compile_dir(repo / folder, quiet=1)


def cleanup(bench: Bench) -> None:
    """Stop whatever of ours may still run, and delete the private roots."""
    from rhcli.config.paths import DaemonPaths
    from rhcli.config.root_processes import sweep_leftovers

    for root in bench.homes:
        paths = DaemonPaths(root)
        sweep_leftovers(paths.owner_marker, temp_dir=paths.ray_temp_dir)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(paths.ray_temp_dir, ignore_errors=True)


def machine() -> dict[str, Any]:
    import grpc
    import ray

    import rhcli

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "rhcli": rhcli.__version__,
        "grpcio": grpc.__version__,
        "ray": ray.__version__,
        "load_average": os.getloadavg(),
    }


if __name__ == "__main__":
    sys.exit(main())
