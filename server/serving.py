"""The daemon's HTTP endpoints: Ray Serve applications it starts, rolls, lists and ends.

Each endpoint is one Serve application (named like the endpoint, at its route) whose
replicas run rhcli.server.endpoint_replica. The daemon owns Serve's lifecycle: Serve
starts with the first endpoint, its HTTP proxy on a free port of the head's loopback (on
every address once a public endpoint starts it), and stops with the last endpoint and
with the daemon. What Serve is not told, it never learns: the registry of endpoints is
the daemon's, in memory, so a daemon restart ends every endpoint (`rhcli up` serves the
manifest's again); only the tokens outlive it (rhcli.server.endpoint_tokens).

Ray Serve (``ray[serve]``) is imported only here and only when an endpoint is served: a
daemon without it runs calls as before and refuses to serve with what to install.
"""

from __future__ import annotations

import logging
import shutil
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rhcli.protocol import daemon_pb2 as pb
from rhcli.server.endpoint_http import token_digest
from rhcli.server.endpoint_spec import EndpointRefused, actor_options, checked, describe
from rhcli.server.endpoint_tokens import EndpointTokens
from rhcli.server.executor import Executor, ray_resources
from rhcli.server.serve_status import app_status

log = logging.getLogger(__name__)

DEFAULT_WAIT_S = 300.0
_POLL_S = 0.25


class ServeMissing(Exception):
    """Ray Serve cannot be imported where the daemon runs; the message says what to do."""


@dataclass
class _Served:
    spec: pb.EndpointSpec
    created_at: float
    updated_at: float
    failed: str = ""  # why the last deploy failed


def import_serve() -> Any:
    """ray.serve, or ServeMissing naming the interpreter and what to install there."""
    import ray

    try:
        from ray import serve
    except ImportError as exc:
        raise ServeMissing(
            f"Ray Serve is not installed where the daemon runs ({sys.executable}: {exc}). "
            f"Install it there: pip install 'ray[serve]=={ray.__version__}' "
            "(for the local cluster, `pip install 'rhcli[serve]'` in this environment); "
            "on SSH and sky clusters rhcli installs it when an endpoint is served"
        ) from None
    return serve


class EndpointManager:
    """Serves, lists and ends endpoints; thread-safe (deploys one at a time)."""

    def __init__(
        self, *, root: Path, logs_dir: Path, executor: Executor, head_node_id: str
    ) -> None:
        """logs_dir: where each endpoint's log goes (<logs_dir>/<name>/log.jsonl);
        head_node_id: the daemon's Ray node on a multi-node cluster, else ""."""
        self._root = root
        self._logs_dir = logs_dir
        self._executor = executor
        self._head_node_id = head_node_id
        self._tokens = EndpointTokens(root / "endpoint_tokens.json")
        self._lock = threading.Lock()
        self._served: dict[str, _Served] = {}
        self._proxy: tuple[str, int] | None = None  # (host, port) while Serve runs
        self._last_port = 0

    # --- serving ----------------------------------------------------------------------

    def serve(self, spec: pb.EndpointSpec, *, wait_s: float) -> pb.EndpointInfo:
        """Deploy (or roll) the endpoint and wait up to wait_s for its replicas. Raises
        EndpointRefused or ServeMissing before anything is deployed."""
        spec = checked(spec)
        serve = import_serve()
        with self._lock:
            self._refuse_taken_route(spec)
            ceiling = self._ceiling(spec)
            current = self._served.get(spec.name)
            if current is not None and current.spec == spec and not current.failed:
                if self._status_of(serve, spec.name)[0] == "running":
                    return self._info(serve, spec.name, show_token=True)
            self._start(serve, public=spec.public)
            token = self._tokens.get_or_create(spec.name)
            before = self._executor.reserved.total_of(spec.name)
            if self._executor.reserved.set(spec.name, ceiling):
                self._executor.pool.drop_idle()  # idle warm workers may hold that room
            try:
                self._deploy(serve, spec, token)
            except BaseException:
                self._executor.reserved.set(spec.name, before)  # what runs still holds it
                if not self._served:  # Serve was started for this one alone
                    self._stop_serve(serve)
                raise
            now = time.time()
            created = current.created_at if current is not None else now
            self._served[spec.name] = _Served(spec, created, now)
        failed = self._wait(serve, spec.name, wait_s or DEFAULT_WAIT_S)
        if failed and current is None:
            return self._drop_failed(serve, spec.name)
        return self._info(serve, spec.name, show_token=True)

    def _deploy(self, serve: Any, spec: pb.EndpointSpec, token: str) -> None:
        from ray.serve.api import RunTarget

        from rhcli.server.endpoint_replica import EndpointReplica, build_app

        fn = spec.function
        config = {
            "name": spec.name,
            "entrypoint": fn.entrypoint,
            "pickled": fn.pickled,
            "asgi": spec.asgi,
            "code_root": fn.code_root,
            "head_root": str(self._root),
            "log_path": str(self.log_path(spec.name)),
            "head_node_id": self._head_node_id,
            "token_sha256": token_digest(token),
            "public": spec.public,
            "code_version": spec.code_version,
        }
        options: dict[str, Any] = {
            "name": spec.name,
            "ray_actor_options": actor_options(spec.resources),
            # A request line per request would flood the endpoint's log at serving rates.
            "logging_config": {"enable_access_log": False},
        }
        if spec.max_replicas:
            options["autoscaling_config"] = {
                "min_replicas": spec.min_replicas,
                "max_replicas": spec.max_replicas,
            }
        else:
            options["num_replicas"] = spec.replicas
        deployment = serve.deployment(serve.ingress(build_app)(EndpointReplica), **options)
        # Not waiting here: _wait follows the rollout, and gives up when the caller asks.
        serve.run_many(
            [RunTarget(deployment.bind(config), name=spec.name, route_prefix=spec.route)],
            wait_for_applications_running=False,
        )
        log.info("deployed endpoint %s at %s (%s)", spec.name, spec.route, spec.code_version)

    def _wait(self, serve: Any, name: str, wait_s: float) -> bool:
        """Until the deploy is running, or failed (recorded; returns True), or wait_s
        passed."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            status, message = self._status_of(serve, name)
            if status == "running":
                return False
            if status == "failed":
                # After a failed roll the room stays reserved: Serve may keep the previous
                # version's replicas running, and the endpoint stays listed until unserved.
                with self._lock:
                    served = self._served.get(name)
                    if served is not None:
                        served.failed = message or "the deploy failed"
                return True
            time.sleep(_POLL_S)
        return False

    def _drop_failed(self, serve: Any, name: str) -> pb.EndpointInfo:
        """End an endpoint whose first deploy failed (nothing of it ever ran): no
        application, room, token or proxy is left of it, only its log (what its replicas
        printed, the traceback). Returns its last state, failed."""
        with self._lock:
            served = self._served.get(name)
            if served is None or not served.failed:  # unserved or served again meanwhile
                return self._info(serve, name, show_token=True) if served else _gone(name)
            info = self._info(serve, name, show_token=False)
            self._end(serve, name)
            self._tokens.drop(name)
        info.message += "\n(it is not served: nothing of it is left running)"
        log.info("endpoint %s failed to start; ended", name)
        return info

    def _start(self, serve: Any, *, public: bool) -> None:
        """Start Serve's proxy (loopback, or every address for a public endpoint)."""
        host = "0.0.0.0" if public else "127.0.0.1"  # noqa: S104 - asked for by --public
        if self._proxy is not None:
            if public and self._proxy[0] != host:
                others = ", ".join(sorted(self._served)) or "none"
                raise EndpointRefused(
                    "room",
                    "the cluster's HTTP proxy listens on its loopback only (endpoints "
                    f"served: {others}); a public endpoint needs it on every address. "
                    "Unserve those endpoints first, then serve the public one (and serve "
                    "them again, with --public or not)",
                )
            return
        port = _free_port(self._last_port)
        serve.start(
            # Loopback: only the head's proxy can be reached (through the SSH forward).
            proxy_location="EveryNode" if public else "HeadOnly",
            http_options={"host": host, "port": port},
        )
        self._proxy = (host, port)
        self._last_port = port
        log.info("Ray Serve started; its HTTP proxy listens on %s:%d", host, port)

    # --- ending -----------------------------------------------------------------------

    def unserve(self, name: str) -> bool:
        """End the endpoint, its token and its log; False when there was none (a token or
        log left of that name goes all the same). Ending the last one stops Serve."""
        with self._lock:
            served = self._served.get(name)
            if served is not None:
                self._end(import_serve(), name)
                log.info("unserved endpoint %s", name)
            self._tokens.drop(name)
            shutil.rmtree(self._logs_dir / name, ignore_errors=True)
            return served is not None

    def _end(self, serve: Any, name: str) -> None:
        """Delete its application and release its room; the last one stops Serve. Under
        the lock."""
        serve.delete(name)  # first: should it fail, the endpoint is still known
        del self._served[name]
        self._executor.reserved.set(name, None)
        if not self._served:
            self._stop_serve(serve)

    def shutdown(self) -> None:
        """Stop Serve with the daemon (on a multi-node cluster its actors would outlive
        it). Never raises: the daemon is stopping either way."""
        with self._lock:
            if self._proxy is None:
                return
            self._served.clear()
            try:
                self._stop_serve(import_serve())
            except Exception:
                log.exception("stopping Ray Serve failed")

    def clear_leftovers(self) -> None:
        """Stop a Serve that a dead predecessor left on a cluster that outlived it (only a
        multi-node cluster's Ray does): its endpoints are no longer in any registry."""
        import ray

        try:
            ray.get_actor("SERVE_CONTROLLER_ACTOR", namespace="serve")
        except ValueError:  # no Serve runs: the usual case
            return
        log.info("stopping the Ray Serve a previous daemon left running")
        import_serve().shutdown()

    def _stop_serve(self, serve: Any) -> None:
        serve.shutdown()
        self._proxy = None
        log.info("Ray Serve stopped")

    # --- reading ----------------------------------------------------------------------

    def list(self, *, show_token: bool) -> list[pb.EndpointInfo]:
        with self._lock:
            names = sorted(self._served)
        if not names:
            return []
        serve = import_serve()
        apps = serve.status().applications
        return [
            self._info(serve, name, show_token=show_token, apps=apps)
            for name in names
            if name in self._served  # not unserved meanwhile
        ]

    def count(self) -> int:
        return len(self._served)

    def is_served(self, name: str) -> bool:
        return name in self._served

    def log_path(self, name: str) -> Path:
        return self._logs_dir / name / "log.jsonl"

    def _status_of(self, serve: Any, name: str) -> tuple[str, str]:
        """(status, message) of the endpoint's latest deploy, as Serve reports it."""
        return app_status(serve.status().applications.get(name))

    def _info(
        self, serve: Any, name: str, *, show_token: bool, apps: Any = None
    ) -> pb.EndpointInfo:
        """The endpoint as the protocol tells it; apps: Serve's applications, when the
        caller read them already."""
        served = self._served[name]
        spec = served.spec
        app = (apps if apps is not None else serve.status().applications).get(name)
        status, message = app_status(app)
        if served.failed:
            status, message = "failed", served.failed
        running = 0
        if app is not None:
            running = sum(d.replica_states.get("RUNNING", 0) for d in app.deployments.values())
        host, port = self._proxy or ("", 0)
        fn = spec.function
        return pb.EndpointInfo(
            name=name,
            route=spec.route,
            status=status,
            message=message,
            replicas_running=running,
            replicas=spec.replicas,
            min_replicas=spec.min_replicas,
            max_replicas=spec.max_replicas,
            asgi=spec.asgi,
            public=spec.public,
            target=fn.entrypoint or f"{fn.name} (by value)",
            port=port,
            host=host,
            token=self._tokens.get(name) if show_token else "",
            created_at=served.created_at,
            updated_at=served.updated_at,
            resources=spec.resources,
        )

    # --- checks -----------------------------------------------------------------------

    def _refuse_taken_route(self, spec: pb.EndpointSpec) -> None:
        for name, served in self._served.items():
            if name != spec.name and served.spec.route == spec.route:
                raise EndpointRefused(
                    "exists",
                    f"route {spec.route} is endpoint {name!r}'s; pick another --route "
                    f"or unserve {name} first",
                )

    def _ceiling(self, spec: pb.EndpointSpec) -> dict[str, float]:
        """The most the endpoint's replicas may hold; refused when the cluster could
        never hold it."""
        most = spec.max_replicas or spec.replicas
        one = ray_resources(spec.resources)
        ceiling = {name: amount * most for name, amount in one.items() if amount}
        total = self._executor.capacity()
        others = self._executor.reserved.total()
        mine = self._executor.reserved.total_of(spec.name)
        short = [
            f"{name}={amount:g} (the cluster has {total.get(name, 0.0):g}, other endpoints "
            f"hold {others.get(name, 0.0) - mine.get(name, 0.0):g})"
            for name, amount in ceiling.items()
            if amount > total.get(name, 0.0) - others.get(name, 0.0) + mine.get(name, 0.0) + 1e-9
        ]
        if short:
            raise EndpointRefused(
                "room",
                f"endpoint {spec.name!r} needs at most {most} replicas of "
                f"{describe(one)}: {', '.join(short)}. Ask for fewer replicas or less per "
                "replica, or unserve another endpoint",
            )
        return ceiling


def _free_port(preferred: int) -> int:
    """A port free on this host now: the one used before when it still is (a restarted
    Serve keeps its URLs), else any."""
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket() as probe:
            try:
                probe.bind(("0.0.0.0", port))  # noqa: S104 - free on every address
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise OSError("no free port for Ray Serve's HTTP proxy")


def _gone(name: str) -> pb.EndpointInfo:
    return pb.EndpointInfo(name=name, status="failed", message="it was unserved meanwhile")
