"""Remote functions: ``rh.function(...)`` and calling them as if they were local."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rhcli.clusters import Cluster, cluster
from rhcli.errors import AuthError, DaemonNotRunningError
from rhcli.function_ref import FunctionSource, from_callable, from_entrypoint
from rhcli.payload import dump_args, new_run_id, unwrap

# Extra seconds the client waits past a call's timeout: the daemon enforces the timeout
# itself and answers TIMED_OUT; this only bounds waiting on a daemon that stopped answering.
_DEADLINE_GRACE_S = 30.0
_RESOURCE_KEYS = ("num_cpus", "num_gpus", "memory")


class Function:
    """A function bound to a cluster. Calling it runs it there and returns its result.

    Reserved keyword arguments of every call: ``timeout`` (seconds; the run is stopped and
    RunTimeoutError raised) and ``stream_logs``.
    """

    def __init__(
        self,
        source: FunctionSource,
        *,
        system: Cluster | str | None = None,
        reqs: list[str] | tuple[str, ...] | None = None,
        resources: Mapping[str, float] | None = None,
        timeout: float | None = None,
        manifest: str | None = None,
    ) -> None:
        self.source = source
        self._system = system
        self._manifest = manifest
        self.reqs = tuple(reqs) if reqs is not None else None
        self.resources = dict(resources or {})
        self.timeout = timeout

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def system(self) -> Cluster:
        if not isinstance(self._system, Cluster):
            self._system = cluster(self._system, manifest=self._manifest)
        return self._system

    def __repr__(self) -> str:
        how = "by value" if self.source.by_value else self.source.entrypoint
        return f"<rhcli.Function {self.name} ({how}) on {self._system or 'default'}>"

    def __call__(
        self, *args: Any, timeout: float | None = None, stream_logs: bool = False, **kwargs: Any
    ) -> Any:
        """Run on the cluster and return the result; blocks until the run ends.

        Raises the remote exception as its own type (or RemoteError), RunTimeoutError,
        WorkerDiedError, or an UnreachableError when the cluster cannot be reached.
        """
        run_id, outcome = self.call_raw(args, kwargs, timeout=timeout)
        return unwrap(run_id, outcome)

    def call_raw(
        self,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        timeout: float | None = None,
        want_json: bool = False,
    ) -> tuple[str, Any]:
        """Run the call and return (run id, RunOutcome) without unwrapping it."""
        from rhcli.server.proto import daemon_pb2 as pb

        _refuse_call_during_cluster_import(self.name)
        payload = dump_args(args, kwargs)  # refuses unpicklable arguments before any I/O
        system = self.system
        self._ensure_reqs(system)
        effective_timeout = timeout if timeout is not None else self.timeout
        fn_ref = pb.FunctionRef(name=self.name, code_root=system.code_root(self.source.local_root))
        if self.source.by_value:  # a oneof: set exactly one of the two
            fn_ref.pickled = self.source.pickled
        else:
            fn_ref.entrypoint = self.source.entrypoint
        request = pb.CallRequest(
            run_id=new_run_id(self.name),
            function=fn_ref,
            args=payload,
            timeout_s=effective_timeout or 0.0,
            resources=_resources_message(self.resources),
            want_json=want_json,
        )
        deadline = effective_timeout + _DEADLINE_GRACE_S if effective_timeout else None
        try:
            reply = system.client().call(request, timeout=deadline)
        except (DaemonNotRunningError, AuthError):
            # The daemon restarted since we connected (on another port, or on the same one
            # with a new token); the run id makes the retry safe: a run the old daemon
            # recorded is answered for, never run twice, and a refused call never ran.
            system.reset_client()
            reply = system.client().call(request, timeout=deadline)
        return reply.run_id, reply.outcome

    def _ensure_reqs(self, system: Cluster) -> None:
        if self.reqs is None:  # resolved once: the manifest is not read on every call
            self.reqs = _default_reqs(self.source.local_root, self._manifest)
        system.ensure_reqs(self.reqs, self.source.local_root)


def function(
    fn: Callable[..., Any] | str | None = None,
    system: Cluster | str | None = None,
    *,
    reqs: list[str] | tuple[str, ...] | None = None,
    name: str | None = None,
    resources: Mapping[str, float] | None = None,
    timeout: float | None = None,
    manifest: str | None = None,
) -> Function:
    """A remote function.

    fn is a callable (``rh.function(fn=generate, system=gpu)``), an entrypoint
    (``rh.function("models.sd:generate", system="gpu")``), or the name of a function in
    runhouse.yaml (``rh.function("generate")``: its entrypoint, cluster, reqs, resources and
    timeout apply; arguments given here override them).
    """
    if fn is None:
        from rhcli.errors import UsageError

        raise UsageError(
            "rh.function needs fn: a callable, 'module:function', or a name from runhouse.yaml"
        )
    if callable(fn):
        return Function(
            from_callable(fn, name=name),
            system=system,
            reqs=reqs,
            resources=resources,
            timeout=timeout,
            manifest=manifest,
        )
    if ":" in fn:
        return Function(
            from_entrypoint(fn, name=name),
            system=system,
            reqs=reqs,
            resources=resources,
            timeout=timeout,
            manifest=manifest,
        )
    from rhcli.config.manifest import load

    loaded = load(manifest)
    spec = loaded.function(fn)
    root = loaded.path.parent if loaded.path is not None else None
    from rhcli.function_ref import git_root

    code_root = (git_root(root) or root) if root is not None else None
    return Function(
        from_entrypoint(spec.entrypoint, root=code_root, name=name or spec.name),
        system=system if system is not None else loaded.function_cluster(spec).name,
        reqs=reqs if reqs is not None else (spec.reqs if spec.reqs is not None else loaded.reqs),
        resources=resources if resources is not None else spec.resources,
        timeout=timeout if timeout is not None else spec.timeout,
        manifest=manifest,
    )


def _refuse_call_during_cluster_import(name: str) -> None:
    from rhcli import function_ref
    from rhcli.errors import UsageError

    module = function_ref.importing_on_cluster
    if module is not None:
        raise UsageError(
            f"{name} was called while the cluster imported {module}: the script calls "
            "remote functions at import time. Put those calls under "
            '`if __name__ == "__main__":` so the cluster can import the script.'
        )


def _default_reqs(local_root: Path, manifest: str | None) -> tuple[str, ...]:
    """The manifest's reqs, else the repo's requirements.txt when it has one, else none."""
    from rhcli.config.manifest import load

    loaded = load(manifest)
    if loaded.reqs is not None:
        return loaded.reqs
    return ("requirements.txt",) if (local_root / "requirements.txt").is_file() else ()


def _resources_message(resources: Mapping[str, float]) -> Any:
    from rhcli.server.proto import daemon_pb2 as pb

    message = pb.Resources()
    for key, value in resources.items():
        if key in _RESOURCE_KEYS:
            setattr(message, key, float(value))
        else:
            message.custom[key] = float(value)
    return message
