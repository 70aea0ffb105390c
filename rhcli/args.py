"""A call's arguments on their way out: pickled here, before anything is sent.

An argument that cannot travel is refused by name, and so is a call whose arguments are
over the size limit; nothing reaches the cluster in either case. RunRefs among the
arguments are noted, so the cluster resolves them to their values (rhcli.runref).
"""

from __future__ import annotations

import pickle
import reprlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import cloudpickle

from rhcli.errors import (
    ArgumentNotSerializableError,
    ArgumentTooLargeError,
    RhcliError,
    UsageError,
)
from rhcli.protocol import wire
from rhcli.protocol.wire import PICKLE_PROTOCOL
from rhcli.runref import sending_to

if TYPE_CHECKING:
    from rhcli.clusters.base import Cluster


def max_arg_bytes() -> int:
    """The largest pickled (args, kwargs) a call may send ($RHCLI_MAX_ARG_BYTES or 1 GiB);
    UsageError when the variable is not a whole number."""
    try:
        return wire.max_arg_bytes()
    except wire.BadLimitError as exc:
        raise UsageError(str(exc)) from None


def check_args_size(
    size: int, args: tuple[Any, ...], kwargs: dict[str, Any], limit: int | None = None
) -> None:
    """Raise ArgumentTooLargeError, naming the largest argument, when the pickled size of
    (args, kwargs) is over limit.

    Only a payload over the limit is looked into (each argument pickled alone), so the
    check costs one comparison on every call that passes it.
    """
    limit = max_arg_bytes() if limit is None else limit
    if size <= limit:
        return
    sizes: list[tuple[int, str]] = []
    for index, value in enumerate(args):
        sizes.append((_pickled_size(value), f"#{index + 1} ({type(value).__name__})"))
    for key, value in kwargs.items():
        sizes.append((_pickled_size(value), f"{key}= ({type(value).__name__})"))
    largest = max(sizes)[1] if sizes else "list"
    raise ArgumentTooLargeError(argument=largest, size=size, limit=limit)


def _pickled_size(value: Any) -> int:
    try:
        return len(cloudpickle.dumps(value, protocol=PICKLE_PROTOCOL))
    except Exception:
        return 0


class PickledArgs:
    """A call's pickled (args, kwargs) in the pieces the pickler wrote: a large bytes,
    bytearray or buffer (a numpy array's) among the arguments is one of the pieces
    itself, not a copy of it. ``joined()`` is the whole payload."""

    def __init__(self) -> None:
        self.parts: list[Any] = []
        self.size = 0

    def write(self, data: Any) -> None:
        """The pickler's output, piece by piece (as a file's write)."""
        if not isinstance(data, bytes):
            data = memoryview(data).cast("B")  # a buffer of the caller's: kept, not copied
        self.parts.append(data)
        self.size += len(data)

    def joined(self) -> bytes:
        only = self.parts[0] if len(self.parts) == 1 else None
        return only if isinstance(only, bytes) else b"".join(self.parts)


def dump_args(
    args: tuple[Any, ...], kwargs: dict[str, Any], target: Cluster | None = None
) -> tuple[bytes, list[str]]:
    """Pickle (args, kwargs) for target: (payload, run ids of the RunRefs among them).

    Raises ArgumentNotSerializableError naming the culprit, and UsageError for a RunRef
    of another cluster.
    """
    return _pickled(args, kwargs, target, lambda pkl, value: pkl.dumps(value, PICKLE_PROTOCOL))


def dump_call_args(
    args: tuple[Any, ...], kwargs: dict[str, Any], target: Cluster | None = None
) -> tuple[PickledArgs, list[str]]:
    """dump_args with the payload in pieces: a large argument is not copied into it.
    (About 3 us more than dump_args: for one call, not for each item of a map.)"""
    pickled = PickledArgs()
    _, depends_on = _pickled(
        args, kwargs, target, lambda pickler, value: pickler.dump(value, pickled, PICKLE_PROTOCOL)
    )
    return pickled, depends_on


def _pickled(
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    target: Cluster | None,
    dump: Callable[[Any, Any], Any],
) -> tuple[Any, list[str]]:
    """dump(pickle module, (args, kwargs)) with the module the values need, and the
    RunRefs among them; the errors of dump_args."""
    try:
        if _plain((args, kwargs)):  # no RunRef can be among them, nothing by value
            return dump(pickle, (args, kwargs)), []
        if target is None:
            return dump(cloudpickle, (args, kwargs)), []
        with sending_to(target) as depends_on:
            out = dump(cloudpickle, (args, kwargs))
        return out, sorted(depends_on)
    except RhcliError:
        raise
    except Exception as whole:
        for index, value in enumerate(args):
            _check_one(f"#{index + 1} ({type(value).__name__})", value)
        for key, value in kwargs.items():
            _check_one(f"{key}= ({type(value).__name__})", value)
        raise ArgumentNotSerializableError("list", whole) from whole


_SCALARS = frozenset({int, float, complex, str, bytes, bool, type(None)})
_CONTAINERS = frozenset({tuple, list, dict})
_PLAIN_BUDGET = 256  # values looked at before leaving a large structure to cloudpickle


def _plain(value: Any) -> bool:
    """Whether value is built of the builtin scalars and containers alone (exact types:
    a RunRef is a str subclass), and small. Such values pickle to the same bytes with
    the standard pickler, which costs a tenth of cloudpickle's setup (about 10 us a
    call, 1 s of a 100,000-item map)."""
    stack = [value]
    budget = _PLAIN_BUDGET
    while stack:
        budget -= 1
        if budget < 0:
            return False
        item = stack.pop()
        kind = type(item)
        if kind in _SCALARS:
            continue
        if kind not in _CONTAINERS:
            return False
        if kind is dict:
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            stack.extend(item)
    return True


def _check_one(label: str, value: Any) -> None:
    try:
        cloudpickle.dumps(value, protocol=PICKLE_PROTOCOL)
    except Exception as exc:
        raise ArgumentNotSerializableError(label, exc) from exc


SUMMARY_CHARS = 200


class _SummaryRepr(reprlib.Repr):
    """reprlib cut to a summary's size; bytes as their start and size. (reprlib has no
    rule of its own for bytes: it made the whole repr first, about 70 ms for 10 MB.)"""

    def repr_bytes(self, value: bytes | bytearray, level: int) -> str:
        if len(value) <= self.maxstring:
            return repr(value)
        return f"{value[: self.maxstring // 2]!r}... ({len(value):,} bytes)"

    repr_bytearray = repr_bytes


_summary_repr = _SummaryRepr()
_summary_repr.maxstring = 60
_summary_repr.maxother = 60
_summary_repr.maxlist = _summary_repr.maxtuple = _summary_repr.maxdict = 6


def summarize_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """A short repr of a call's arguments for people (at most SUMMARY_CHARS), like
    ``'A dog.', steps=50``. Never raises: an argument whose repr fails shows its type."""
    parts = [_one(value) for value in args]
    parts += [f"{name}={_one(value)}" for name, value in kwargs.items()]
    text = ", ".join(parts)
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 3] + "..."


def _one(value: Any) -> str:
    kind = type(value)
    # The usual arguments, without reprlib's dispatch (this runs on every call).
    if kind in (int, float, bool) or value is None or (kind is str and len(value) <= 60):
        return repr(value)
    try:
        return _summary_repr.repr(value)
    except Exception:  # a user __repr__ that raises: the summary is for people only
        return f"<{type(value).__name__}>"
