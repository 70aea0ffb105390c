"""What runs inside a Ray worker process: load the function, call it, pickle the outcome.

A Worker lives as a Ray actor and stays warm between calls: modules it imported stay
imported. Before each call it checks whether any file of the user's modules changed (a stat
per file, microseconds) and, if one did, forgets every user module so the next import reads
the new code; an edited module is picked up on the next call without a restart.

Nothing here raises to the caller: every way a call can end becomes a WorkerOutcome.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import pickle
import site
import sys
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from rhcli import function_ref, runref

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


class EntrypointMissing(Exception):
    """The entrypoint's module or attribute does not exist under the code root."""


class FunctionLoader:
    """Resolves entrypoints and pickled functions, reloading user modules that changed."""

    def __init__(self, code_root: str) -> None:
        self.code_root = os.path.realpath(code_root)
        self._prefix = self.code_root.rstrip(os.sep) + os.sep
        # A virtualenv inside the repository (.venv) is not user code: never track it.
        self._installed = tuple(
            p.rstrip(os.sep) + os.sep
            for p in {sys.prefix, sys.exec_prefix, *site.getsitepackages()}
        )
        self._mtimes: dict[str, tuple[str, int, int]] = {}  # module -> (file, mtime_ns, size)
        self._seen_modules = 0
        self._by_value: OrderedDict[bytes, Callable[..., Any]] = OrderedDict()

    def load(self, *, entrypoint: str, pickled: bytes) -> Callable[..., Any]:
        """The function to call: unpickled (cached by content) or imported."""
        self._forget_changed_modules()
        if pickled:
            return self._unpickle_function(pickled)
        fn = _import_entrypoint(entrypoint, self.code_root)
        self._track_user_modules()
        return fn

    def after_call(self) -> None:
        """Track the user modules the call imported, so their edits are seen too."""
        self._track_user_modules()

    def _unpickle_function(self, pickled: bytes) -> Callable[..., Any]:
        key = hashlib.sha1(pickled, usedforsecurity=False).digest()
        fn = self._by_value.get(key)
        if fn is None:
            fn = pickle.loads(pickled)
            self._by_value[key] = fn
            if len(self._by_value) > 64:
                self._by_value.popitem(last=False)
        return fn

    def _track_user_modules(self) -> None:
        # Rescan only when modules were imported since the last scan: sys.modules is large.
        if len(sys.modules) == self._seen_modules:
            return
        for name, module in list(sys.modules.items()):
            path = getattr(module, "__file__", None)
            if (
                name in self._mtimes
                or not path
                or not path.startswith(self._prefix)
                or path.startswith(self._installed)
            ):
                continue
            try:
                st = os.stat(path)
            except OSError:
                continue
            self._mtimes[name] = (path, st.st_mtime_ns, st.st_size)
        self._seen_modules = len(sys.modules)

    def _forget_changed_modules(self) -> None:
        for path, mtime, size in self._mtimes.values():
            try:
                st = os.stat(path)
            except OSError:
                break
            if st.st_mtime_ns != mtime or st.st_size != size:
                break
        else:
            return
        # One module changed: forget them all, since other user modules hold references
        # into it; reloading just the one would leave them pointing at the old code.
        for name in self._mtimes:
            sys.modules.pop(name, None)
        self._mtimes.clear()
        self._seen_modules = 0
        importlib.invalidate_caches()


def _import_entrypoint(entrypoint: str, code_root: str) -> Callable[..., Any]:
    module_name, _, qualname = entrypoint.partition(":")
    try:
        function_ref.importing_on_cluster = module_name
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise EntrypointMissing(
                f"no module named {module_name!r} under {code_root} "
                f"(entrypoint {entrypoint!r}); check the path and that the file is in the repo"
            ) from None
        raise
    finally:
        function_ref.importing_on_cluster = None
    obj: Any = module
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            known = sorted(
                name
                for name, value in vars(module).items()
                if callable(value)
                and not name.startswith("_")
                and getattr(value, "__module__", None) == module.__name__
            )
            raise EntrypointMissing(
                f"module {module_name!r} has no attribute {qualname!r}; "
                f"it defines: {', '.join(known) or 'no public functions'}"
            ) from None
    if not callable(obj):
        raise EntrypointMissing(f"{entrypoint!r} is a {type(obj).__name__}, not a function")
    return obj  # type: ignore[no-any-return]


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

    def ready(self) -> int:
        """Answers once the process is up; returns its pid."""
        return os.getpid()

    def run(
        self,
        *,
        entrypoint: str,
        pickled_fn: bytes,
        args: bytes,
        want_json: bool,
        refs: dict[str, bytes] | None = None,
    ) -> WorkerOutcome:
        """Call the function with the pickled (args, kwargs); refs resolves RunRefs."""
        started = time.time()
        outcome = self._run(entrypoint, pickled_fn, args, want_json, refs or {})
        outcome.started_at = started
        outcome.ended_at = time.time()
        return outcome

    def run_batch(
        self, *, entrypoint: str, pickled_fn: bytes, items: list[bytes], want_json: bool
    ) -> list[WorkerOutcome]:
        """Map items, one call each, in order: one outcome per item."""
        return [
            self.run(entrypoint=entrypoint, pickled_fn=pickled_fn, args=item, want_json=want_json)
            for item in items
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
