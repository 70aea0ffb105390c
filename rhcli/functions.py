"""Remote functions: ``rh.function(...)``, and the ways to call one.

- ``fn(...)`` blocks and returns the result;
- ``fn.remote(...)`` returns a RunRef at once (``rh.get(ref)`` fetches the result);
- ``fn.enqueue(...)`` goes through the function's FIFO queue on the cluster;
- ``fn.map(...)`` / ``fn.starmap(...)`` run one call per item in parallel.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rhcli.transport.grpc_client import DEADLINE_GRACE_S
from rhcli.clusters.base import Cluster, cluster
from rhcli.errors import AuthError, DaemonNotRunningError
from rhcli.function_ref import FunctionSource, from_callable, from_entrypoint
from rhcli.log_follower import Follower, LogPrinter
from rhcli.maps import map_calls, map_requests
from rhcli.args import check_args_size, dump_args, new_run_id, unwrap
from rhcli.runref import RunRef

if TYPE_CHECKING:
    from rhcli.transport.grpc_client import DaemonClient

# Arguments larger than this travel in chunks (PutBlob) ahead of the call.
INLINE_ARGS_LIMIT = 4 * 1024 * 1024
_RESOURCE_KEYS = ("num_cpus", "num_gpus", "memory")
_T = TypeVar("_T")

Call = tuple[tuple[Any, ...], dict[str, Any]]


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
        self.last_map_id = ""
        self.last_run_id = ""

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
        run_id, outcome = self.call_raw(args, kwargs, timeout=timeout, stream_logs=stream_logs)
        return unwrap(
            run_id, outcome, self.system.client().read_result, entrypoint=self.source.entrypoint
        )

    def remote(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> RunRef:
        """Start the call and return at once: a RunRef (a str, the run id).

        ``rh.get(ref)`` waits for the result; passing ref to another call on the same
        cluster hands it the result there, without it travelling through this process.
        """
        request = self._request(args, kwargs, timeout=timeout)
        self._send(lambda client: client.submit(request))
        return RunRef(request.run_id, self.system)

    def enqueue(
        self, *args: Any, timeout: float | None = None, stream_logs: bool = False, **kwargs: Any
    ) -> Any:
        """Run through this function's FIFO queue on the cluster; blocks until done.

        Enqueued runs of one function never overlap, whichever clients sent them, and
        start in the order the cluster received them.
        """
        run_id, outcome = self.call_raw(
            args, kwargs, timeout=timeout, enqueue=True, stream_logs=stream_logs
        )
        return unwrap(
            run_id, outcome, self.system.client().read_result, entrypoint=self.source.entrypoint
        )

    def map(
        self,
        *iterables: Iterable[Any],
        return_exceptions: bool = False,
        stream_logs: bool = False,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> list[Any]:
        """One call per item, in parallel on the cluster; results in input order.

        Positional iterables are zipped like the builtin map. A keyword whose value is a
        list or tuple is zipped per call and must have the inputs' length (ValueError
        before anything is sent); any other keyword goes unchanged to every call. A failed
        item raises its exception, unless return_exceptions puts it in the item's place.
        """
        calls = map_calls(iterables, kwargs)
        return self._collect_map(
            calls, return_exceptions=return_exceptions, timeout=timeout, stream_logs=stream_logs
        )

    def starmap(
        self,
        arg_tuples: Iterable[Iterable[Any]],
        return_exceptions: bool = False,
        stream_logs: bool = False,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> list[Any]:
        """Like map, but each item is a tuple of positional arguments; every keyword goes
        unchanged to every call."""
        calls = [(tuple(item), kwargs) for item in arg_tuples]
        return self._collect_map(
            calls, return_exceptions=return_exceptions, timeout=timeout, stream_logs=stream_logs
        )

    def map_raw(
        self,
        calls: Iterable[Call],
        *,
        total: int = 0,
        timeout: float | None = None,
        want_json: bool = False,
        stream_logs: bool | LogPrinter = False,
    ) -> Iterator[tuple[int, Any]]:
        """Stream calls to the cluster; yields (index, RunOutcome) as items end, in any
        order. The map's own run id is ``self.last_map_id`` once this starts.

        calls may be a generator: items are pickled and sent in batches as the stream
        goes, never all at once.
        """
        system = self.system
        system.prepare(self.source.local_root)
        self._ensure_reqs(system)
        self.last_map_id = new_run_id(self.name)
        requests = map_requests(
            self.last_map_id,
            self._function_ref(system),
            calls,
            target=system,
            total=total,
            timeout=timeout if timeout is not None else self.timeout,
            resources=_resources_message(self.resources),
            want_json=want_json,
        )
        # An item that cannot be pickled ends the stream there (gRPC would otherwise
        # report our error as a cancelled RPC); items sent before it still run, and the
        # error is raised once the daemon has answered for them.
        stopped: list[BaseException] = []
        follower = self._follow(self.last_map_id, stream_logs)
        try:
            for reply in system.client().map(_stop_at_error(requests, stopped)):
                for result in reply.results:
                    yield result.index, result.outcome
        finally:
            if follower is not None:
                follower.finish()
        if stopped:
            raise stopped[0]

    def call_raw(
        self,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        timeout: float | None = None,
        want_json: bool = False,
        enqueue: bool = False,
        detach: bool = False,
        stream_logs: bool | LogPrinter = False,
    ) -> tuple[str, Any]:
        """Run the call and return (run id, RunOutcome) without unwrapping it.

        With detach, return as soon as the run is recorded: the outcome is then None.
        With stream_logs (True, or a LogPrinter), the run's output is printed as it comes,
        all of it before this returns.
        """
        request = self._request(args, kwargs, timeout=timeout, want_json=want_json, enqueue=enqueue)
        if detach:
            self._send(lambda client: client.submit(request))
            return request.run_id, None
        # The daemon enforces the timeout; the deadline only bounds a daemon gone silent.
        # A queued run may wait any time before its timeout starts, so it has none.
        deadline = None if enqueue or not request.timeout_s else request.timeout_s
        if deadline:
            deadline += DEADLINE_GRACE_S
        follower = self._follow(request.run_id, stream_logs)
        try:
            reply = self._send(lambda client: client.call(request, timeout=deadline))
        except BaseException:
            if follower is not None:
                follower.cancel()
            raise
        if follower is not None:
            follower.finish()
        return reply.run_id, reply.outcome

    def _follow(self, run_id: str, stream_logs: bool | LogPrinter) -> Follower | None:
        """Start printing run_id's log (before its call is sent: no line is missed)."""
        if stream_logs is False:
            return None
        printer = (
            stream_logs
            if isinstance(stream_logs, LogPrinter)
            else LogPrinter(out=sys.stdout, err=sys.stderr)
        )
        return Follower(self.system.client(), run_id, printer)

    def _request(
        self,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        timeout: float | None,
        want_json: bool = False,
        enqueue: bool = False,
    ) -> Any:
        from rhcli.protocol import daemon_pb2 as pb

        _refuse_call_during_cluster_import(self.name)
        system = self.system
        # Arguments are pickled before any I/O: an unpicklable one is refused unsent.
        payload, depends_on = dump_args(args, kwargs, target=system)
        check_args_size(payload, args, kwargs)  # refused here: no run is made, nothing sent
        system.prepare(self.source.local_root)
        self._ensure_reqs(system)
        effective_timeout = timeout if timeout is not None else self.timeout
        self.last_run_id = new_run_id(self.name)
        request = pb.CallRequest(
            run_id=self.last_run_id,
            function=self._function_ref(system),
            timeout_s=effective_timeout or 0.0,
            resources=_resources_message(self.resources),
            want_json=want_json,
            enqueue=enqueue,
            depends_on=depends_on,
        )
        if len(payload) > INLINE_ARGS_LIMIT:
            request.args_blob = self._send(lambda client: client.put_blob(payload))
        else:
            request.args = payload
        return request

    def _function_ref(self, system: Cluster) -> Any:
        from rhcli.protocol import daemon_pb2 as pb

        fn_ref = pb.FunctionRef(name=self.name, code_root=system.code_root(self.source.local_root))
        if self.source.by_value:  # a oneof: set exactly one of the two
            fn_ref.pickled = self.source.pickled
        else:
            fn_ref.entrypoint = self.source.entrypoint
        return fn_ref

    def _send(self, rpc: Callable[[DaemonClient], _T]) -> _T:
        system = self.system
        try:
            return rpc(system.client())
        except (DaemonNotRunningError, AuthError):
            # The daemon restarted since we connected (on another port, or on the same one
            # with a new token); the run id makes the retry safe: a run the old daemon
            # recorded is answered for, never run twice, and a refused call never ran.
            system.reset_client()
            return rpc(system.client())

    def _collect_map(
        self,
        calls: list[Call],
        *,
        return_exceptions: bool,
        timeout: float | None,
        stream_logs: bool,
    ) -> list[Any]:
        results: list[Any] = [None] * len(calls)
        failed: list[int] = []
        fetch = self.system.client().read_result
        items = self.map_raw(calls, total=len(calls), timeout=timeout, stream_logs=stream_logs)
        for index, outcome in items:
            try:
                results[index] = unwrap(f"{self.last_map_id}.{index}", outcome, fetch)
            except Exception as exc:
                failed.append(index)
                results[index] = exc
        if failed and not return_exceptions:
            first = min(failed)
            error = results[first]
            if hasattr(error, "add_note"):
                error.add_note(
                    f"map {self.last_map_id}: item {first} failed "
                    f"({len(failed)} of {len(calls)} items failed)"
                )
            raise error
        return results

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


def _stop_at_error(requests: Iterator[Any], stopped: list[BaseException]) -> Iterator[Any]:
    try:
        yield from requests
    except Exception as exc:
        stopped.append(exc)


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
    from rhcli.protocol import daemon_pb2 as pb

    message = pb.Resources()
    for key, value in resources.items():
        if key in _RESOURCE_KEYS:
            setattr(message, key, float(value))
        else:
            message.custom[key] = float(value)
    return message
