"""The floor under payloads over SSH: bare gRPC through a port forward of the same sshd.

A 10 MB request and a 1 MB reply of the bare gRPC server (benchmarks.floors) sent
through two forwards to the same loopback sshd the SSH cluster uses:

- OpenSSH's own (`ssh -N -L SOCKET:127.0.0.1:PORT`, a unix socket here, as the cluster's
  master forward is): the bytes move in OpenSSH's C code;
- paramiko's (rhcli.transport.tunnel.Tunnel over one paramiko connection, as rhcli used
  before its SSH holder, and still does when no OpenSSH master can start): in Python.

Issue 16 asked to choose between them with these figures; rhcli reaches the daemon
through the OpenSSH one.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.floors import GRPC_OPTIONS, start_grpc_server
from benchmarks.harness import Bench, SshTarget, stop_child
from benchmarks.stats import Row, ms, timed


def run(bench: Bench) -> list[Row]:
    """The forwarding floors (empty for a target that is not the SSH one)."""
    target = bench.target
    if not isinstance(target, SshTarget):
        return []
    server, port = start_grpc_server()
    try:
        bench.log("  forwarding floors: bare gRPC through OpenSSH's forward and paramiko's")
        rows = _through("openssh", "OpenSSH forward", _openssh_forward(target, port), bench)
        rows += _through("paramiko", "paramiko forward", _paramiko_forward(target, port), bench)
    finally:
        stop_child(server)
    return rows


def _through(key: str, label: str, forward: tuple[str, object], bench: Bench) -> list[Row]:
    import grpc

    address, handle = forward
    try:
        with grpc.insecure_channel(address, options=GRPC_OPTIONS) as channel:
            sink = channel.unary_unary("/bench/Sink")
            source = channel.unary_unary("/bench/Source")
            big = b"x" * bench.mb10
            r = bench.reps
            request = timed(lambda: sink(big, timeout=60), calls=r.payload, warmup=3)
            one_mb = str(bench.mb1).encode()
            reply = timed(lambda: source(one_mb, timeout=60), calls=r.payload, warmup=3)
    finally:
        _close(handle)
    return [
        Row(
            f"grpc_10mb_request_{key}",
            f"floor: bare gRPC, 10 MB request, {label}",
            "ms",
            ms(request),
        ),
        Row(f"grpc_1mb_reply_{key}", f"floor: bare gRPC, 1 MB reply, {label}", "ms", ms(reply)),
    ]


def _openssh_forward(target: SshTarget, port: int) -> tuple[str, object]:
    folder = Path(tempfile.mkdtemp(prefix="rhb-fwd-", dir="/tmp"))
    socket_path = folder / "fwd"
    process = subprocess.Popen(
        [
            *target.ssh_command(),
            *("-N", "-o", "ExitOnForwardFailure=yes", "-o", "StreamLocalBindMask=0177"),
            *("-L", f"{socket_path}:127.0.0.1:{port}"),
            target.cluster.target.destination(),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not socket_path.is_socket():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit("the OpenSSH forward for the floor did not start")
        time.sleep(0.05)
    return f"unix:{socket_path}", (process, folder)


def _paramiko_forward(target: SshTarget, port: int) -> tuple[str, object]:
    from rhcli.transport.ssh import SSHConnection
    from rhcli.transport.tunnel import Tunnel

    connection = SSHConnection(target.cluster.target)
    tunnel = Tunnel(connection.transport, port)
    return tunnel.address, (tunnel, connection)


def _close(handle: object) -> None:
    import shutil

    first, second = handle  # type: ignore[misc]
    if isinstance(first, subprocess.Popen):
        first.terminate()
        first.wait(10)
        shutil.rmtree(second, ignore_errors=True)
    else:
        first.close()
        second.close()
