"""The local URL of an SSH cluster's HTTP endpoints: a forward held by a process of its own.

Serve's HTTP proxy listens on the cluster head's loopback. A client reaches it at
``http://127.0.0.1:<local port>`` through an SSH forward (the Tunnel the daemon's gRPC
uses), held by a small background process, one per cluster, so that the URL `rhcli serve`
or `rhcli endpoints` printed keeps working after that command has exited, from any
program on this machine (curl, a browser, a script).

- ``ensure_forward`` starts the holder, or finds it running for the same remote port,
  and returns its local port; a holder whose remote port changed (Serve was restarted)
  is replaced by one on the same local port when it is still free, so URLs stay the same.
- The holder reconnects SSH when the connection drops (on the next request).
- ``stop_forward`` ends it: `rhcli unserve` of the cluster's last endpoint and `rhcli
  down` do. It listens on 127.0.0.1 only; every request still needs the endpoint's token.

State: ``<RHCLI_HOME>/forwards/<key>.json`` (pid, local and remote port), its log beside
it; key is a digest of the cluster's name and how it is reached.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from rhcli.errors import UnreachableError
from rhcli.transport.ssh_target import SSHTarget

START_TIMEOUT_S = 30.0
_MODULE = "rhcli.transport.http_forward"


def state_path(cluster: str, target: SSHTarget) -> Path:
    from rhcli.config.paths import rhcli_home

    key = repr((cluster, target.destination(), target.port, target.ssh_options()))
    return rhcli_home() / "forwards" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


def ensure_forward(cluster: str, target: SSHTarget, remote_port: int) -> int:
    """The local port that forwards to remote_port on the cluster's loopback, held by a
    background process (started when none runs for that port). Blocks until it listens;
    raises UnreachableError (with the holder's log) when it cannot."""
    path = state_path(cluster, target)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _locked(path):
        state = _live_state(path)
        if state is not None and state["remote_port"] == remote_port:
            return int(state["local_port"])
        if state is not None:
            _stop(int(state["pid"]))
        # The port of the last holder, alive or not, when it is still free: same URLs.
        previous = int((_read(path) or {}).get("local_port", 0))
        return _start(path, target, remote_port, previous)


def stop_forward(cluster: str, target: SSHTarget) -> bool:
    """End the cluster's forward holder; False when none ran. Idempotent."""
    path = state_path(cluster, target)
    if not path.parent.is_dir():
        return False
    with _locked(path):
        state = _live_state(path)
        path.unlink(missing_ok=True)
        if state is None:
            return False
        _stop(int(state["pid"]))
        return True


def _start(path: Path, target: SSHTarget, remote_port: int, local_port: int) -> int:
    log_path = path.with_suffix(".log")
    argv = [
        sys.executable,
        "-m",
        _MODULE,
        "--target",
        json.dumps(dataclasses.asdict(dataclasses.replace(target, accept_new_host_key=False))),
        "--remote-port",
        str(remote_port),
        "--local-port",
        str(local_port),
        "--state",
        str(path),
    ]
    with open(log_path, "ab") as log:
        # Its own session: a Ctrl-C in the terminal that started it must not end it.
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        state = _read(path)
        if state is not None and state.get("pid") == proc.pid:
            return int(state["local_port"])
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    proc.wait()
    tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-10:])
    raise UnreachableError(
        f"could not forward a local port to the HTTP endpoints on {target.alias} "
        f"(port {remote_port} there); the forward's log ({log_path}) ends with:\n{tail}"
    )


def _stop(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while _is_holder(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _is_holder(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _live_state(path: Path) -> dict[str, Any] | None:
    state = _read(path)
    if state is None or not _is_holder(int(state.get("pid", 0))):
        return None
    return state


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def _is_holder(pid: int) -> bool:
    """pid is alive and is a forward holder (a reused pid is not)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return _MODULE.encode() in cmdline and b"<defunct>" not in cmdline


@contextlib.contextmanager
def _locked(path: Path) -> Any:
    """Two clients of one cluster start one holder."""
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# --- the holder process --------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Hold the forward until SIGTERM; writes the state file once it listens."""
    from rhcli.transport.ssh import SSHConnection  # paramiko: only in the holder process
    from rhcli.transport.tunnel import Tunnel

    parser = argparse.ArgumentParser(prog=f"python -m {_MODULE}")
    parser.add_argument("--target", required=True, help="the SSH target, as JSON")
    parser.add_argument("--remote-port", type=int, required=True)
    parser.add_argument("--local-port", type=int, default=0)
    parser.add_argument("--state", type=Path, required=True)
    args = parser.parse_args(argv)
    fields = json.loads(args.target)
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
    target = SSHTarget(**values)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    connections = [SSHConnection(target)]

    def reconnect() -> Any:
        connections[0].close()
        connections[0] = SSHConnection(target)
        return connections[0].transport

    try:
        tunnel = Tunnel(
            connections[0].transport,
            args.remote_port,
            local_port=args.local_port,
            reconnect=reconnect,
        )
    except OSError:  # the old local port is taken now: any free one
        tunnel = Tunnel(connections[0].transport, args.remote_port, reconnect=reconnect)
    state = {"pid": os.getpid(), "local_port": tunnel.local_port, "remote_port": args.remote_port}
    tmp = args.state.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, args.state)
    print(
        f"forwarding 127.0.0.1:{tunnel.local_port} to port {args.remote_port} on {target.alias}",
        flush=True,
    )
    stop.wait()
    tunnel.close()
    connections[0].close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
