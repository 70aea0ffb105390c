"""The floors: what rhcli is built on, measured bare in the same run.

- bare grpcio over loopback: a unary call with small bytes in and out, a 1 MB reply, a
  10 MB request (a generic server in a child process, message limits raised both ends);
- bare Ray, from a driver with a private Ray in a child process: an actor method call,
  a 1,000-item map over a pool of 2 actors (ray.util.ActorPool) and as 1,000 tasks, and
  the time ray.init takes.

Run as a module for the child processes: ``python -m benchmarks.floors grpc-server`` and
``python -m benchmarks.floors ray-child ...`` (run_all does that).
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import time
from typing import Any

from benchmarks.harness import REPO, Bench, ray_child_samples, stop_child
from benchmarks.stats import Row, ms, timed

SMALL = pickle.dumps(((1, 2), {}), protocol=5)  # what add(1, 2) sends, about 20 bytes
MAX_MESSAGE = 1024 * 1024 * 1024
GRPC_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.max_receive_message_length", MAX_MESSAGE),
]
OWNER_ENV = "RHCLI_RAY_OWNER"  # the marker rhcli's own sweep finds Ray leftovers by


# --- bare gRPC ---------------------------------------------------------------------------


def serve_grpc() -> None:
    """Child: Echo (bytes back), Sink (takes bytes, answers their length), Source (answers
    as many bytes as the request's decimal number). Prints its port; stops on EOF."""
    from concurrent import futures

    import grpc

    def echo(request: bytes, context: Any) -> bytes:
        return request

    def sink(request: bytes, context: Any) -> bytes:
        return str(len(request)).encode()

    def source(request: bytes, context: Any) -> bytes:
        return b"x" * int(request)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=GRPC_OPTIONS)
    handlers = {
        name: grpc.unary_unary_rpc_method_handler(fn)
        for name, fn in (("Echo", echo), ("Sink", sink), ("Source", source))
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("bench", handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    sys.stdin.read()  # the parent closes our stdin when it is done
    server.stop(grace=None)


def start_grpc_server() -> tuple[subprocess.Popen[str], int]:
    """The bare gRPC server in a child process, and its port (stop it with stop_child)."""
    child = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.floors", "grpc-server"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    return child, int(child.stdout.readline())


def bench_grpc(bench: Bench) -> list[Row]:
    import grpc

    child, port = start_grpc_server()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}", options=GRPC_OPTIONS) as channel:
            echo = channel.unary_unary("/bench/Echo")
            sink = channel.unary_unary("/bench/Sink")
            source = channel.unary_unary("/bench/Source")
            r = bench.reps
            small = timed(lambda: echo(SMALL, timeout=10), calls=r.calls, warmup=r.warmup)
            one_mb = str(bench.mb1).encode()
            reply = timed(lambda: source(one_mb, timeout=30), calls=r.payload, warmup=3)
            big = b"x" * bench.mb10
            request = timed(lambda: sink(big, timeout=30), calls=r.payload, warmup=3)
    finally:
        stop_child(child)
    return [
        Row("grpc", "floor: bare gRPC unary call, loopback", "ms", ms(small)),
        Row("grpc_1mb_reply", "floor: bare gRPC, 1 MB reply", "ms", ms(reply)),
        Row("grpc_10mb_request", "floor: bare gRPC, 10 MB request", "ms", ms(request)),
    ]


# --- bare Ray ------------------------------------------------------------------------------


def ray_child(options: argparse.Namespace) -> None:
    """Child: a private Ray; prints one JSON line of samples (seconds)."""
    started = time.perf_counter()
    import ray
    from ray.util import ActorPool

    ray.init(
        address="local",
        include_dashboard=False,
        log_to_driver=False,
        logging_level="ERROR",
        _temp_dir=options.temp_dir,
    )
    init_s = time.perf_counter() - started
    try:

        @ray.remote
        class Adder:
            def add(self, a: int, b: int) -> int:
                return a + b

            def size(self, data: bytes) -> int:
                return len(data)

            def blob(self, size: int) -> bytes:
                return b"x" * size

        @ray.remote
        def add(a: int, b: int) -> int:
            return a + b

        actor = Adder.remote()  # type: ignore[attr-defined]
        call = timed(
            lambda: ray.get(actor.add.remote(1, 2)), calls=options.calls, warmup=options.warmup
        )
        big = b"x" * options.mb10
        arg = timed(lambda: ray.get(actor.size.remote(big)), calls=options.payload, warmup=3)
        reply = timed(
            lambda: ray.get(actor.blob.remote(options.mb1)), calls=options.payload, warmup=3
        )
        items = list(range(options.map_items))
        pool = ActorPool([Adder.remote() for _ in range(2)])  # type: ignore[attr-defined]

        def pool_map() -> None:
            out = list(pool.map(lambda a, v: a.add.remote(v, v), items))
            assert out[-1] == 2 * items[-1]

        def task_map() -> None:
            out = ray.get([add.remote(v, v) for v in items])  # type: ignore[attr-defined]
            assert out[-1] == 2 * items[-1]

        pool_s = timed(pool_map, calls=options.map_reps, warmup=1)
        tasks_s = timed(task_map, calls=options.map_reps, warmup=1)
    finally:
        ray.shutdown()
    document = {
        "init": [init_s],
        "call": call,
        "arg_10mb": arg,
        "result_1mb": reply,
        "pool_map": pool_s,
        "task_map": tasks_s,
    }
    print(json.dumps(document), flush=True)


def bench_ray(bench: Bench) -> list[Row]:
    r = bench.reps
    samples = ray_child_samples(
        bench,
        "benchmarks.floors",
        [
            *("--calls", str(r.calls), "--warmup", str(r.warmup)),
            *("--map-items", "1000", "--map-reps", str(r.map_reps)),
            *("--payload", str(r.payload), "--mb1", str(bench.mb1), "--mb10", str(bench.mb10)),
        ],
    )
    return [
        Row("ray_actor", "floor: bare Ray actor method call", "ms", ms(samples["call"])),
        Row(
            "ray_1mb_result",
            "floor: bare Ray actor call, 1 MB result",
            "ms",
            ms(samples["result_1mb"]),
        ),
        Row(
            "ray_10mb_arg",
            "floor: bare Ray actor call, 10 MB argument",
            "ms",
            ms(samples["arg_10mb"]),
        ),
        Row(
            "ray_pool_map_1k",
            "floor: bare Ray ActorPool(2) map, 1,000",
            "ms",
            ms(samples["pool_map"]),
        ),
        Row("ray_tasks_map_1k", "floor: bare Ray tasks map, 1,000", "ms", ms(samples["task_map"])),
        Row("ray_init", "floor: import ray + ray.init (private)", "s", samples["init"]),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.floors")
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("grpc-server")
    ray = sub.add_parser("ray-child")
    ray.add_argument("--calls", type=int, required=True)
    ray.add_argument("--warmup", type=int, required=True)
    ray.add_argument("--map-items", type=int, required=True)
    ray.add_argument("--map-reps", type=int, required=True)
    ray.add_argument("--temp-dir", required=True)
    ray.add_argument("--payload", type=int, required=True)
    ray.add_argument("--mb1", type=int, required=True)
    ray.add_argument("--mb10", type=int, required=True)
    options = parser.parse_args(argv)
    if options.what == "grpc-server":
        serve_grpc()
    else:
        ray_child(options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
