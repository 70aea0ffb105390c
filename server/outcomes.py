"""The outcomes the daemon hands out: a worker's report as a RunOutcome, the endings the
daemon decides itself (cancelled, timed out, the worker died), and the reply a finished
run is answered with from memory."""

from __future__ import annotations

import time

from rhcli.protocol import daemon_pb2 as pb
from rhcli.protocol.wire import INLINE_REPLY_LIMIT
from rhcli.server.worker import WorkerOutcome, as_bytes

_FAILURES = {
    "raised": pb.RAISED,
    "entrypoint_not_found": pb.ENTRYPOINT_NOT_FOUND,
    "result_not_serializable": pb.RESULT_NOT_SERIALIZABLE,
}


def to_proto(outcome: WorkerOutcome) -> pb.RunOutcome:
    message = pb.RunOutcome(
        status=pb.SUCCEEDED if outcome.succeeded else pb.FAILED,
        failure=_FAILURES.get(outcome.failure, pb.FAILURE_KIND_UNSPECIFIED),
        result=as_bytes(outcome.result),
        result_repr=outcome.result_repr,
        reason=outcome.reason,
        started_at=outcome.started_at,
        ended_at=outcome.ended_at,
    )
    if outcome.result_json is not None:
        message.result_json = outcome.result_json
    if outcome.error:
        message.error.CopyFrom(pb.RemoteException(**outcome.error))
    return message


def cancelled_outcome(started: float = 0.0) -> pb.RunOutcome:
    return pb.RunOutcome(
        status=pb.CANCELLED, reason="cancelled", started_at=started, ended_at=time.time()
    )


def timed_out(timeout_s: float, started: float) -> pb.RunOutcome:
    return pb.RunOutcome(
        status=pb.TIMED_OUT,
        failure=pb.TIMEOUT,
        started_at=started,
        ended_at=time.time(),
        reason=f"timed out after {timeout_s:g} s; the worker was stopped",
    )


def death_reason(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (
        "the worker process died while running the call (a crash, os._exit, or a kill "
        f"for memory); Ray says: {first}"
    )


def held_reply(
    run_id: str, outcome: pb.RunOutcome, result: bytes | memoryview | None
) -> tuple[pb.CallReply | None, int]:
    """The reply a waiter of a finished run may be answered with from memory, and its
    result's size; (None, 0) when the result is too large to travel inline (it is
    streamed from its file).

    result: a large result, kept apart from outcome (see Executor.run)."""
    if result is not None and len(result) > INLINE_REPLY_LIMIT:
        return None, 0
    reply = pb.CallReply(run_id=run_id)
    reply.outcome.CopyFrom(outcome)  # without a large result: small
    if result is None:
        # The inline result is the size that counts (ByteSize() would serialize it all).
        return reply, len(outcome.result)
    reply.outcome.result = bytes(result)
    return reply, len(result)
