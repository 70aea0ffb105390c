"""Warm call latency through an SSH cluster's tunnel beside the local cluster's, measured on
this machine against a loopback sshd (tests/support/sshd.py).

    python benchmarks/ssh_latency.py [--calls N] [--root DIR]

Both clusters are real: the local cluster's daemon under a private RHCLI_HOME, and an SSH
cluster on a throw-away sshd on 127.0.0.1 whose rhcli root is --root (default: a temporary
folder; pass a kept one to skip the ~50 s bootstrap on later runs). Each cluster gets a
warm-up of 20 calls, then N timed calls of tests.fixtures.funcs.add. Also printed: the
time of `up` on the SSH cluster (a first up when the root is new, else a no-op up). Both
daemons are stopped and sshd with them; no process of either root is left.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _timed_calls(fn: object, calls: int) -> list[float]:
    for _ in range(20):
        fn(1, 2)  # type: ignore[operator]
    times = []
    for i in range(calls):
        started = time.perf_counter()
        assert fn(i, 1) == i + 1  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    return times


def _row(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p90 = ordered[int(len(ordered) * 0.9) - 1]
    return (
        f"{name:<14} median {statistics.median(times):6.2f} ms   p90 {p90:6.2f} ms   "
        f"min {ordered[0]:6.2f} ms   ({len(times)} warm calls)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--root", default="")
    options = parser.parse_args()
    sys.path.insert(0, str(REPO))
    os.chdir(REPO)
    local_home = Path(tempfile.mkdtemp(prefix="rhcli-bench-local-"))
    os.environ["RHCLI_HOME"] = str(local_home)
    from tests.support.sshd import start_sshd

    sshd_dir = Path(tempfile.mkdtemp(prefix="rhcli-bench-sshd-"))
    host = start_sshd(sshd_dir)
    os.environ["RHCLI_KNOWN_HOSTS"] = str(host.known_hosts)
    os.environ["RHCLI_SSH_CONFIG"] = str(sshd_dir / "no-ssh-config")
    remote_root = Path(options.root or tempfile.mkdtemp(prefix="rhcli-bench-remote-")) / "root"

    import rhcli as rh
    from tests.conftest import processes_of_root
    from tests.fixtures import funcs

    local = rh.cluster("local")
    box = rh.cluster(
        name="box",
        host="127.0.0.1",
        port=host.port,
        user="root",
        key=str(host.user_key),
        home=str(remote_root),
    )
    try:
        fresh = not (remote_root / "installed.json").exists()
        started = time.monotonic()
        box.up()
        print(
            f"ssh up ({'first, empty root' if fresh else 'nothing changed'}): "
            f"{time.monotonic() - started:.2f} s"
        )
        started = time.monotonic()
        box.up()
        print(f"ssh up (nothing changed): {time.monotonic() - started:.2f} s")
        local.up()
        ssh_times = _timed_calls(rh.function(funcs.add, system=box), options.calls)
        local_times = _timed_calls(rh.function(funcs.add, system=local), options.calls)
        print(_row("local", local_times))
        print(_row("ssh (tunnel)", ssh_times))
    finally:
        box.down()
        local.down()
        host.stop()
        time.sleep(1)
        left = processes_of_root(local_home) + processes_of_root(remote_root)
        shutil.rmtree(local_home, ignore_errors=True)
        shutil.rmtree(sshd_dir, ignore_errors=True)
        if not options.root:
            shutil.rmtree(remote_root.parent, ignore_errors=True)
        print("processes left:", left or "none")


if __name__ == "__main__":
    main()
