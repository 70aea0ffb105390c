"""Resolving the runs a call's RunRef arguments name, on the cluster, before it runs.

A RunRef argument is replaced in the worker by the value of the run it names; the daemon
waits for each such run and hands the worker its pickled result, which never travels
through the client. A run that did not succeed fails the dependent call, naming it.

A RunRef to a map (``RunRef(fn.last_map_id, cluster)``) resolves to the list of its
items' results in input order, as ``rh.get(map_id)`` returns: the daemon gathers the
items' pickled results (it never unpickles user values) into one pickle that builds the
list in the worker (``rhcli.on_cluster.map_results``). A map with a failed item has not
succeeded, and fails the dependent call like any other run.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Iterable
from typing import Any

from rhcli import on_cluster
from rhcli.protocol import daemon_pb2 as pb
from rhcli.protocol.wire import PICKLE_PROTOCOL

Wait = Callable[[str], pb.RunOutcome]  # a run's outcome once it ended; KeyError: unknown
Info = Callable[[str], pb.RunInfo]


class _MapResults:
    """Pickles as a call that rebuilds a map's list of results from its items' pickles."""

    def __init__(self, pickled_items: list[bytes]) -> None:
        self.pickled_items = pickled_items

    def __reduce__(self) -> tuple[Any, tuple[list[bytes]]]:
        return (on_cluster.map_results, (self.pickled_items,))


def resolve(
    depends_on: Iterable[str], *, wait: Wait, info: Info
) -> dict[str, bytes] | pb.RunOutcome:
    """The pickled value of every run in depends_on (blocks until each has ended), or the
    failed outcome of the dependent call when one of them did not succeed."""
    refs: dict[str, bytes] = {}
    for dep in depends_on:
        try:
            outcome = wait(dep)
        except KeyError:
            outcome = pb.RunOutcome(status=pb.FAILED, reason="no such run on this cluster")
        if outcome.status != pb.SUCCEEDED:
            return _failed(dep, outcome.reason)
        if outcome.result:
            refs[dep] = outcome.result
            continue
        # A run that succeeded always has a result (None pickles to bytes): no result is
        # a map, whose items hold the results.
        items = []
        for index in range(info(dep).items):
            item = wait(f"{dep}.{index}")
            if item.status != pb.SUCCEEDED:  # the map's record says succeeded: guard anyway
                return _failed(f"{dep}.{index}", item.reason)
            items.append(item.result)
        refs[dep] = pickle.dumps(_MapResults(items), protocol=PICKLE_PROTOCOL)
    return refs


def _failed(dep: str, reason: str) -> pb.RunOutcome:
    return pb.RunOutcome(
        status=pb.FAILED,
        failure=pb.RAISED,
        ended_at=time.time(),
        reason=f"argument run {dep} did not succeed ({reason})",
        error=pb.RemoteException(
            type_name="rhcli.errors.RunError",
            message=f"argument run {dep} did not succeed: {reason}",
        ),
    )
