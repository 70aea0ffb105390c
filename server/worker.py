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
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from rhcli import runref
from rhcli.server.loader import EntrypointMissing, FunctionLoader
from rhcli.server.logcapture import LogSink, OutputCapture

REPR_LIMIT = 10_000
_PICKLE_PROTOCOL = 5


@dataclass
class WorkerOutcome:
    """How one call ended, in plain values (the executor maps it onto the protocol)."""

    succeeded: bool
    failure: str = ""  # "" | "raised" | "entrypoint_not_found" | "result_not_serializable"
    result: bytes = b""
    result_json: str | None = None
    result_repr: str = ""
    error: dict[str, Any] = field(default_factory=dict)  # type_name, message, traceback, pickled
    reason: str = ""
    started_at: float = 0.0
    ended_at: float = 0.0


def describe_exception(exc: BaseException, skip_frames: int = 0) -> dict[str, Any]:
    """Type name, message, formatted traceback and (when it round-trips) the pickle."""
    tb = exc.__traceback__
    for _ in range(skip_frames):
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
    pickled = b""
    try:
        candidate = cloudpickle.dumps(exc, protocol=_PICKLE_PROTOCOL)
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

    def __init__(self, code_root: str) -> None:
        self._loader = FunctionLoader(code_root)
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

    def run(
        self,
        *,
        entrypoint: str,
        pickled_fn: bytes,
        args: bytes,
        want_json: bool,
        log_path: str,
        refs: dict[str, bytes] | None = None,
        item: int | None = None,
    ) -> WorkerOutcome:
        """Call the function with the pickled (args, kwargs), its output going to the log
        at log_path (as map item `item`, if given); refs resolves RunRefs."""
        started = time.time()
        self._capture.start(LogSink(log_path, item))
        try:
            outcome = self._run(entrypoint, pickled_fn, args, want_json, refs or {})
        finally:
            self._capture.stop()
        outcome.started_at = started
        outcome.ended_at = time.time()
        return outcome

    def run_batch(
        self,
        *,
        entrypoint: str,
        pickled_fn: bytes,
        items: list[bytes],
        want_json: bool,
        log_path: str,
        first_index: int,
    ) -> list[WorkerOutcome]:
        """Map items, one call each, in order: one outcome per item."""
        return [
            self.run(
                entrypoint=entrypoint,
                pickled_fn=pickled_fn,
                args=args,
                want_json=want_json,
                log_path=log_path,
                item=first_index + offset,
            )
            for offset, args in enumerate(items)
        ]

    def _run(
        self,
        entrypoint: str,
        pickled_fn: bytes,
        args: bytes,
        want_json: bool,
        refs: dict[str, bytes],
    ) -> WorkerOutcome:
        try:
            fn = self._loader.load(entrypoint=entrypoint, pickled=pickled_fn)
            with runref.resolving(refs):
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
            payload = cloudpickle.dumps(result, protocol=_PICKLE_PROTOCOL)
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
            result=payload,
            result_json=render_json(result) if want_json else None,
            result_repr=_bounded_repr(result),
        )


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
