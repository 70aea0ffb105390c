"""Finding clusters: ``rh.cluster(...)``, ``rh.ondemand_cluster(...)``, and the cache.

The only module that knows every kind of cluster: a cluster spec (from runhouse.yaml, or
given in Python) becomes a LocalCluster, SSHCluster, MultiNodeSSHCluster or
OnDemandCluster here. Cluster objects are cached per process and spec, so every call to
one cluster reuses one connection to its daemon.
"""

from __future__ import annotations

import threading
from pathlib import Path

from rhcli._version import __version__
from rhcli.clusters.base import Cluster
from rhcli.config.schema import CLUSTER_NAME, ClusterSpec
from rhcli.errors import NotSupportedError, UsageError

_cache: dict[tuple[str, str], Cluster] = {}
_cache_lock = threading.Lock()


def cluster(
    name: str | None = None,
    *,
    host: str | None = None,
    hosts: list[str] | tuple[str, ...] | None = None,
    user: str | None = None,
    port: int | None = None,
    key: str | None = None,
    home: str | None = None,
    manifest: str | None = None,
) -> Cluster:
    """A cluster: by name from runhouse.yaml (None: its default_cluster; "local": this
    machine, also without a manifest), or an SSH host given here (``host=``, or
    ``hosts=[head, worker, ...]`` for one Ray cluster over several hosts, with ``user``,
    ``port``, ``key``, ``home``). Cached: the same name gives the same object."""
    from rhcli.config.manifest import load

    if host is not None and hosts:
        raise UsageError("give either host= (one machine) or hosts= (several), not both")
    if host is not None or hosts:
        head = host if host is not None else hosts[0]  # type: ignore[index]
        spec = ClusterSpec(
            name=name or head,
            type="ssh",
            host=head,
            hosts=tuple(hosts or ()),
            user=user,
            port=port,
            key=key,
            home=home,
        )
        return _cached(("", repr(spec)), spec)
    loaded = load(manifest)
    spec = loaded.cluster(name)
    return _cached((str(loaded.path), spec.name), spec)


def ondemand_cluster(
    name: str,
    *,
    instance_type: str | None = None,
    provider: str | None = None,
    region: str | None = None,
    use_spot: bool = False,
    num_nodes: int = 1,
    autostop_mins: int | None = None,
    image_id: str | None = None,
    disk_size: int | None = None,
    home: str | None = None,
) -> Cluster:
    """A cluster launched through SkyPilot when it is down (rhcli.clusters.sky).

    The same arguments give the same object in a process. Raises UsageError for values
    SkyPilot cannot take, SkyPilotMissingError when SkyPilot is not installed.
    """
    if not CLUSTER_NAME.match(name):
        raise UsageError(f"cluster name {name!r}: use letters, digits, '_', '.' and '-'")
    if num_nodes < 1:
        raise UsageError(f"cluster {name!r}: num_nodes must be 1 or more, not {num_nodes}")
    if autostop_mins is not None and autostop_mins < 0:
        raise UsageError(f"cluster {name!r}: autostop_mins must be 0 or more")
    if disk_size is not None and disk_size < 1:
        raise UsageError(f"cluster {name!r}: disk_size must be 1 or more (GB)")
    spec = ClusterSpec(
        name=name,
        type="sky",
        instance_type=instance_type,
        provider=provider,
        region=region,
        use_spot=use_spot,
        num_nodes=num_nodes,
        autostop_mins=autostop_mins,
        image_id=image_id,
        disk_size=disk_size,
        home=home,
    )
    return _cached(("", repr(spec)), spec)


def forget_all() -> None:
    """Empty the cache (tests that point RHCLI_HOME elsewhere start afresh)."""
    with _cache_lock:
        _cache.clear()


def _cached(key: tuple[str, str], spec: ClusterSpec) -> Cluster:
    with _cache_lock:
        found = _cache.get(key)
        if found is None:
            found = from_spec(spec)
            _cache[key] = found
        return found


def from_spec(spec: ClusterSpec) -> Cluster:
    """A new cluster object of spec's kind (uncached)."""
    if spec.type == "local":
        from rhcli.clusters.local import LocalCluster

        home = Path(spec.home).expanduser().resolve() if spec.home else None
        return LocalCluster(spec.name, home=home)
    if spec.type == "ssh":
        if len(spec.hosts) > 1:
            from rhcli.clusters.multinode import MultiNodeSSHCluster

            return MultiNodeSSHCluster(
                spec.name,
                hosts=list(spec.hosts),
                user=spec.user,
                port=spec.port,
                key=spec.key,
                home=spec.home,
            )
        from rhcli.clusters.ssh import SSHCluster

        return SSHCluster(
            spec.name,
            host=spec.host or spec.hosts[0],
            user=spec.user,
            port=spec.port,
            key=spec.key,
            home=spec.home,
        )
    if spec.type == "sky":
        from rhcli.clusters.sky import OnDemandCluster

        return OnDemandCluster(spec)
    raise NotSupportedError(
        f"cluster {spec.name!r} is of type {spec.type}, which this version of rhcli "
        f"({__version__}) cannot drive yet; use a local or ssh cluster"
    )
