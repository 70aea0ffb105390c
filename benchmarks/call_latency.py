"""What one blocking call costs, measured side by side on this machine.

    python benchmarks/call_latency.py [--calls N] [--cli-calls M] [--json OUT]

Five rows, each warmed up before it is measured, one after another (never two at once):

  grpc        a bare grpcio unary call over loopback, small bytes in and out, to a tiny
              generic server in a child process (the floor of the client -> daemon hop)
  ray actor   a bare Ray actor method call, add(1, 2), from a driver in a child process
              with its own private Ray (the floor of the daemon -> worker hop)
  rhcli call  rh.function(add)(1, 2) through the local cluster's real daemon, warm
  rhcli run   `rhcli run benchmarks.call_latency:add 1 2` as a whole process
  python      `python -c pass`, the interpreter's own start-up, for reading the row above

The ratio printed under the table is rhcli call / (grpc + ray actor), medians: how far
a warm rhcli call is above the two hops it is made of.

Everything it starts is its own: a private RHCLI_HOME under /tmp (daemon stopped with
LocalCluster.down() and the folder removed at the end), a private Ray temp dir for the
bare Ray row (Ray shut down, leftovers swept by an environment marker). It checks at the
end that none of its processes is left, and says so.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pickle
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
ENTRYPOINT = "benchmarks.call_latency:add"
GRPC_METHOD = "/bench.Echo/Echo"
PAYLOAD = pickle.dumps(((1, 2), {}), protocol=5)  # what add(1, 2) sends, about 20 bytes
# An environment marker for every process the bare Ray row starts: rhcli's own sweep
# (rhcli.server.ray_runtime) finds Ray's leftovers by it.
OWNER_ENV = "RHCLI_RAY_OWNER"


def add(a: int, b: int) -> int:
    """The function every row calls (the rhcli rows import it from this file)."""
    return a + b


# --- statistics ---------------------------------------------------------------------------


def summarize(samples_s: list[float]) -> dict[str, float]:
    """Median, p99, spread (p90 - p10), stdev and mean, in milliseconds."""
    ms = sorted(s * 1000.0 for s in samples_s)
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "n": len(ms),
        "median_ms": statistics.median(ms),
        "p10_ms": cuts[9],
        "p90_ms": cuts[89],
        "p99_ms": cuts[98],
        "spread_ms": cuts[89] - cuts[9],
        "stdev_ms": statistics.stdev(ms) if len(ms) > 1 else 0.0,
        "mean_ms": statistics.fmean(ms),
        "min_ms": ms[0],
        "max_ms": ms[-1],
    }


def timed(fn: Callable[[], Any], *, calls: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


# --- (a) bare gRPC ------------------------------------------------------------------------


def serve_grpc() -> None:
    """Child process: a generic echo server on loopback; prints its port, stops on EOF."""
    from concurrent import futures

    import grpc

    def echo(request: bytes, context: Any) -> bytes:
        return request

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    sys.stdin.read()  # the parent closes our stdin when it is done
    server.stop(grace=None)


def bench_grpc(*, calls: int, warmup: int) -> list[float]:
    import grpc

    child = subprocess.Popen(
        [sys.executable, __file__, "--serve-grpc"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary(GRPC_METHOD)

            def one() -> None:
                assert call(PAYLOAD, timeout=10) == PAYLOAD

            return timed(one, calls=calls, warmup=warmup)
    finally:
        _stop_child(child)


# --- (b) bare Ray actor -------------------------------------------------------------------


def ray_child(calls: int, warmup: int, temp_dir: str) -> None:
    """Child process: a private Ray, one actor, timed add.remote calls; prints JSON."""
    import ray

    ray.init(
        address="local",
        include_dashboard=False,
        log_to_driver=False,
        logging_level="ERROR",
        _temp_dir=temp_dir,
    )
    try:

        @ray.remote
        class Adder:
            def add(self, a: int, b: int) -> int:
                return a + b

        actor = Adder.remote()  # type: ignore[attr-defined]
        samples = timed(lambda: ray.get(actor.add.remote(1, 2)), calls=calls, warmup=warmup)
    finally:
        ray.shutdown()
    print(json.dumps(samples), flush=True)


def bench_ray(*, calls: int, warmup: int, markers: list[bytes]) -> list[float]:
    from rhcli.server.ray_runtime import sweep_leftovers

    marker = f"bench-{uuid.uuid4().hex[:12]}"
    markers.append(f"{OWNER_ENV}={marker}".encode())
    temp_dir = f"/tmp/rhb-{marker[-6:]}"
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", **{OWNER_ENV: marker})
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--ray-child", str(calls), str(warmup), temp_dir],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"the bare Ray child failed:\n{done.stderr[-3000:]}")
        samples: list[float] = json.loads(done.stdout.strip().splitlines()[-1])
        return samples
    finally:
        sweep_leftovers(marker)
        shutil.rmtree(temp_dir, ignore_errors=True)


# --- (c) and (d): rhcli -------------------------------------------------------------------


def bench_rhcli(
    home: Path, *, calls: int, warmup: int, cli_calls: int
) -> tuple[list[float], list[float], list[float]]:
    """A warm rh.function call, then `rhcli run` and `python -c pass` as whole processes."""
    import rhcli as rh
    from rhcli.clusters import LocalCluster

    cluster = LocalCluster("local", home=home)
    try:
        cluster.up()  # starts the daemon and its Ray (seconds, not measured)
        remote_add = rh.function(add, system=cluster, reqs=[])
        assert remote_add.source.entrypoint == ENTRYPOINT, remote_add.source
        assert remote_add(1, 2) == 3  # the first call also starts a warm worker
        call_samples = timed(lambda: remote_add(1, 2), calls=calls, warmup=warmup)

        manifest = home / "empty-runhouse.yaml"  # the built-in default: only `local`
        manifest.write_text("")
        env = dict(os.environ, RHCLI_HOME=str(home))
        env.pop("RHCLI_FILE", None)
        command = [*_rhcli_command(), "-f", str(manifest), "-c", "local", "run", ENTRYPOINT]

        def cli() -> None:
            done = subprocess.run(
                [*command, "1", "2"], cwd=REPO, env=env, capture_output=True, text=True
            )
            if done.returncode != 0 or done.stdout.strip() != "3":
                raise SystemExit(f"rhcli run failed ({done.returncode}):\n{done.stderr}")

        cli_samples = timed(cli, calls=cli_calls, warmup=2)

        def bare_python() -> None:
            subprocess.run([sys.executable, "-c", "pass"], check=True)

        python_samples = timed(bare_python, calls=cli_calls, warmup=2)
        return call_samples, cli_samples, python_samples
    finally:
        cluster.down()


def _rhcli_command() -> list[str]:
    script = Path(sys.executable).parent / "rhcli"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from rhcli.cli.main import main; main()"]


# --- running it all -----------------------------------------------------------------------


def leftover_processes(markers: list[bytes]) -> list[int]:
    """Pids (not ours) whose environment holds one of markers."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = set((entry / "environ").read_bytes().split(b"\0"))
        except OSError:
            continue
        if environ & set(markers):
            found.append(int(entry.name))
    return found


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
    }


def render(results: dict[str, dict[str, float]], ratio: float, info: dict[str, Any]) -> str:
    rows = [
        ("grpc", "(a) bare gRPC unary call, loopback"),
        ("ray_actor", "(b) bare Ray actor method call"),
        ("rhcli_call", "(c) rhcli call, warm (rh.function)"),
        ("rhcli_run", "(d) `rhcli run` as a whole process"),
        ("python_startup", "    `python -c pass`, for reference"),
    ]
    header = f"{'case':<38} {'n':>5} {'median':>9} {'p99':>9} {'p90-p10':>9} {'stdev':>9}"
    lines = [
        f"call latency, ms: {info['cpus']} CPUs ({info['cpu_model']}), Python {info['python']}, "
        f"rhcli {info['rhcli']}, grpcio {info['grpcio']}, ray {info['ray']}, {info['date']}",
        header,
        "-" * len(header),
    ]
    for key, label in rows:
        s = results[key]
        lines.append(
            f"{label:<38} {s['n']:>5} {s['median_ms']:>9.3f} {s['p99_ms']:>9.3f} "
            f"{s['spread_ms']:>9.3f} {s['stdev_ms']:>9.3f}"
        )
    lines.append("")
    lines.append(f"(c) / ((a) + (b)), medians: {ratio:.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000, help="timed calls per row (a)-(c)")
    parser.add_argument("--cli-calls", type=int, default=10, help="timed `rhcli run` processes")
    parser.add_argument("--warmup", type=int, default=None, help="untimed calls first")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    parser.add_argument("--serve-grpc", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ray-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_grpc:
        serve_grpc()
        return 0
    if args.ray_child:
        calls, warmup, temp_dir = args.ray_child
        ray_child(int(calls), int(warmup), temp_dir)
        return 0
    if args.calls < 2 or args.cli_calls < 2:
        parser.error("--calls and --cli-calls must be at least 2")
    warmup = args.warmup if args.warmup is not None else max(20, args.calls // 10)

    from rhcli.config.paths import DaemonPaths
    from rhcli.server.ray_runtime import OWNER_ENV as RHCLI_OWNER_ENV

    home = Path(tempfile.mkdtemp(prefix="rhb-home-", dir="/tmp"))
    paths = DaemonPaths(home)
    markers = [
        f"{RHCLI_OWNER_ENV}={paths.owner_marker}".encode(),
        f"RHCLI_HOME={home}".encode(),
    ]
    info = machine()
    try:
        print(f"(a) bare gRPC: {args.calls} calls...", file=sys.stderr, flush=True)
        grpc_s = bench_grpc(calls=args.calls, warmup=warmup)
        print(f"(b) bare Ray actor: {args.calls} calls...", file=sys.stderr, flush=True)
        ray_s = bench_ray(calls=args.calls, warmup=warmup, markers=markers)
        print(
            f"(c, d) rhcli: {args.calls} calls, {args.cli_calls} `rhcli run`...",
            file=sys.stderr,
            flush=True,
        )
        call_s, cli_s, python_s = bench_rhcli(
            home, calls=args.calls, warmup=warmup, cli_calls=args.cli_calls
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(paths.ray_temp_dir, ignore_errors=True)
    results = {
        "grpc": summarize(grpc_s),
        "ray_actor": summarize(ray_s),
        "rhcli_call": summarize(call_s),
        "rhcli_run": summarize(cli_s),
        "python_startup": summarize(python_s),
    }
    floor = results["grpc"]["median_ms"] + results["ray_actor"]["median_ms"]
    ratio = results["rhcli_call"]["median_ms"] / floor
    print(render(results, ratio, info))
    left = leftover_processes(markers)
    if left:
        print(f"warning: processes left running: {left}", file=sys.stderr)
    else:
        print("cleanup: no daemon, Ray or server process of this run is left", file=sys.stderr)
    if args.json:
        document = {
            "machine": info,
            "command": " ".join(["python", *sys.argv]),
            "calls": args.calls,
            "cli_calls": args.cli_calls,
            "warmup": warmup,
            "results": results,
            "ratio_rhcli_call_to_grpc_plus_ray": ratio,
        }
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    return 1 if left else 0


def _stop_child(child: subprocess.Popen[str]) -> None:
    if child.stdin is not None:
        child.stdin.close()
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


if __name__ == "__main__":
    sys.exit(main())
