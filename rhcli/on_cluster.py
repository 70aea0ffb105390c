"""What the client library needs to know when it runs inside a cluster's worker.

A worker (``rhcli.server.worker``) sets these while it works for a call; the library reads
them when user code running in that worker uses rhcli. This is the one module of the
client's that the worker writes to, and it imports nothing: both sides may use it.

- ``importing``: the user module the worker is importing. A remote call made then is a
  script's top-level code running again on the cluster (a missing
  ``if __name__ == "__main__":`` guard), which would call itself forever: the library
  refuses it instead.
- resolved RunRefs: while a call's arguments are unpickled, the pickled results of the
  runs its RunRefs name, so a RunRef becomes its value without leaving the cluster.
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Iterator
from typing import Any

importing: str | None = None
_resolved: dict[str, bytes] = {}


@contextlib.contextmanager
def importing_module(name: str) -> Iterator[None]:
    """Mark name as the module being imported for the length of the block."""
    global importing
    importing = name
    try:
        yield
    finally:
        importing = None


@contextlib.contextmanager
def resolving(refs: dict[str, bytes]) -> Iterator[None]:
    """Let RunRefs unpickled inside this block resolve to refs (run id -> pickled result)."""
    _resolved.clear()
    _resolved.update(refs)
    try:
        yield
    finally:
        _resolved.clear()


def resolved_value(run_id: str) -> Any:
    """The value of the run a RunRef names; KeyError outside a resolving block."""
    return pickle.loads(_resolved[run_id])


def map_results(pickled_items: list[bytes]) -> list[Any]:
    """A map's results in input order, from its items' pickles: what a RunRef to a map
    resolves to (the daemon pickles a call of this; see rhcli.server.dependencies)."""
    return [pickle.loads(item) for item in pickled_items]
