"""The daemon process: `python -m rhcli.server [--home ROOT] [--port N]`.

Start-up order matters and is what clients rely on:
1. refuse a non-loopback address, take the root (mode 0700), refuse if a live daemon holds
   it, write the pid file;
2. create a new token (0600), stop Ray processes a dead predecessor left, start Ray with
   token authentication (its own token file, whatever RAY_AUTH_MODE says);
3. mark runs the predecessor left in flight as failed, start serving gRPC on 127.0.0.1;
4. only then write daemon.json (pid, port, version): a client that reads it can connect.
SIGTERM or SIGINT stops serving (in-flight calls get a grace period), stops Ray, and removes
daemon.json and the pid file.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc

from rhcli._version import __version__
from rhcli.config.daemon_settings import daemon_settings
from rhcli.config.daemon_state import PID_FILE, is_daemon_process
from rhcli.config.paths import DaemonPaths, rhcli_home
from rhcli.config.root_processes import sweep_leftovers
from rhcli.config.token_file import InsecureTokenFileError, check_token_file, create_token
from rhcli.errors import UsageError
from rhcli.protocol import daemon_pb2_grpc as pb_grpc
from rhcli.protocol.wire import MAX_MESSAGE_BYTES, BadLimitError
from rhcli.protocol.wire import max_arg_bytes as max_arg_bytes_env
from rhcli.server import ray_runtime
from rhcli.server.auth import TokenInterceptor
from rhcli.server.blobs import BlobStore
from rhcli.server.reqs import ReqsInstaller
from rhcli.server.runstore import RunStore

log = logging.getLogger("rhcli.server")

LOOPBACK = ("127.0.0.1", "localhost", "::1")
TEST_HOOK_ENV = "RHCLI_DAEMON_TEST_HOOK"
GRPC_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    # Clients ping idle connections to notice a dead or frozen daemon; allow it.
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 5000),
    ("grpc.http2.max_ping_strikes", 0),
    ("grpc.so_reuseport", 0),
]


class StartupError(Exception):
    """The daemon cannot start; the message says why and what to do."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line, with defaults from the environment (UsageError when one of
    those is malformed: rhcli.config.daemon_settings)."""
    settings = daemon_settings()
    parser = argparse.ArgumentParser(prog="python -m rhcli.server", description=__doc__)
    parser.add_argument(
        "--home",
        type=Path,
        default=None,
        help="root of all daemon state (default: $RHCLI_HOME or ~/.rhcli)",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; loopback only (default: 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(settings["RHCLI_PORT"]),
        help="port to listen on; 0 picks a free one (default: $RHCLI_PORT or 0)",
    )
    parser.add_argument(
        "--ray-address",
        default="local",
        help="Ray to drive: 'local' starts a private instance (default)",
    )
    parser.add_argument(
        "--map-retries",
        type=int,
        default=int(settings["RHCLI_MAP_RETRIES"]),
        help="how often a map chunk whose worker died (its node lost) is run again "
        "(default: $RHCLI_MAP_RETRIES or 2)",
    )
    parser.add_argument(
        "--max-arg-bytes",
        type=int,
        default=None,
        help="refuse calls whose pickled arguments are larger "
        "(default: $RHCLI_MAX_ARG_BYTES or 1 GiB)",
    )
    parser.add_argument(
        "--cancel-grace-s",
        type=float,
        default=settings["RHCLI_CANCEL_GRACE_S"],
        help="seconds a cancelled run has after SIGTERM before its worker is killed "
        "(default: $RHCLI_CANCEL_GRACE_S or 5)",
    )
    parser.add_argument(
        "--retention-days",
        type=float,
        default=settings["RHCLI_RETENTION_DAYS"],
        help="delete finished runs older than this (default: $RHCLI_RETENTION_DAYS or 7)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except UsageError as exc:  # a malformed RHCLI_* setting: refused before anything
        print(f"rhcli daemon: {exc}", file=sys.stderr)
        return 2
    if args.max_arg_bytes is None:
        try:
            args.max_arg_bytes = max_arg_bytes_env()
        except BadLimitError as exc:  # a malformed RHCLI_MAX_ARG_BYTES: refused before anything
            print(f"rhcli daemon: {exc}", file=sys.stderr)
            return 2
    hook = os.environ.get(TEST_HOOK_ENV, "")
    if hook and not hook.startswith("tests."):  # the suite's hooks only, never other code
        print(f"rhcli daemon: ${TEST_HOOK_ENV} names {hook!r}, not a tests.* hook", file=sys.stderr)
        return 2
    os.umask(0o077)  # results, logs and the run store are the user's data: owner only
    paths = DaemonPaths((args.home or rhcli_home()).expanduser().resolve())
    try:
        _take_root(paths, args.host)
    except StartupError as exc:
        print(f"rhcli daemon: {exc}", file=sys.stderr)
        return 2
    _configure_logging(paths.log)
    try:
        return _serve(paths, args)
    except StartupError as exc:
        log.error("%s", exc)
        print(f"rhcli daemon: {exc}", file=sys.stderr)
        return 1
    finally:
        for path in (paths.state, paths.pid):
            _remove_if_ours(path)


def _take_root(paths: DaemonPaths, host: str) -> None:
    if host not in LOOPBACK:
        raise StartupError(
            f"refusing to listen on {host}: the daemon serves without TLS, so it listens on "
            "loopback only; remote clients reach it through an SSH tunnel"
        )
    paths.root.mkdir(mode=0o700, parents=True, exist_ok=True)
    other = _live_pid(paths.pid)
    if other is not None:
        raise StartupError(
            f"a daemon (pid {other}) already runs for {paths.root}; "
            "stop it first (`rhcli down local`)"
        )
    _refuse_loose_token(paths.token)
    paths.pid.write_text(str(os.getpid()))


def _refuse_loose_token(path: Path) -> None:
    """Refuse to start over a token file others can read or write: whoever could read it
    could run code as this user, so the owner has to look at how that happened first."""
    try:
        check_token_file(path)
    except FileNotFoundError:
        return
    except InsecureTokenFileError as exc:
        raise StartupError(
            f"{exc}. Someone else may have read the last token; find out why its mode "
            f"changed, then delete it (`rm {path}`) or fix its mode and start again"
        ) from None


def _serve(paths: DaemonPaths, args: argparse.Namespace) -> int:
    log.info("starting rhcli daemon %s (pid %d) in %s", __version__, os.getpid(), paths.root)
    token = create_token(paths.token)
    sweep_leftovers(paths.owner_marker, paths.ray_temp_dir)
    try:
        ray_runtime.start_ray(
            address=args.ray_address,
            temp_dir=paths.ray_temp_dir,
            owner_marker=paths.owner_marker,
            token_path=paths.ray_token,
        )
    except ray_runtime.RayAuthError as exc:
        raise StartupError(str(exc)) from None
    # After ray.init, which installs handlers of its own that would exit without cleanup.
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    from rhcli.server.executor import Executor  # imports ray: only after Ray is up
    from rhcli.server.mapper import Mapper
    from rhcli.server.runs import RunManager
    from rhcli.server.servicer import DaemonServicer
    from rhcli.server.serving import EndpointManager

    store = RunStore(paths.run_db, paths.runs_dir)
    multinode = args.ray_address != "local"
    executor = Executor(paths.runs_dir, cancel_grace_s=args.cancel_grace_s, multinode=multinode)
    endpoints = EndpointManager(
        root=paths.root,
        logs_dir=paths.endpoint_logs_dir,
        executor=executor,
        head_node_id=ray_runtime.node_id() if multinode else "",
    )
    if multinode:  # a private Ray ends with its driver; a cluster's Ray keeps Serve
        endpoints.clear_leftovers()
    runs = RunManager(store, executor, BlobStore(paths.blobs_dir, max_bytes=args.max_arg_bytes))
    runs.recover()
    retention_s = args.retention_days * 86400
    _start_retention(store, retention_s, stop)
    mapper = Mapper(runs, max_retries=max(0, args.map_retries))
    _install_test_hook(mapper)
    servicer = DaemonServicer(
        home=paths.root,
        runs=runs,
        mapper=mapper,
        installer=ReqsInstaller(paths.reqs_dir),
        endpoints=endpoints,
    )
    server = grpc.server(
        # Blocking calls hold a thread each for as long as they run: be generous.
        futures.ThreadPoolExecutor(max_workers=256, thread_name_prefix="rpc"),
        interceptors=[TokenInterceptor(token)],
        options=GRPC_OPTIONS,
    )
    pb_grpc.add_DaemonServicer_to_server(servicer, server)
    try:
        port = server.add_insecure_port(f"{_bind_host(args.host)}:{args.port}")
    except RuntimeError as exc:
        raise StartupError(f"cannot listen on {args.host}:{args.port}: {exc}") from exc
    server.start()
    _write_state(paths, port)
    log.info("serving on %s:%d", args.host, port)

    while not stop.wait(timeout=1.0):
        pass
    log.info("stopping: finishing in-flight calls (up to 5 s)")
    server.stop(grace=5).wait()
    endpoints.shutdown()  # before Ray: on a multi-node cluster Serve would outlive us
    # The store stays open: runs still finishing write their outcome until Ray stops
    # them; what is left running is failed by the next daemon's recovery.
    executor.shutdown()
    ray_runtime.stop_ray()
    sweep_leftovers(paths.owner_marker, paths.ray_temp_dir)
    log.info("stopped")
    return 0


def _install_test_hook(mapper: object) -> None:
    """For the fault tests only: $RHCLI_DAEMON_TEST_HOOK names a `module:function` that is
    called with the mapper before serving, to inject failures no client can cause (a
    worker thread's exception). Unset, as it always is outside the tests, it does nothing."""
    spec = os.environ.get(TEST_HOOK_ENV, "")
    if not spec:
        return
    module, _, name = spec.partition(":")  # a tests.* module: main refuses any other
    getattr(importlib.import_module(module), name)(mapper)
    log.warning("test hook %s installed", spec)


def _start_retention(store: RunStore, retention_s: float, stop: threading.Event) -> None:
    """Delete runs older than the retention now and then every hour, until stop."""

    def purge() -> None:
        while True:
            deleted = store.purge_older_than(retention_s)
            if deleted:
                log.info("deleted %d runs older than the retention", deleted)
            if stop.wait(timeout=3600):
                return

    threading.Thread(target=purge, name="retention", daemon=True).start()


def _bind_host(host: str) -> str:
    return "[::1]" if host == "::1" else "127.0.0.1"


def _write_state(paths: DaemonPaths, port: int) -> None:
    state = {
        "pid": os.getpid(),
        "port": port,
        "host": "127.0.0.1",
        "version": __version__,
        "started_at": time.time(),
        "python": sys.executable,
    }
    tmp = paths.state.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, paths.state)


def _live_pid(pid_file: Path) -> int | None:
    """The pid in pid_file if that process is alive and is an rhcli daemon."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid != os.getpid() and is_daemon_process(pid) else None


def _remove_if_ours(path: Path) -> None:
    try:
        if path.name == PID_FILE:
            if path.read_text().strip() != str(os.getpid()):
                return
        elif json.loads(path.read_text()).get("pid") != os.getpid():
            return
        path.unlink()
    except (OSError, ValueError):
        pass


def _configure_logging(log_path: Path) -> None:
    handler = logging.FileHandler(log_path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
