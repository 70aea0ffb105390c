"""The gRPC service: thin handlers over the run store, the executor and the installer.

Every call is recorded before it runs and its outcome is stored before the RPC answers,
so whatever the client does next (retry, disconnect, fetch later) finds the truth.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc

from rhcli._version import __version__
from rhcli.server.executor import Executor
from rhcli.server.proto import daemon_pb2 as pb
from rhcli.server.proto import daemon_pb2_grpc as pb_grpc
from rhcli.server.reqs import InstallResult, ReqsInstaller
from rhcli.server.runstore import FINISHED, DuplicateRunError, RunStore

log = logging.getLogger(__name__)


class DaemonServicer(pb_grpc.DaemonServicer):  # type: ignore[misc]
    def __init__(
        self, *, home: Path, store: RunStore, executor: Executor, installer: ReqsInstaller
    ) -> None:
        self._home = home
        self._store = store
        self._executor = executor
        self._installer = installer
        self._started_at = time.time()
        self._running: dict[str, threading.Event] = {}
        self._running_lock = threading.Lock()

    def Health(self, request: pb.HealthRequest, context: grpc.ServicerContext) -> pb.HealthReply:
        return pb.HealthReply(
            version=__version__,
            pid=os.getpid(),
            started_at=self._started_at,
            uptime_s=time.time() - self._started_at,
            home=str(self._home),
            python=sys.executable,
            resources=self._executor.capacity(),
            available=self._executor.available(),
            runs_running=len(self._running),
            workers=self._executor.pool.size,
        )

    def Call(self, request: pb.CallRequest, context: grpc.ServicerContext) -> pb.CallReply:
        if not request.run_id or not request.function.WhichOneof("source"):
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "a call needs a run id and a function (entrypoint or pickled)",
            )
        digest = _payload_digest(request)
        try:
            created = self._store.create(
                run_id=request.run_id,
                function=request.function.name,
                args_digest=digest,
                status=pb.RUNNING,
            )
        except DuplicateRunError as exc:
            context.abort(grpc.StatusCode.ALREADY_EXISTS, str(exc))
        if not created:
            return pb.CallReply(run_id=request.run_id, outcome=self._await(request.run_id))
        done = threading.Event()
        with self._running_lock:
            self._running[request.run_id] = done
        try:
            outcome = self._execute(request)
            self._store.finish(request.run_id, outcome)
        finally:
            with self._running_lock:
                self._running.pop(request.run_id, None)
            done.set()
        return pb.CallReply(run_id=request.run_id, outcome=outcome)

    def InstallReqs(
        self, request: pb.InstallRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.InstallEvent]:
        for item in self._installer.install(list(request.reqs), Path(request.code_root)):
            if isinstance(item, InstallResult):
                if item.ok and not item.skipped:
                    # Warm workers imported the old packages: new calls get fresh ones.
                    self._executor.pool.reset()
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

    def _execute(self, request: pb.CallRequest) -> pb.RunOutcome:
        try:
            return self._executor.run(request)
        except Exception as exc:
            log.exception("run %s failed inside the daemon", request.run_id)
            return pb.RunOutcome(
                status=pb.FAILED,
                failure=pb.INTERNAL,
                ended_at=time.time(),
                reason=f"the daemon failed to run the call: {exc!r}",
            )

    def _await(self, run_id: str) -> pb.RunOutcome:
        """The outcome of a run submitted before (a client retry): waits if in flight."""
        with self._running_lock:
            done = self._running.get(run_id)
        if done is not None:
            done.wait()
        outcome = self._store.outcome(run_id)
        record = self._store.get(run_id)
        if outcome is None or record is None or record.status not in FINISHED:
            return pb.RunOutcome(
                status=pb.FAILED, failure=pb.INTERNAL, reason=f"run {run_id} has no stored outcome"
            )
        return outcome


def _payload_digest(request: pb.CallRequest) -> str:
    fn = request.function
    digest = hashlib.sha256()
    for part in (fn.entrypoint.encode(), fn.pickled, fn.code_root.encode(), request.args):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()
