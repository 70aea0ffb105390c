"""Time one map over a multi-node SSH cluster, with every node and with the head alone.

    python benchmarks/multinode_map.py --hosts HEAD,WORKER[,...] [--user U] [--key K]
        [--items 2000] [--sleep 0.05]

Brings the cluster up (`up`), maps a function that sleeps --sleep seconds over --items
items, then stops Ray on the worker nodes (the daemon and the head stay), waits until the
daemon's status shows them lost, and runs the same map on the head alone; finally `up`
joins the workers again. Both maps run on the same daemon, Ray and code: only the number
of nodes differs. Prints one JSON line per map (nodes, CPUs, seconds, items/s).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TASK = "import time\n\ndef nap(x, s):\n    time.sleep(s)\n    return x\n"


def timed_map(fn: object, items: int, sleep: float) -> float:
    started = time.perf_counter()
    results = fn.map(range(items), s=sleep)  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - started
    assert results == list(range(items)), "wrong results"
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", required=True, help="comma-separated, head first")
    parser.add_argument("--user", default=None)
    parser.add_argument("--key", default=None)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--sleep", type=float, default=0.05)
    args = parser.parse_args()

    import rhcli as rh
    from rhcli.function_ref import from_entrypoint
    from rhcli.functions import Function

    hosts = args.hosts.split(",")
    cluster = rh.cluster("bench-multinode", hosts=hosts, user=args.user, key=args.key)
    project = Path(tempfile.mkdtemp(prefix="rhcli-bench-mn-"))
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / "bench_tasks.py").write_text(TASK)
    fn = Function(from_entrypoint("bench_tasks:nap", root=project), system=cluster)
    cluster.up()
    fn.map(range(8), s=0.0)  # warm: code synced, workers started

    def report(label: str) -> None:
        status = cluster.status()
        alive = [n for n in status.nodes if n["alive"]]
        seconds = timed_map(fn, args.items, args.sleep)
        print(
            json.dumps(
                {
                    "map": label,
                    "items": args.items,
                    "sleep_s": args.sleep,
                    "nodes": len(alive),
                    "cpus": sum(n["resources"].get("CPU", 0) for n in alive),
                    "seconds": round(seconds, 2),
                    "items_per_s": round(args.items / seconds, 1),
                }
            ),
            flush=True,
        )

    report("all nodes")
    for node in cluster.workers:  # type: ignore[attr-defined]
        conn = cluster._node_conn(node)  # type: ignore[attr-defined]
        cluster._node_command(conn, cluster._node_state(node), "stop")  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while sum(n["alive"] for n in cluster.status().nodes) > 1:
        if time.monotonic() > deadline:
            print("the workers were not seen as lost within 60 s", file=sys.stderr)
            return 1
        time.sleep(0.5)
    time.sleep(6)  # the daemon's capacity cache (5 s) sees one node
    report("head alone")
    cluster.up()
    return 0


if __name__ == "__main__":
    sys.exit(main())
