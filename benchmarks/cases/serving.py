"""HTTP endpoints: a trivial function served by rhcli, called over HTTP at its local URL,
beside a bare Ray Serve deployment of the same function measured in the same run.

Both are one replica of half a CPU, called by the same client code: sequential requests
on one keep-alive connection (latency), then CLIENTS threads, each on its own keep-alive
connection, back to back (requests per second). rhcli's requests carry the bearer token
and pass its gate and function adapter (JSON body to keyword arguments, the function run
off the event loop, the result to JSON); the bare deployment reads the JSON body itself
and calls the function on the event loop. On the SSH target rhcli's URL is the SSH
forward; the bare floor is measured once, on this machine, in a child process with a
private Ray.

    python -m benchmarks.cases.serving ray-child --calls N --warmup W --rounds R --temp-dir DIR
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from benchmarks.harness import Bench, ray_child_samples
from benchmarks.stats import Row

CLIENTS = 8
PER_CLIENT = 100
FLOOR_LATENCY = ("serve_bare_latency",)
FLOOR_RATE = ("serve_bare_rate",)
_BODY = json.dumps({"a": 1, "b": 2}).encode()
_bare: list[Row] = []  # the floor, measured once per run


def run(bench: Bench) -> list[Row]:
    import rhcli as rh
    from benchmarks.workload import add

    assert bench.target is not None
    r = bench.reps
    rounds = max(2, r.enqueue_rounds)
    if not _bare:
        bench.log(f"  floor: bare Ray Serve, {r.calls} requests, {rounds} rate rounds")
        _bare.extend(bare_floor(bench, calls=r.calls, rounds=rounds))
    fn = rh.function(add, system=bench.target.cluster, reqs=[], resources={"num_cpus": 0.5})
    bench.log("  rhcli serve: deploying one replica")
    started = time.perf_counter()
    endpoint = fn.serve(name="bench-add")
    deploy_s = time.perf_counter() - started
    try:
        bench.log(f"  rhcli endpoint: {r.calls} requests, {rounds} rate rounds")
        latency = latency_ms(endpoint.url, endpoint.token, calls=r.calls, warmup=r.warmup)
        rates = [requests_per_s(endpoint.url, endpoint.token) for _ in range(rounds)]
    finally:
        endpoint.unserve()
    return [
        *_bare,
        Row(
            "serve_latency",
            "rhcli endpoint: POST at its local URL",
            "ms",
            latency,
            floor=FLOOR_LATENCY,
        ),
        Row(
            "serve_rate",
            f"rhcli endpoint, {CLIENTS} keep-alive clients",
            "calls/s",
            rates,
            floor=FLOOR_RATE,
        ),
        Row("serve_deploy", "rhcli serve: deploy to running (Serve up)", "s", [deploy_s]),
    ]


# --- the load -------------------------------------------------------------------------------


def _connection(url: str) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60), parts.path


def _post(conn: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> None:
    conn.request("POST", path, body=_BODY, headers=headers)
    reply = conn.getresponse()
    data = reply.read()
    if reply.status != 200 or json.loads(data) != 3:
        raise RuntimeError(f"unexpected answer {reply.status}: {data[:200]!r}")


def _headers(token: str) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def latency_ms(url: str, token: str, *, calls: int, warmup: int) -> list[float]:
    """Milliseconds per request, one after another on one keep-alive connection."""
    conn, path = _connection(url)
    headers = _headers(token)
    try:
        for _ in range(warmup):
            _post(conn, path, headers)
        samples = []
        for _ in range(calls):
            started = time.perf_counter()
            _post(conn, path, headers)
            samples.append((time.perf_counter() - started) * 1000.0)
        return samples
    finally:
        conn.close()


def requests_per_s(url: str, token: str) -> float:
    """Requests per second of CLIENTS threads, PER_CLIENT requests each, back to back."""
    errors: list[BaseException] = []
    ready = threading.Barrier(CLIENTS + 1)

    def client() -> None:
        conn, path = _connection(url)
        headers = _headers(token)
        try:
            _post(conn, path, headers)  # connected before the clock starts
            ready.wait()
            for _ in range(PER_CLIENT):
                _post(conn, path, headers)
        except BaseException as exc:
            errors.append(exc)
            ready.abort()
        finally:
            conn.close()

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"a client failed: {errors[0]!r}")
    return CLIENTS * PER_CLIENT / elapsed


# --- the floor: bare Ray Serve in a child process ----------------------------------------------


def bare_floor(bench: Bench, *, calls: int, rounds: int) -> list[Row]:
    samples = ray_child_samples(
        bench,
        "benchmarks.cases.serving",
        ["--calls", str(calls), "--warmup", str(bench.reps.warmup), "--rounds", str(rounds)],
    )
    return [
        Row("serve_bare_latency", "floor: bare Ray Serve, POST", "ms", samples["latency"]),
        Row(
            "serve_bare_rate",
            f"floor: bare Ray Serve, {CLIENTS} keep-alive clients",
            "calls/s",
            samples["rate"],
        ),
    ]


def _bare_child(calls: int, warmup: int, rounds: int, temp_dir: str) -> dict[str, Any]:
    import socket

    import ray
    from ray import serve
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    from benchmarks.workload import add

    ray.init(address="local", include_dashboard=False, log_to_driver=False, _temp_dir=temp_dir)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": port})

    @serve.deployment(ray_actor_options={"num_cpus": 0.5})
    class Bare:
        async def __call__(self, request: Request) -> JSONResponse:
            return JSONResponse(add(**await request.json()))

    serve.run(Bare.bind(), name="bare", route_prefix="/bare")
    url = f"http://127.0.0.1:{port}/bare"
    try:
        return {
            "latency": latency_ms(url, "", calls=calls, warmup=warmup),
            "rate": [requests_per_s(url, "") for _ in range(rounds)],
        }
    finally:
        serve.shutdown()
        ray.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cases.serving")
    sub = parser.add_subparsers(dest="what", required=True)
    child = sub.add_parser("ray-child")
    child.add_argument("--calls", type=int, required=True)
    child.add_argument("--warmup", type=int, required=True)
    child.add_argument("--rounds", type=int, required=True)
    child.add_argument("--temp-dir", required=True)
    args = parser.parse_args(argv)
    samples = _bare_child(args.calls, args.warmup, args.rounds, args.temp_dir)
    print(json.dumps(samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
