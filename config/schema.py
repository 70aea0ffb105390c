"""The records a runhouse.yaml becomes, and the keys each part of it may hold.

Pure data: nothing here reads files or validates YAML (that is ``rhcli.config.manifest``).
The records are frozen, so a loaded manifest can be shared freely; their mappings are
read-only views.
"""

from __future__ import annotations

import difflib
import keyword
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from rhcli.errors import UnknownClusterError, UnknownFunctionError

TOP_KEYS = ("default_cluster", "clusters", "reqs", "functions", "endpoints")
FUNCTION_KEYS = ("entrypoint", "cluster", "reqs", "resources", "timeout")
ENDPOINT_KEYS = (
    "function",
    "asgi",
    "route",
    "replicas",
    "min_replicas",
    "max_replicas",
    "resources",
    "cluster",
    "public",
)

# The keys each cluster type accepts; `type` and `home` are common to all of them.
CLUSTER_KEYS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "local": ("type", "home"),
        "ssh": ("type", "home", "host", "hosts", "user", "key", "port"),
        "sky": (
            "type",
            "home",
            "instance_type",
            "provider",
            "region",
            "use_spot",
            "num_nodes",
            "autostop_mins",
            "image_id",
            "disk_size",
        ),
    }
)

BUILTIN_RESOURCES = ("num_cpus", "num_gpus", "memory")
_RESOURCE_ALIASES = {"cpu": "num_cpus", "gpu": "num_gpus", "mem": "memory"}

CLUSTER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
FUNCTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
ROUTE = re.compile(r"/[A-Za-z0-9._~/-]*\Z")


def is_entrypoint(text: str) -> bool:
    """Whether ``text`` has the shape ``package.module:qualname`` (identifiers, no keywords).

    Only the shape: whether the module and attribute exist is known on the cluster.
    """
    module, sep, qualname = text.partition(":")
    parts = [*module.split("."), *qualname.split(".")]
    return bool(sep) and all(p.isidentifier() and not keyword.iskeyword(p) for p in parts)


def misspelt_resource(name: str) -> str | None:
    """The built-in resource that the resource ``name`` looks like a slip for, if any.

    ``gpus``, ``GPU`` or ``num_gpu`` taken as a custom resource could never be satisfied,
    and the function would wait forever; such names are refused rather than guessed at.
    The bar for "looks like" is high (one letter off), so real custom names pass.
    """
    if name in BUILTIN_RESOURCES:
        return None
    lowered = name.lower()
    alias = _RESOURCE_ALIASES.get(lowered.rstrip("s"))
    close = difflib.get_close_matches(lowered, BUILTIN_RESOURCES, n=1, cutoff=0.9)
    return alias or (close[0] if close else None)


@dataclass(frozen=True)
class ClusterSpec:
    """One entry of ``clusters:``: where functions run and how to reach it.

    Only the fields of its ``type`` are ever set by the loader. ``host`` and ``hosts``
    are kept consistent: ``hosts`` lists every machine and ``host`` is the first (head)
    one, whichever of the two was written. Paths (``key``, ``home``) are kept as written,
    ``~`` included; they are expanded where they are used (possibly on another machine).
    """

    name: str
    type: str  # "local" | "ssh" | "sky"
    # ssh
    host: str | None = None
    hosts: tuple[str, ...] = ()
    user: str | None = None
    key: str | None = None
    port: int | None = None
    # sky
    instance_type: str | None = None
    provider: str | None = None
    region: str | None = None
    use_spot: bool = False
    num_nodes: int = 1
    autostop_mins: int | None = None
    image_id: str | None = None
    disk_size: int | None = None
    # any type: the rhcli root on the cluster (RHCLI_HOME there)
    home: str | None = None

    def __post_init__(self) -> None:
        # Callers building a spec in Python may give either field (or a list); fill in
        # the other so code downstream can always read `hosts`, or `host` for the head.
        hosts = tuple(self.hosts)
        if not hosts and self.host is not None:
            hosts = (self.host,)
        object.__setattr__(self, "hosts", hosts)
        if self.host is None and hosts:
            object.__setattr__(self, "host", hosts[0])


LOCAL_CLUSTER = ClusterSpec(name="local", type="local")


@dataclass(frozen=True)
class FunctionSpec:
    """One entry of ``functions:``: a name for an entrypoint and how to run it.

    ``cluster`` None means the manifest's default cluster; ``reqs`` None means the
    manifest-level reqs (an empty tuple means: install nothing). ``resources`` holds
    num_cpus, num_gpus, memory (bytes) and custom resource names, each a number >= 0.
    ``timeout`` is in seconds.
    """

    name: str
    entrypoint: str  # "package.module:qualname"
    cluster: str | None = None
    reqs: tuple[str, ...] | None = None
    resources: Mapping[str, float] = field(default_factory=dict)
    timeout: float | None = None

    def __post_init__(self) -> None:
        if self.reqs is not None:
            object.__setattr__(self, "reqs", tuple(self.reqs))
        object.__setattr__(self, "resources", MappingProxyType(dict(self.resources)))


@dataclass(frozen=True)
class EndpointSpec:
    """One entry of ``endpoints:``: a function (or an ASGI app) served over HTTP.

    ``function`` names a function of ``functions:`` or is an entrypoint; with ``asgi`` it
    is the entrypoint of an ASGI app. ``route`` None means ``/<name>``; ``replicas`` (a
    fixed count) and ``min_replicas``/``max_replicas`` (autoscaling) exclude each other,
    and neither means one replica. ``resources`` are per replica (None: the function's).
    ``cluster`` None means the function's cluster, else the default one.
    """

    name: str
    function: str
    asgi: bool = False
    route: str | None = None
    replicas: int | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None
    resources: Mapping[str, float] | None = None
    cluster: str | None = None
    public: bool = False

    def __post_init__(self) -> None:
        if self.resources is not None:
            object.__setattr__(self, "resources", MappingProxyType(dict(self.resources)))


@dataclass(frozen=True)
class Manifest:
    """A loaded runhouse.yaml (or the built-in default when ``path`` is None).

    ``clusters`` always holds ``local`` (this machine), written in the file or not.
    ``reqs`` None means no manifest-level reqs were given (rhcli then uses its default,
    the repo's requirements.txt).
    """

    path: Path | None
    default_cluster: str = "local"
    clusters: Mapping[str, ClusterSpec] = field(default_factory=dict)
    reqs: tuple[str, ...] | None = None
    functions: Mapping[str, FunctionSpec] = field(default_factory=dict)
    endpoints: Mapping[str, EndpointSpec] = field(default_factory=dict)

    def __post_init__(self) -> None:
        clusters = {"local": LOCAL_CLUSTER, **self.clusters}
        object.__setattr__(self, "clusters", MappingProxyType(clusters))
        object.__setattr__(self, "functions", MappingProxyType(dict(self.functions)))
        object.__setattr__(self, "endpoints", MappingProxyType(dict(self.endpoints)))
        if self.reqs is not None:
            object.__setattr__(self, "reqs", tuple(self.reqs))

    @property
    def _where(self) -> str | None:
        return None if self.path is None else str(self.path)

    def cluster(self, name: str | None = None) -> ClusterSpec:
        """The cluster called ``name`` (None: the default one).

        Raises UnknownClusterError listing the defined clusters.
        """
        name = self.default_cluster if name is None else name
        try:
            return self.clusters[name]
        except KeyError:
            raise UnknownClusterError(name, list(self.clusters), manifest=self._where) from None

    def function(self, name: str) -> FunctionSpec:
        """The function called ``name``; raises UnknownFunctionError listing the known ones."""
        try:
            return self.functions[name]
        except KeyError:
            raise UnknownFunctionError(name, list(self.functions), manifest=self._where) from None

    def function_cluster(self, fn: FunctionSpec) -> ClusterSpec:
        """The cluster ``fn`` runs on: its own ``cluster``, else the default one."""
        return self.cluster(fn.cluster)

    def endpoint_cluster(self, endpoint: EndpointSpec) -> ClusterSpec:
        """The cluster ``endpoint`` is served on: its own ``cluster``, else its function's
        (when that is a function of the manifest), else the default one."""
        if endpoint.cluster is None and endpoint.function in self.functions:
            return self.function_cluster(self.functions[endpoint.function])
        return self.cluster(endpoint.cluster)
