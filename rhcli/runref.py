"""RunRef: the id of a run, bound to the cluster it runs on; and how run ids are made.

``fn.remote(...)`` returns one at once. It is a ``str`` (the run id), so it prints, logs and
round-trips through shell scripts as one. Passed as an argument to another call on the
same cluster, it is resolved there: the cluster waits for the run and hands its result to
the call, and the value never travels through the client.

This module's path is part of the pickle format: a RunRef sent to a cluster pickles as a
call of ``rhcli.runref._resolve_on_cluster``, so it stays importable here.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rhcli import on_cluster
from rhcli.errors import UsageError

if TYPE_CHECKING:
    from rhcli.clusters.base import Cluster

# While a call's arguments are pickled: (its cluster, the run ids its RunRefs name).
_sending: contextvars.ContextVar[tuple[Cluster, set[str]] | None] = contextvars.ContextVar(
    "rhcli_runref_sending", default=None
)


def new_run_id(function_name: str) -> str:
    """Readable and unique: function name, UTC time, random suffix.

    48 random bits: a map makes thousands of ids in one second, and one collision would
    have the daemon refuse a call as another payload under an existing id.
    """
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", function_name).strip("-")[:40] or "run"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    # os.urandom, not secrets: the same bits, without importing hmac and OpenSSL's hashes
    # (a few milliseconds of every `rhcli run`).
    return f"{name}-{stamp}-{os.urandom(6).hex()}"


class RunRef(str):
    """A run id (``str(ref)``) that knows its cluster; ``ref.result()`` waits for it."""

    cluster: Cluster | None

    def __new__(cls, run_id: str, cluster: Cluster | None = None) -> RunRef:
        ref = super().__new__(cls, run_id)
        ref.cluster = cluster
        return ref

    @property
    def run_id(self) -> str:
        return str(self)

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the run and return its result (or raise what it raised)."""
        from rhcli.runs_api import get

        return get(self, timeout=timeout)

    def __repr__(self) -> str:
        where = f" on {self.cluster.name}" if self.cluster is not None else ""
        return f"RunRef({str(self)!r}{where})"

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        sending = _sending.get()
        if sending is None:  # pickled for the user's own purposes: the id alone
            return (str, (str(self),))
        target, depends_on = sending
        if self.cluster is not None and self.cluster is not target:
            raise UsageError(
                f"run {self!s} ran on cluster {self.cluster.name!r}, but this call goes "
                f"to {target.name!r}: a RunRef is resolved only on its own cluster; pass "
                "rh.get(ref) (its value) instead"
            )
        depends_on.add(str(self))
        return (_resolve_on_cluster, (str(self),))


@contextlib.contextmanager
def sending_to(cluster: Cluster) -> Iterator[set[str]]:
    """Pickle arguments for cluster inside this block; yields the run ids they refer to."""
    depends_on: set[str] = set()
    token = _sending.set((cluster, depends_on))
    try:
        yield depends_on
    finally:
        _sending.reset(token)


def _resolve_on_cluster(run_id: str) -> Any:
    """On a worker, while a call's arguments are unpickled: the value of run_id."""
    try:
        return on_cluster.resolved_value(run_id)
    except KeyError:
        raise UsageError(f"RunRef {run_id} can only be resolved by the cluster it ran on") from None
