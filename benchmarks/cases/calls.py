"""Warm calls: blocking, with stream_logs, .remote + rh.get; log line latency; enqueue
throughput through the FIFO."""

from __future__ import annotations

import threading
import time
from typing import Any

from benchmarks.harness import Bench
from benchmarks.stats import Row, ms, timed
from benchmarks.workload import add, ticks

LATENCY_FLOOR = ("grpc", "ray_actor")


def run(bench: Bench) -> list[Row]:
    import rhcli as rh

    assert bench.target is not None
    cluster = bench.target.cluster
    r = bench.reps
    fn = rh.function(add, system=cluster, reqs=[])
    assert fn.source.entrypoint == "benchmarks.workload:add", fn.source
    assert fn(1, 2) == 3  # starts a warm worker

    bench.log(f"  warm call: {r.calls} calls")
    call = timed(lambda: fn(1, 2), calls=r.calls, warmup=r.warmup)
    bench.log(f"  stream_logs=True: {r.calls} calls")
    streamed = timed(lambda: fn(1, 2, stream_logs=True), calls=r.calls, warmup=r.warmup)
    bench.log(f"  .remote + rh.get: {r.calls} calls")
    remote = timed(lambda: rh.get(fn.remote(1, 2)), calls=r.calls, warmup=r.warmup)
    bench.log(f"  log latency: {r.log_lines} lines")
    log_ms = log_latency(rh.function(ticks, system=cluster, reqs=[]), r.log_lines)
    bench.log(f"  enqueue: {r.enqueue_rounds} rounds of {r.enqueue_calls} calls")
    rates = enqueue_rates(fn, rounds=r.enqueue_rounds, calls=r.enqueue_calls)
    return [
        Row("call", "rhcli warm call (blocking)", "ms", ms(call), floor=LATENCY_FLOOR),
        Row("call_stream", "rhcli warm call, stream_logs=True", "ms", ms(streamed), LATENCY_FLOOR),
        Row("remote_get", "rhcli .remote() + rh.get", "ms", ms(remote), floor=LATENCY_FLOOR),
        Row("log_latency", "log line: printed on cluster -> client", "ms", log_ms),
        Row(
            "enqueue",
            "rhcli enqueue throughput, 8 client threads",
            "calls/s",
            rates,
            floor=("ray_actor_rate",),
        ),
    ]


class _Probe:
    """A file the log printer writes to: records how long each tick line took to arrive."""

    def __init__(self) -> None:
        self.delays_ms: list[float] = []

    def write(self, text: str) -> int:
        now = time.time()
        for line in text.splitlines():
            if line.startswith("tick "):
                self.delays_ms.append((now - float(line.split()[1])) * 1000.0)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def log_latency(fn: Any, lines: int) -> list[float]:
    """Delay from a line printed on the cluster to the client's log printer writing it."""
    from rhcli.log_follower import LogPrinter

    probe = _Probe()
    printer = LogPrinter(out=probe, err=probe)  # type: ignore[arg-type]
    fn.call_raw((3, 0.01), {}, stream_logs=printer)  # warm: worker, follower, stream
    probe.delays_ms.clear()
    fn.call_raw((lines, 0.02), {}, stream_logs=printer)
    assert len(probe.delays_ms) == lines, (len(probe.delays_ms), lines)
    return probe.delays_ms


def enqueue_rates(fn: Any, *, rounds: int, calls: int, threads: int = 8) -> list[float]:
    """Calls per second through the function's FIFO, with threads clients enqueueing at
    once (enqueue blocks until its own call is done)."""
    rates = []
    for _ in range(rounds + 1):  # the first round warms up
        per_thread = calls // threads
        errors: list[BaseException] = []

        def client(per_thread: int = per_thread, errors: list[BaseException] = errors) -> None:
            try:
                for _ in range(per_thread):
                    fn.enqueue(1, 2)
            except BaseException as exc:
                errors.append(exc)

        workers = [threading.Thread(target=client) for _ in range(threads)]
        start = time.perf_counter()
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        elapsed = time.perf_counter() - start
        if errors:
            raise errors[0]
        rates.append(per_thread * threads / elapsed)
    return rates[1:]
