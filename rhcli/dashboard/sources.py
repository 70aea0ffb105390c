"""Where the dashboard's figures come from: the clusters it may read, through the library.

The dashboard watches; it never brings a cluster up. Before it reads one it checks that
the cluster's daemon is up (``Cluster.status()``, which starts nothing), at most every
few seconds, and otherwise says so with the command that starts it. Blocking: call
these from worker threads, never from the event loop.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rhcli.dashboard import views
from rhcli.errors import UsageError

if TYPE_CHECKING:
    from rhcli.clusters.base import Cluster
    from rhcli.runs_api import RunInfo

# How long an "it is up" answer is trusted before the next check.
UP_CHECK_S = 3.0


class ClusterDownError(UsageError):
    """The cluster's daemon is not running; the dashboard does not start it."""


class Clusters:
    """The clusters of the manifest (and "local"), each looked up once and then cached."""

    def __init__(self, default: str | None = None, *, manifest: str | None = None) -> None:
        from rhcli.clusters.registry import cluster

        self._manifest = manifest
        self._clusters: dict[str, Cluster] = {}
        self._up_at: dict[str, float] = {}
        self._lock = threading.Lock()
        from rhcli.config.manifest import load

        first = cluster(default, manifest=manifest)  # raises for an unknown name
        self.default = first.name
        self._clusters[first.name] = first
        named = [self.default, *load(manifest).clusters, "local"]
        self._names = list(dict.fromkeys(named))

    def names(self) -> list[str]:
        """Every cluster the manifest names (the default first; "local" always), as the
        manifest was when the dashboard started."""
        return list(self._names)

    def get(self, name: str | None) -> Cluster:
        """The cluster called name (None: the default), checked to be up.

        Raises UsageError for a name the manifest does not know, ClusterDownError when
        its daemon is not running."""
        from rhcli.clusters.registry import cluster

        name = name or self.default
        if name not in self.names():
            raise UsageError(f"no cluster {name!r} here; known: {', '.join(self.names())}")
        with self._lock:
            found = self._clusters.get(name)
            if found is None:
                found = self._clusters[name] = cluster(name, manifest=self._manifest)
            checked = self._up_at.get(name, 0.0)
        if time.monotonic() - checked > UP_CHECK_S:
            if not found.status().up:
                raise ClusterDownError(
                    f"{name} is down: no daemon runs there. Start it with `rhcli up {name}`; "
                    "this page notices by itself"
                )
            with self._lock:
                self._up_at[name] = time.monotonic()
        return found


@dataclass
class MapWatch:
    """One map's items as a watcher sees them: the first look reads every ended item,
    each later one only those stored since (RunInfo.stored_at only grows for a map's
    items, one thread stores them all)."""

    map_id: str
    ended: dict[str, RunInfo] = field(default_factory=dict)
    cursor: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def state(self, cluster: Cluster, *, cluster_name: str) -> dict[str, Any]:
        """The map page's content now (views.map_state). Raises UnknownRunError for an
        id the cluster does not know."""
        from rhcli.runs_api import info, map_items

        with self.lock:
            record = info(self.map_id, cluster=cluster)
            for item in map_items(self.map_id, cluster=cluster, stored_after=self.cursor):
                if item.status in views.ENDED:
                    self.ended[item.run_id] = item
                    self.cursor = max(self.cursor, item.stored_at)
            return views.map_state(record, list(self.ended.values()), cluster=cluster_name)


class MapWatches:
    """One MapWatch per (cluster, map id), the least recently used dropped past a few."""

    def __init__(self, keep: int = 8) -> None:
        self._keep = keep
        self._watches: dict[tuple[str, str], MapWatch] = {}
        self._lock = threading.Lock()

    def get(self, cluster_name: str, map_id: str) -> MapWatch:
        key = (cluster_name, map_id)
        with self._lock:
            watch = self._watches.pop(key, None) or MapWatch(map_id)
            self._watches[key] = watch  # now the most recent
            while len(self._watches) > self._keep:
                self._watches.pop(next(iter(self._watches)))
            return watch
