"""Remote functions: ``rh.function(...)``, and the ways to call one.

- ``fn(...)`` blocks and returns the result;
- ``fn.remote(...)`` returns a RunRef at once (``rh.get(ref)`` fetches the result);
- ``fn.enqueue(...)`` goes through the function's FIFO queue on the cluster;
- ``fn.map(...)`` / ``fn.starmap(...)`` run one call per item in parallel (rhcli.maps).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from rhcli import on_cluster
from rhcli.args import check_args_size, dump_call_args, summarize_args
from rhcli.clusters.base import Cluster
from rhcli.errors import UnreachableError
from rhcli.function_ref import (
    FunctionSource,
    default_reqs,
    from_callable,
    from_entrypoint,
    git_root,
    resources_message,
)
from rhcli.log_follower import Follower, LogPrinter, batch_printer, printer_for
from rhcli.outcomes import Outcome, outcome_from_message, unwrap
from rhcli.protocol.wire import DEADLINE_GRACE_S, INLINE_ARGS_LIMIT
from rhcli.runref import RunRef, new_run_id

if TYPE_CHECKING:  # the map modules load with the first map (a CLI run does without)
    from rhcli.map_stream import Call

log = logging.getLogger(__name__)


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
        found = self._system  # read once: threads of one Function may resolve it at once
        if not isinstance(found, Cluster):
            from rhcli.clusters.registry import cluster

            found = self._system = cluster(found, manifest=self._manifest)
        return found

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
        outcome = self.call_raw(args, kwargs, timeout=timeout, stream_logs=stream_logs)
        return unwrap(outcome, self.system.client().read_result, entrypoint=self.source.entrypoint)

    def remote(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> RunRef:
        """Start the call and return at once: a RunRef (a str, the run id).

        ``rh.get(ref)`` waits for the result; passing ref to another call on the same
        cluster hands it the result there, without it travelling through this process.
        """
        request = self._request(args, kwargs, timeout=timeout)
        self.system.call_daemon(lambda client: client.submit(request))
        return RunRef(request.run_id, self.system)

    def enqueue(
        self, *args: Any, timeout: float | None = None, stream_logs: bool = False, **kwargs: Any
    ) -> Any:
        """Run through this function's FIFO queue on the cluster; blocks until done.

        Enqueued runs of one function never overlap, whichever clients sent them, and
        start in the order the cluster received them.
        """
        outcome = self.call_raw(
            args, kwargs, timeout=timeout, enqueue=True, stream_logs=stream_logs
        )
        return unwrap(outcome, self.system.client().read_result, entrypoint=self.source.entrypoint)

    def map(
        self,
        *iterables: Iterable[Any],
        return_exceptions: bool = False,
        stream_logs: bool = False,
        timeout: float | None = None,
        resume: str | None = None,
        recover: int = 0,
        **kwargs: Any,
    ) -> list[Any]:
        """One call per item, in parallel on the cluster; results in input order.

        Positional iterables are zipped like the builtin map. A keyword whose value is a
        list or tuple is zipped per call and must have the inputs' length (ValueError
        before anything is sent); any other keyword goes unchanged to every call. A failed
        item raises its exception, unless return_exceptions puts it in the item's place.

        Every item ends with exactly one result or failure, or MapIncompleteError says
        how many have none and why (the cluster failed). resume=MAP_ID (the same inputs)
        runs only the items of that map without a successful result and returns them
        all; recover=N (sky clusters) relaunches a lost cluster and resumes, N times at
        most. ``resume``, ``recover``, ``timeout``, ``stream_logs`` and
        ``return_exceptions`` are map's own keywords, never passed to the function.
        """
        from rhcli.maps import collect_map, map_calls

        calls = map_calls(iterables, kwargs)
        return collect_map(
            self,
            calls,
            return_exceptions=return_exceptions,
            timeout=timeout,
            stream_logs=stream_logs,
            resume=resume,
            recover=recover,
        )

    def starmap(
        self,
        arg_tuples: Iterable[Iterable[Any]],
        return_exceptions: bool = False,
        stream_logs: bool = False,
        timeout: float | None = None,
        resume: str | None = None,
        recover: int = 0,
        **kwargs: Any,
    ) -> list[Any]:
        """Like map, but each item is a tuple of positional arguments; every keyword goes
        unchanged to every call."""
        from rhcli.maps import collect_map

        calls = [(tuple(item), kwargs) for item in arg_tuples]
        return collect_map(
            self,
            calls,
            return_exceptions=return_exceptions,
            timeout=timeout,
            stream_logs=stream_logs,
            resume=resume,
            recover=recover,
        )

    def map_raw(
        self,
        calls: Iterable[Call],
        *,
        total: int = 0,
        timeout: float | None = None,
        want_json: bool = False,
        stream_logs: bool | LogPrinter = False,
        resume: str | None = None,
        recover: int = 0,
        map_id: str | None = None,
    ) -> Iterator[tuple[int, Outcome]]:
        """Stream calls to the cluster; yields (index, Outcome) of every item exactly
        once, as items end, in any order (a resume's kept results first). The map's own
        run id is ``self.last_map_id`` once this starts; map_id names a new map.

        calls may be a generator: items are pickled and sent in batches as the stream
        goes, never all at once (a resume or recover reads them into a list first). Raises
        MapIncompleteError, after the last outcome, when items are left without one.
        """
        from rhcli.maps import stream_map

        return stream_map(
            self,
            calls,
            total=total,
            timeout=timeout if timeout is not None else self.timeout,
            want_json=want_json,
            stream_logs=stream_logs,
            resume=resume,
            recover=recover,
            map_id=map_id,
        )

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
    ) -> Outcome:
        """Run the call and return its Outcome without unwrapping it.

        With detach, return as soon as the run is recorded: the outcome's status is then
        "queued" (enqueue) or "running". With stream_logs (True, or a LogPrinter), the
        run's output is printed as it comes, all of it before this returns.
        """
        request = self._request(args, kwargs, timeout=timeout, want_json=want_json, enqueue=enqueue)
        log.debug("run %s of %s on %s", request.run_id, self.name, self.system.name)
        if detach:
            self.system.call_daemon(lambda client: client.submit(request))
            return Outcome(run_id=request.run_id, status="queued" if enqueue else "running")
        # The daemon enforces the timeout; the deadline only bounds a daemon gone silent.
        # A queued run may wait any time before its timeout starts, so it has none.
        deadline = None if enqueue or not request.timeout_s else request.timeout_s
        if deadline:
            deadline += DEADLINE_GRACE_S
        try:
            if stream_logs is False:
                reply = self.system.call_daemon(
                    lambda client: client.call(request, timeout=deadline)
                )
            else:
                printer = printer_for(stream_logs)
                show = batch_printer(printer)
                try:
                    reply = self.system.call_daemon(
                        lambda client: client.call_stream(request, timeout=deadline, on_logs=show)
                    )
                finally:
                    printer.finish()  # a progress line left drawn ends before the result
        except UnreachableError as exc:
            if exc.run_id is None:
                exc.run_id = request.run_id  # sent: its outcome can be fetched later
            raise
        return outcome_from_message(reply.run_id, reply.outcome)

    def follow(self, run_id: str, stream_logs: bool | LogPrinter) -> Follower | None:
        """Start printing run_id's log (before its call is sent: no line is missed)."""
        if stream_logs is False:
            return None
        return Follower(self.system.client(), run_id, printer_for(stream_logs))

    def prepare(self) -> Cluster:
        """Make the cluster ready for a call: code synced, reqs installed. Its cluster."""
        system = self.system
        system.prepare(self.source.local_root)
        if self.reqs is None:  # resolved once: the manifest is not read on every call
            self.reqs = default_reqs(self.source.local_root, self._manifest)
        system.ensure_reqs(self.reqs, self.source.local_root)
        return system

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
        pickled, depends_on = dump_call_args(args, kwargs, target=system)
        check_args_size(pickled.size, args, kwargs)  # refused here: no run made, none sent
        self.prepare()
        effective_timeout = timeout if timeout is not None else self.timeout
        self.last_run_id = new_run_id(self.name)
        request = pb.CallRequest(
            run_id=self.last_run_id,
            function=self.function_message(),
            timeout_s=effective_timeout or 0.0,
            resources=resources_message(self.resources),
            want_json=want_json,
            enqueue=enqueue,
            depends_on=depends_on,
            args_summary=summarize_args(args, kwargs),
        )
        if pickled.size > INLINE_ARGS_LIMIT:
            request.args_blob = system.call_daemon(
                lambda client: client.put_blob(pickled.parts, pickled.size)
            )
        else:
            request.args = pickled.joined()
        return request

    def function_message(self) -> Any:
        """The protocol's FunctionRef for this function on its cluster."""
        from rhcli.protocol import daemon_pb2 as pb

        root = self.system.code_root(self.source.local_root)
        fn_ref = pb.FunctionRef(name=self.name, code_root=root)
        if self.source.by_value:  # a oneof: set exactly one of the two
            fn_ref.pickled = self.source.pickled
        else:
            fn_ref.entrypoint = self.source.entrypoint
        return fn_ref

    def serve(self, route: str | None = None, replicas: int | None = None, **options: Any) -> Any:
        """Serve this function over HTTP through Ray Serve on its cluster; returns the
        rhcli.Endpoint (its local ``url``, ``headers()`` with the token) once its replicas
        run. Options: min_replicas, max_replicas, name, resources (per replica; default:
        this function's), asgi (the entrypoint is an ASGI app), public, wait (seconds).
        See rhcli.endpoint_api.serve for what it raises."""
        from rhcli.endpoint_api import serve

        return serve(self, route=route, replicas=replicas, **options)


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
    from rhcli.errors import UsageError

    module = on_cluster.importing
    if module is not None:
        raise UsageError(
            f"{name} was called while the cluster imported {module}: the script calls "
            "remote functions at import time. Put those calls under "
            '`if __name__ == "__main__":` so the cluster can import the script.'
        )
