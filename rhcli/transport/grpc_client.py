"""The gRPC client of one daemon: one channel per daemon, every RPC with its token.

This is the only client module that speaks gRPC; it turns transport failures into rhcli
errors (unreachable, refused, timed out) so nothing above it sees a grpc.RpcError.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn

import grpc

from rhcli.errors import (
    AuthError,
    DaemonNotRunningError,
    MapStoppedError,
    ResultLostError,
    RhcliError,
    UnknownRunError,
    UnreachableError,
    UsageError,
)
from rhcli.protocol import daemon_pb2 as pb
from rhcli.protocol import daemon_pb2_grpc as pb_grpc
from rhcli.protocol.chunks import encode_chunks
from rhcli.protocol.wire import (
    CHUNK_BYTES,
    DEADLINE_GRACE_S,
    MAX_MESSAGE_BYTES,
    TOKEN_METADATA_KEY,
)

HEALTH_TIMEOUT_S = 10.0

_CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    # Ping the daemon while a long call waits, so a dead or frozen daemon (or a dropped
    # tunnel) ends the call with an error within seconds instead of hanging forever.
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    # Newer grpc cores time out an unanswered ping by this (default 60 s), not by the
    # keepalive timeout: without it a frozen daemon holds a streaming call for 70 s.
    ("grpc.http2.ping_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.enable_retries", 0),
    # Server streams (a streamed call, logs, large results) are read in the calling thread:
    # otherwise gRPC starts a channel-spin thread for each while none runs (about 0.5 ms).
    ("SingleThreadedUnaryStream", 1),  # grpc.experimental.ChannelOptions, by value
]


class DaemonClient:
    """Calls one daemon at address (host:port) with token; describe names it in errors."""

    def __init__(self, *, address: str, token: str, describe: str, restart_hint: str) -> None:
        self.address = address
        self._describe = describe
        self._restart_hint = restart_hint
        self._channel = grpc.insecure_channel(address, options=_CHANNEL_OPTIONS)
        self._stub = pb_grpc.DaemonStub(self._channel)
        # PutBlob's chunks go out as the bytes rhcli.protocol.chunks writes (see there).
        self._put_blob = self._channel.stream_unary(
            f"/{pb.DESCRIPTOR.services_by_name['Daemon'].full_name}/PutBlob",
            request_serializer=None,
            response_deserializer=pb.BlobRef.FromString,
            _registered_method=True,
        )
        self._metadata = ((TOKEN_METADATA_KEY, token),)

    def close(self) -> None:
        self._channel.close()

    def health(self, *, timeout: float = HEALTH_TIMEOUT_S) -> pb.HealthReply:
        return self._unary(self._stub.Health, pb.HealthRequest(), timeout)  # type: ignore[no-any-return]

    def nodes(self) -> pb.NodesReply:
        """The cluster's Ray nodes with their resources and liveness."""
        return self._unary(self._stub.Nodes, pb.NodesRequest(), HEALTH_TIMEOUT_S * 3)  # type: ignore[no-any-return]

    def call(self, request: pb.CallRequest, *, timeout: float | None) -> pb.CallReply:
        """Run a call; blocks until it ends. timeout=None waits as long as the run does."""
        return self._unary(self._stub.Call, request, timeout, request.run_id)  # type: ignore[no-any-return]

    def call_stream(
        self,
        request: pb.CallRequest,
        *,
        timeout: float | None,
        on_logs: Callable[[pb.LogBatch], None],
    ) -> pb.CallReply:
        """Run a call, handing each batch of its log lines to on_logs as the run prints
        them (in this thread); returns its reply once it ended, after every line. An
        exception out of on_logs (Ctrl-C) cancels the stream; the run goes on."""
        stream = self._stub.CallStream(request, metadata=self._metadata, timeout=timeout)
        try:
            for event in stream:
                if event.HasField("reply"):
                    return event.reply  # type: ignore[no-any-return]
                on_logs(event.logs)
        except grpc.RpcError as exc:
            self._raise(exc, run_id=request.run_id)
        except BaseException:
            stream.cancel()
            raise
        raise DaemonNotRunningError(
            f"{self._describe} ended the call's stream without its outcome (run "
            f"{request.run_id} may go on: `rhcli get {request.run_id}`). {self._restart_hint}"
        )

    def submit(self, request: pb.CallRequest) -> pb.RunInfo:
        """Record and start (or queue) a call; answers at once."""
        return self._unary(self._stub.Submit, request, HEALTH_TIMEOUT_S * 3)  # type: ignore[no-any-return]

    def wait(self, run_id: str, *, timeout: float | None) -> pb.RunOutcome:
        """The run's outcome once it ends, or (after timeout) an outcome still in flight."""
        deadline = timeout + DEADLINE_GRACE_S if timeout else None
        reply = self._unary(
            self._stub.Wait, pb.WaitRequest(run_id=run_id, timeout_s=timeout or 0), deadline, run_id
        )
        return reply.outcome  # type: ignore[no-any-return]

    def read_result(self, run_id: str) -> bytearray:
        """A result too large to travel inline, streamed in chunks into one buffer (sized
        once from the first chunk, so the payload is never copied whole)."""
        buffer = bytearray()
        filled = 0
        try:
            for chunk in self._stub.ReadResult(
                pb.RunRequest(run_id=run_id), metadata=self._metadata
            ):
                if chunk.total_size:
                    buffer = bytearray(chunk.total_size)
                buffer[filled : filled + len(chunk.data)] = chunk.data
                filled += len(chunk.data)
        except grpc.RpcError as exc:
            self._raise(exc, run_id=run_id)
        return buffer

    def put_blob(self, parts: Sequence[Any], size: int) -> str:
        """Upload parts (bytes-likes, in order; size bytes in all) as one blob, in
        chunks; returns the blob id a call can name."""
        ref = self._unary(self._put_blob, encode_chunks(parts, size, CHUNK_BYTES), None)
        return ref.blob_id  # type: ignore[no-any-return]

    def map(self, requests: Iterator[pb.MapRequest]) -> Iterator[pb.MapReply]:
        """Stream map items in; stream batches of item outcomes back as they end.

        A map the daemon stopped itself (ABORTED, RESOURCE_EXHAUSTED: a failure of its
        own, a full disk) raises MapStoppedError with its reason, after the outcomes it
        stored; a refused map (INVALID_ARGUMENT, FAILED_PRECONDITION) UsageError; a lost
        daemon or connection the usual UnreachableError.
        """
        try:
            yield from self._stub.Map(requests, metadata=self._metadata)
        except grpc.RpcError as exc:
            if exc.code() in (grpc.StatusCode.ABORTED, grpc.StatusCode.RESOURCE_EXHAUSTED):
                raise MapStoppedError(exc.details() or str(exc.code())) from None
            self._raise(exc)

    def map_state(self, map_id: str, have: bytes = b"") -> Iterator[pb.MapStateBatch]:
        """What a map left (its record, then its items' digests and outcomes); have is
        the bitmap of items whose results the caller holds already."""
        try:
            yield from self._stub.MapState(
                pb.MapStateRequest(map_id=map_id, have=have), metadata=self._metadata
            )
        except grpc.RpcError as exc:
            self._raise(exc)

    def logs(
        self,
        run_id: str,
        *,
        follow: bool,
        item: int | None = None,
        tail: int | None = None,
        since: float = 0.0,
    ) -> Any:
        """A stream of LogBatch for one run (cancel() stops it early)."""
        request = pb.LogsRequest(run_id=run_id, follow=follow, since=since)
        if item is not None:
            request.item = item
        if tail is not None:
            request.tail = tail
        return _TranslatingStream(self._stub.Logs(request, metadata=self._metadata), self)

    def daemon_log(self, lines: int = 50) -> pb.DaemonLogReply:
        return self._unary(  # type: ignore[no-any-return]
            self._stub.DaemonLog, pb.DaemonLogRequest(lines=lines), HEALTH_TIMEOUT_S
        )

    def get_run(self, run_id: str) -> pb.RunInfo:
        return self._unary(self._stub.GetRun, pb.RunRequest(run_id=run_id), HEALTH_TIMEOUT_S)  # type: ignore[no-any-return]

    def list_runs(
        self,
        *,
        limit: int,
        function: str = "",
        include_items: bool = False,
        parent: str = "",
        stored_after: float = 0.0,
        statuses: tuple[int, ...] = (),
        since: float = 0.0,
    ) -> list[pb.RunInfo]:
        """The newest runs, newest first (of one function when given; map items too with
        include_items); parent: that map's items only, in index order; stored_after: only
        runs whose outcome was stored at or after that time (the daemon's clock);
        statuses: only runs in one of these; since: only runs created at or after it."""
        request = pb.ListRunsRequest(
            limit=limit,
            function=function,
            include_items=include_items,
            parent=parent,
            stored_after=stored_after,
            statuses=[pb.RunStatus.Name(s) for s in statuses],
            since=since,
        )
        reply = self._unary(self._stub.ListRuns, request, HEALTH_TIMEOUT_S)
        return list(reply.runs)

    def cancel(self, run_id: str) -> pb.RunInfo:
        return self._unary(self._stub.Cancel, pb.RunRequest(run_id=run_id), HEALTH_TIMEOUT_S * 3)  # type: ignore[no-any-return]

    def install_reqs(self, reqs: list[str], code_root: str) -> Iterator[pb.InstallEvent]:
        """Install reqs on the cluster: a line event per line pip prints, then one done."""
        request = pb.InstallRequest(reqs=reqs, code_root=code_root)
        try:
            yield from self._stub.InstallReqs(request, metadata=self._metadata)
        except grpc.RpcError as exc:
            self._raise(exc)

    def serve(self, spec: pb.EndpointSpec, *, wait_s: float) -> pb.EndpointInfo:
        """Deploy or roll an HTTP endpoint; answers when it runs, failed, or wait_s passed."""
        request = pb.ServeRequest(spec=spec, wait_s=wait_s)
        return self._unary(self._stub.Serve, request, wait_s + 60.0)  # type: ignore[no-any-return]

    def list_endpoints(self, *, show_token: bool = False) -> list[pb.EndpointInfo]:
        request = pb.ListEndpointsRequest(show_token=show_token)
        reply = self._unary(self._stub.ListEndpoints, request, HEALTH_TIMEOUT_S * 3)
        return list(reply.endpoints)

    def unserve(self, name: str) -> bool:
        """End an endpoint; False when there was none of that name."""
        reply = self._unary(self._stub.Unserve, pb.UnserveRequest(name=name), 120.0)
        return bool(reply.found)

    def endpoint_logs(self, name: str, *, follow: bool) -> Any:
        """A stream of LogBatch of an endpoint's output (cancel() stops it early)."""
        request = pb.EndpointLogsRequest(name=name, follow=follow)
        return _TranslatingStream(self._stub.EndpointLogs(request, metadata=self._metadata), self)

    def _unary(self, method: Any, request: Any, timeout: float | None, run_id: str = "") -> Any:
        try:
            return method(request, metadata=self._metadata, timeout=timeout)
        except grpc.RpcError as exc:
            self._raise(exc, run_id=run_id)

    def _raise(self, exc: grpc.RpcError, *, run_id: str = "") -> NoReturn:
        raise translate(
            exc, describe=self._describe, restart_hint=self._restart_hint, run_id=run_id
        ) from None


class _TranslatingStream:
    """A server stream whose errors arrive as rhcli errors; cancel() ends it."""

    def __init__(self, call: Any, client: DaemonClient) -> None:
        self._call = call
        self._client = client

    def __iter__(self) -> Iterator[Any]:
        try:
            yield from self._call
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.CANCELLED:
                return
            self._client._raise(exc)

    def cancel(self) -> None:
        self._call.cancel()


def translate(
    exc: grpc.RpcError, *, describe: str, restart_hint: str, run_id: str = ""
) -> RhcliError:
    """The rhcli error for a failed RPC (run_id: the run it was about, if one)."""
    code = exc.code() if hasattr(exc, "code") else None
    details = exc.details() if hasattr(exc, "details") else str(exc)
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return AuthError(f"{describe} refused the call: {details}. {restart_hint}")
    if code == grpc.StatusCode.UNAVAILABLE:
        return DaemonNotRunningError(f"{describe} is not answering ({details}). {restart_hint}")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return UnreachableError(f"{describe} did not answer in time. {restart_hint}")
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return UnreachableError(f"{describe} refused the call: {details}")
    if code == grpc.StatusCode.NOT_FOUND:
        return UnknownRunError(details or "no such run")
    if code == grpc.StatusCode.DATA_LOSS:  # a result file cut by a power loss
        return ResultLostError(details, run_id=run_id)
    if code in (
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
    ):
        return UsageError(f"{describe}: {details}")
    return UnreachableError(f"{describe} failed the request ({code}: {details})")
