"""The gRPC service: thin handlers over the run manager, the mapper and the installer.

Every call is recorded before it runs and its outcome is stored before the RPC answers,
so whatever the client does next (retry, disconnect, fetch later) finds the truth.
Results too large to travel in one message are left out of replies (result_size says how
large) and streamed by ReadResult.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import grpc

from rhcli._version import __version__
from rhcli.protocol import daemon_pb2 as pb
from rhcli.protocol import daemon_pb2_grpc as pb_grpc
from rhcli.protocol.statuses import STATUS_NAMES
from rhcli.protocol.wire import CHUNK_BYTES, INLINE_REPLY_LIMIT
from rhcli.server.blobs import BlobTooLargeError
from rhcli.server.endpoint_rpcs import EndpointRpcs
from rhcli.server.map_run import MapStopped, StopKind
from rhcli.server.map_state import map_state_batches
from rhcli.server.mapper import Mapper
from rhcli.server.node_view import NodeView
from rhcli.server.reqs import InstallResult, ReqsInstaller
from rhcli.server.result_files import ResultLostError, is_disk_full
from rhcli.server.rpc_common import abort, log_line
from rhcli.server.run_logs import read_records
from rhcli.server.runs import RunManager, UnknownRunError
from rhcli.server.runstore import FINISHED, DuplicateRunError
from rhcli.server.serving import EndpointManager

# How long a log follower waits for a run that has no record yet.
RECORD_WAIT_S = 30.0

# How a stopped map's RPC ends: the client turns each code into its error and exit code.
_STOP_CODES = {
    StopKind.INTERNAL: grpc.StatusCode.ABORTED,
    StopKind.DISK_FULL: grpc.StatusCode.RESOURCE_EXHAUSTED,
    StopKind.ENTRYPOINT: grpc.StatusCode.FAILED_PRECONDITION,
    StopKind.REFUSED: grpc.StatusCode.INVALID_ARGUMENT,
}


class DaemonServicer(EndpointRpcs, pb_grpc.DaemonServicer):  # type: ignore[misc]
    def __init__(
        self,
        *,
        home: Path,
        runs: RunManager,
        mapper: Mapper,
        installer: ReqsInstaller,
        endpoints: EndpointManager,
    ) -> None:
        self._home = home
        self._endpoints = endpoints
        self._runs = runs
        self._mapper = mapper
        self._installer = installer
        self._started_at = time.time()
        self._node_view = NodeView(runs.executor.placements)

    def Health(self, request: pb.HealthRequest, context: grpc.ServicerContext) -> pb.HealthReply:
        import ray

        executor = self._runs.executor
        running, queued, depths = self._runs.counts()
        return pb.HealthReply(
            version=__version__,
            pid=os.getpid(),
            started_at=self._started_at,
            uptime_s=time.time() - self._started_at,
            home=str(self._home),
            python=sys.executable,
            resources=executor.capacity(),
            available=executor.available(),
            runs_running=running,
            runs_queued=queued,
            queue_depths=depths,
            workers=executor.pool.size,
            ray_version=ray.__version__,
            endpoints=self._endpoints.count(),
        )

    def Nodes(self, request: pb.NodesRequest, context: grpc.ServicerContext) -> pb.NodesReply:
        return pb.NodesReply(nodes=self._node_view.nodes())

    def Call(self, request: pb.CallRequest, context: grpc.ServicerContext) -> pb.CallReply:
        _check_call(request, context, self._runs.blobs.max_bytes)
        try:
            reply = self._runs.call(request, max_inline=INLINE_REPLY_LIMIT)
        except DuplicateRunError as exc:
            abort(context, grpc.StatusCode.ALREADY_EXISTS, str(exc))
        except ResultLostError as exc:
            abort(context, grpc.StatusCode.DATA_LOSS, str(exc))
        except Exception as exc:
            self._abort_if_disk_full(context, exc)
            raise
        return _for_reply(reply)

    def CallStream(
        self, request: pb.CallRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.CallEvent]:
        _check_call(request, context, self._runs.blobs.max_bytes)
        gone = threading.Event()
        context.add_callback(gone.set)  # the client left (Ctrl-C): the run goes on
        # The run's folder first: the end marker is then always written, and the reader
        # stops at it rather than polling for a log that never comes.
        log = self._runs.store.log_path(request.run_id)
        log.parent.mkdir(parents=True, exist_ok=True)
        ended = self._runs.call_async(request, max_inline=INLINE_REPLY_LIMIT)
        for records in read_records(log, follow=True, finished=ended.done, cancelled=gone.is_set):
            batch = pb.LogBatch(lines=[log_line(r) for r in records if not r.get("end")])
            if batch.lines:
                yield pb.CallEvent(logs=batch)
        if gone.is_set():
            return
        try:
            reply = ended.result()
        except DuplicateRunError as exc:
            abort(context, grpc.StatusCode.ALREADY_EXISTS, str(exc))
        except ResultLostError as exc:
            abort(context, grpc.StatusCode.DATA_LOSS, str(exc))
        except Exception as exc:
            self._abort_if_disk_full(context, exc)
            raise
        yield pb.CallEvent(reply=_for_reply(reply))

    def Submit(self, request: pb.CallRequest, context: grpc.ServicerContext) -> pb.RunInfo:
        _check_call(request, context, self._runs.blobs.max_bytes)
        try:
            return self._runs.submit(request)
        except DuplicateRunError as exc:
            abort(context, grpc.StatusCode.ALREADY_EXISTS, str(exc))
        except Exception as exc:
            self._abort_if_disk_full(context, exc)
            raise

    def Wait(self, request: pb.WaitRequest, context: grpc.ServicerContext) -> pb.CallReply:
        try:
            reply = self._runs.wait_reply(
                request.run_id, timeout=request.timeout_s or None, max_inline=INLINE_REPLY_LIMIT
            )
        except UnknownRunError:
            _abort_unknown_run(context, request.run_id)
        except ResultLostError as exc:
            abort(context, grpc.StatusCode.DATA_LOSS, str(exc))
        return _for_reply(reply)

    def ReadResult(
        self, request: pb.RunRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.Chunk]:
        try:
            found = self._runs.store.result_file(request.run_id)
        except ResultLostError as exc:
            abort(context, grpc.StatusCode.DATA_LOSS, str(exc))
        if found is None:
            _abort_unknown_run(context, request.run_id)
        path, size = found
        sent = 0
        with open(path, "rb") as f:
            while chunk := f.read(min(CHUNK_BYTES, size - sent)):
                yield pb.Chunk(data=chunk, total_size=size if sent == 0 else 0)
                sent += len(chunk)
        if sent != size:  # cut while being read: the client must not take the part it got
            lost = ResultLostError(request.run_id, path, sent, size)
            abort(context, grpc.StatusCode.DATA_LOSS, str(lost))

    def PutBlob(
        self, request_iterator: Iterator[pb.Chunk], context: grpc.ServicerContext
    ) -> pb.BlobRef:
        try:
            blob_id, size = self._runs.blobs.put(chunk.data for chunk in request_iterator)
        except BlobTooLargeError as exc:
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except Exception as exc:
            self._abort_if_disk_full(context, exc)
            raise
        return pb.BlobRef(blob_id=blob_id, size=size)

    def Map(
        self, request_iterator: Iterator[pb.MapRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.MapReply]:
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("part") != "start":
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, "a map starts with a MapStart")
        try:
            for results in self._mapper.run(first.start, request_iterator):
                yield pb.MapReply(results=[_map_result(r) for r in results])
        except MapStopped as stopped:  # after the last batch: the RPC ends with the error
            abort(context, _STOP_CODES[stopped.kind], str(stopped))

    def MapState(
        self, request: pb.MapStateRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.MapStateBatch]:
        map_id = request.map_id
        try:
            info = self._runs.info(map_id)
        except UnknownRunError:
            _abort_unknown_run(context, map_id)
        if info.parent or not info.items:
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"run {map_id} is not a map")
        if self._runs.is_active(map_id):
            abort(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                f"map {map_id} is still running on this cluster; wait for it to end "
                f"(`rhcli get {map_id}`) or cancel it, then resume it",
            )
        yield from map_state_batches(self._runs.store, info, request.have)

    def GetRun(self, request: pb.RunRequest, context: grpc.ServicerContext) -> pb.RunInfo:
        try:
            return self._runs.info(request.run_id)
        except UnknownRunError:
            _abort_unknown_run(context, request.run_id)

    def ListRuns(
        self, request: pb.ListRunsRequest, context: grpc.ServicerContext
    ) -> pb.ListRunsReply:
        runs = self._runs.list_runs(
            limit=request.limit,
            function=request.function,
            include_items=request.include_items,
            statuses=request.statuses,
            parent=request.parent,
            stored_after=request.stored_after,
            since=request.since,
        )
        return pb.ListRunsReply(runs=runs)

    def Cancel(self, request: pb.RunRequest, context: grpc.ServicerContext) -> pb.RunInfo:
        try:
            return self._runs.cancel(request.run_id)
        except UnknownRunError:
            _abort_unknown_run(context, request.run_id)

    def Logs(self, request: pb.LogsRequest, context: grpc.ServicerContext) -> Iterator[pb.LogBatch]:
        gone = threading.Event()
        context.add_callback(gone.set)  # is_active() can stay true after a client left
        store = self._runs.store
        run_id = request.run_id
        if not self._await_record(run_id, wait=request.follow, gone=gone):
            _abort_unknown_run(context, run_id)

        def finished() -> bool:
            return store.status(run_id) in FINISHED

        item = request.item if request.HasField("item") else None
        ended = False
        for records in read_records(
            store.log_path(run_id),
            follow=request.follow,
            finished=finished,
            cancelled=gone.is_set,
            item=item,
            tail=request.tail if request.HasField("tail") else None,
            since=request.since,
        ):
            batch = pb.LogBatch()
            for record in records:
                if record.get("end"):
                    ended = True
                    batch.end = True
                    batch.status = record.get("status", "")
                else:
                    batch.lines.append(log_line(record))
            yield batch
        if not ended and request.follow and finished():
            status = store.status(run_id)
            name = STATUS_NAMES[status] if status in STATUS_NAMES else ""
            yield pb.LogBatch(end=True, status=name)

    def DaemonLog(
        self, request: pb.DaemonLogRequest, context: grpc.ServicerContext
    ) -> pb.DaemonLogReply:
        path = self._home / "daemon.log"
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            lines = []
        return pb.DaemonLogReply(text="\n".join(lines[-(request.lines or 50) :]), path=str(path))

    def _abort_if_disk_full(self, context: grpc.ServicerContext, exc: Exception) -> None:
        """Refuse the call with RESOURCE_EXHAUSTED when exc is a full disk (nothing was
        recorded: the record's transaction was rolled back); return otherwise."""
        if is_disk_full(exc):
            abort(
                context,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"the daemon's disk is full ({exc}) under {self._home}: no run was made. "
                "Free some space there (old runs go with `--retention-days`) and retry",
            )

    def _await_record(self, run_id: str, *, wait: bool, gone: threading.Event) -> bool:
        """True once the run has a record; a follower may arrive before its call does."""
        return self._runs.store.wait_for_record(
            run_id, RECORD_WAIT_S if wait else 0.0, gone=gone.is_set
        )

    def InstallReqs(
        self, request: pb.InstallRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.InstallEvent]:
        for item in self._installer.install(list(request.reqs), Path(request.code_root)):
            if isinstance(item, InstallResult):
                if item.ok and not item.skipped:
                    # Warm workers imported the old packages: new calls get fresh ones.
                    self._runs.executor.pool.reset()
                yield pb.InstallEvent(
                    done=pb.InstallDone(
                        ok=item.ok,
                        skipped=item.skipped,
                        fingerprint=item.fingerprint,
                        reason=item.reason,
                    )
                )
            else:
                yield pb.InstallEvent(line=item)


def _check_call(
    request: pb.CallRequest, context: grpc.ServicerContext, max_arg_bytes: int | None
) -> None:
    if not request.run_id or not request.function.WhichOneof("source"):
        abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            "a call needs a run id and a function (entrypoint or pickled)",
        )
    # Inline arguments are checked here; uploaded ones (args_blob) when they were uploaded.
    if max_arg_bytes is not None and len(request.args) > max_arg_bytes:
        abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"the call's arguments ({len(request.args):,} bytes) are over this daemon's "
            f"limit of {max_arg_bytes:,} bytes (its --max-arg-bytes or RHCLI_MAX_ARG_BYTES); "
            "no run was made",
        )


def _for_reply(reply: pb.CallReply) -> pb.CallReply:
    """The reply as it travels: a large result stays behind for ReadResult. (The run
    manager leaves such results out already; this guards the limit of the message.)"""
    # Not reply.ByteSize(): protobuf's upb backend serializes the message to size it,
    # which cost as much as sending it (1.7 ms per MB of result).
    size = len(reply.outcome.result)
    if size <= INLINE_REPLY_LIMIT:
        return reply
    slim = pb.CallReply()
    slim.CopyFrom(reply)
    slim.outcome.result = b""
    slim.outcome.result_size = size
    return slim


def _map_result(result: tuple[int, pb.RunOutcome]) -> pb.MapResult:
    index, outcome = result
    return pb.MapResult(index=index, outcome=outcome)


def _abort_unknown_run(context: grpc.ServicerContext, run_id: str) -> NoReturn:
    context.abort(
        grpc.StatusCode.NOT_FOUND,
        f"no run {run_id} on this cluster (never made, or deleted after the "
        "retention period); `rhcli runs` lists the known ones",
    )
    raise AssertionError("abort returns only by raising")
