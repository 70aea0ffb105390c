"""What runs inside a Ray worker process: load the function, call it, pickle the outcome.

A Worker lives as a Ray actor and stays warm between calls (see loader). Everything a call
prints goes to its run's log (see logcapture). Nothing here raises to the caller: every way
a call can end becomes a WorkerOutcome.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from rhcli import on_cluster
from rhcli.protocol.wire import PICKLE_PROTOCOL
from rhcli.server.loader import EntrypointMissing, FunctionLoader
from rhcli.server.log_forwarding import open_sink
from rhcli.server.output_capture import OutputCapture

REPR_LIMIT = 10_000
# Results from this size on leave the worker out of band: Ray moves a PickleBuffer into its
# object store as it is and the daemon reads it there, where a result inside the outcome
# was pickled into Ray's stream with it (4.5 of the worker's 5.8 ms for a 1 MB result).
OUT_OF_BAND_BYTES = 64 * 1024


# Worker.run's call: (entrypoint, pickled function, want_json, log path, RunRefs).
RunCall = tuple[str, bytes, bool, str, dict[str, bytes]]
# Worker.run_batch's call: (entrypoint, pickled function, want_json, log path, first index).
BatchCall = tuple[str, bytes, bool, str, Sequence[int]]


@dataclass
class WorkerOutcome:
    """How one call ended, in plain values (the executor maps it onto the protocol)."""

    succeeded: bool
    failure: str = ""  # "" | "raised" | "entrypoint_not_found" | "result_not_serializable"
    # The pickled result: bytes, or from OUT_OF_BAND_BYTES on a buffer (a PickleBuffer
    # here, Ray's read-only view of its object store in the daemon: see as_bytes).
    result: bytes | pickle.PickleBuffer | memoryview = b""
    result_json: str | None = None
    result_repr: str = ""
    error: dict[str, Any] = field(default_factory=dict)  # type_name, message, traceback, pickled
    reason: str = ""
    started_at: float = 0.0
    ended_at: float = 0.0
    # A log record (JSON line) saying that some output did not reach the run's log, for
    # the daemon to append before its end marker ("" when every line did).
    log_note: str = ""


def describe_exception(exc: BaseException, skip_frames: int = 0) -> dict[str, Any]:
    """Type name, message, formatted traceback and (when it round-trips) the pickle."""
    tb = exc.__traceback__
    for _ in range(skip_frames):
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
    pickled = b""
    try:
        candidate = cloudpickle.dumps(exc, protocol=PICKLE_PROTOCOL)
        pickle.loads(candidate)  # an exception class with a custom __init__ may not load
        pickled = candidate
    except Exception:  # noqa: S110 - unpicklable: the client raises RemoteError instead
        pass
    cls = type(exc)
    return {
        "type_name": f"{cls.__module__}.{cls.__qualname__}",
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(cls, exc, tb)),
        "pickled": pickled,
    }


def render_json(value: Any) -> str | None:
    """The value as JSON when it is JSON already (no NaN, no custom objects), else None."""
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return None


class Worker:
    """The body of a warm worker actor, bound to one code root."""

    def __init__(self, code_root: str, *, head_node_id: str = "", head_root: str = "") -> None:
        # head_node_id: the daemon's Ray node (logs from other nodes are forwarded there);
        # head_root: the daemon's root, which code_root is under on the daemon's node.
        self._head_node_id = head_node_id
        self._loader = FunctionLoader(node_path(code_root, head_root))
        if self._loader.code_root not in sys.path:
            sys.path.insert(0, self._loader.code_root)
        os.chdir(self._loader.code_root)
        self._capture = OutputCapture()
        self._capture.install()

    def ready(self) -> int:
        """Answers once the process is up; returns its pid."""
        return os.getpid()

    def identity(self) -> tuple[str, int]:
        """(Ray node id, pid) of this process: where a cancel can send SIGTERM."""
        import ray

        return ray.get_runtime_context().get_node_id(), os.getpid()

    # A call's parameters travel as one tuple, not as keyword arguments: Ray serializes
    # each argument of a call on its own (a key and a value per keyword), which cost about
    # 0.3 ms more per call for six keywords than for one tuple. The pickled arguments go
    # apart, so that a large one still travels as Ray's zero-copy buffer (see executor).

    def run(self, call: RunCall, args: Any) -> WorkerOutcome:
        """Call the function with the pickled (args, kwargs) `args`; call is
        (entrypoint, pickled_fn, want_json, log_path, refs): its output goes to the log at
        log_path, and refs resolves RunRefs."""
        entrypoint, pickled_fn, want_json, log_path, refs = call
        return self._call(entrypoint, pickled_fn, args, want_json, log_path, refs, None)

    def run_batch(self, call: BatchCall, items: list[bytes]) -> list[WorkerOutcome]:
        """Map items, one call each, in order: one outcome per item. call is
        (entrypoint, pickled_fn, want_json, log_path, indices); item indices[k] is
        items[k] (indices: a range for consecutive items), and its output goes to the log
        as that item's."""
        entrypoint, pickled_fn, want_json, log_path, indices = call
        return [
            self._call(entrypoint, pickled_fn, args, want_json, log_path, {}, index)
            for index, args in zip(indices, items, strict=True)
        ]

    def _call(
        self,
        entrypoint: str,
        pickled_fn: bytes,
        args: Any,
        want_json: bool,
        log_path: str,
        refs: dict[str, bytes],
        item: int | None,
    ) -> WorkerOutcome:
        started = time.time()
        sink = open_sink(
            log_path,
            item,
            head_node_id=self._head_node_id,
            fallback_fd=self._capture.original_stderr,
        )
        self._capture.start(sink)
        try:
            outcome = self._run(entrypoint, pickled_fn, args, want_json, refs)
        finally:
            note = self._capture.stop()
        outcome.log_note = note
        outcome.started_at = started
        outcome.ended_at = time.time()
        return outcome

    def _run(
        self,
        entrypoint: str,
        pickled_fn: bytes,
        args: Any,
        want_json: bool,
        refs: dict[str, bytes],
    ) -> WorkerOutcome:
        try:
            fn = self._loader.load(entrypoint=entrypoint, pickled=pickled_fn)
            with on_cluster.resolving(refs):
                call_args, call_kwargs = pickle.loads(args)
        except EntrypointMissing as exc:
            return WorkerOutcome(
                succeeded=False,
                failure="entrypoint_not_found",
                reason=str(exc),
                error=describe_exception(exc),
            )
        except BaseException as exc:  # the user's module raised on import, or an arg
            return _raised(exc, skip_frames=0)
        try:
            result = fn(*call_args, **call_kwargs)
        except BaseException as exc:  # SystemExit too: a sys.exit() in user code fails the run
            return _raised(exc, skip_frames=1)
        finally:
            self._loader.after_call()
        try:
            payload = cloudpickle.dumps(result, protocol=PICKLE_PROTOCOL)
        except Exception as exc:
            return WorkerOutcome(
                succeeded=False,
                failure="result_not_serializable",
                reason=f"the function returned a {type(result).__name__} that cannot be "
                f"pickled: {type(exc).__name__}: {exc}",
                error=describe_exception(exc),
            )
        return WorkerOutcome(
            succeeded=True,
            result=pickle.PickleBuffer(payload) if len(payload) >= OUT_OF_BAND_BYTES else payload,
            result_json=render_json(result) if want_json else None,
            result_repr=_bounded_repr(result),
        )


def as_bytes(result: bytes | pickle.PickleBuffer | memoryview) -> bytes:
    """A result as bytes (a copy, where it came out of band)."""
    return result if isinstance(result, bytes) else bytes(memoryview(result))


def node_path(code_root: str, head_root: str) -> str:
    """code_root (a path on the daemon's node) as it is on this node.

    Each node of a multi-node cluster has its own rhcli root (its Ray was started with
    RHCLI_NODE_ROOT set to it) and holds its copy of the code at the same place under it.
    """
    node_root = os.environ.get("RHCLI_NODE_ROOT", "")
    prefix = head_root.rstrip("/") + "/"
    if node_root and head_root and code_root.startswith(prefix):
        return node_root.rstrip("/") + "/" + code_root[len(prefix) :]
    return code_root


def _raised(exc: BaseException, *, skip_frames: int) -> WorkerOutcome:
    error = describe_exception(exc, skip_frames=skip_frames)
    return WorkerOutcome(
        succeeded=False,
        failure="raised",
        error=error,
        reason=f"{error['type_name']}: {error['message']}",
    )


def _bounded_repr(value: Any) -> str:
    if isinstance(value, (str, bytes, bytearray)) and len(value) > REPR_LIMIT:
        # The repr of a large string or buffer is as large (up to 4x for bytes) and slow
        # to build (seconds for 500 MB), only to be cut: show its head instead.
        head = repr(value[:REPR_LIMIT])[:REPR_LIMIT]
        return f"{head}... ({len(value)} {'characters' if isinstance(value, str) else 'bytes'})"
    try:
        text = repr(value)
    except Exception as exc:
        return f"<unrepresentable {type(value).__name__}: {exc}>"
    if len(text) > REPR_LIMIT:
        return text[:REPR_LIMIT] + f"... ({len(text) - REPR_LIMIT} more characters)"
    return text
