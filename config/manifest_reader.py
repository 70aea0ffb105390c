"""Reading the text of a runhouse.yaml into a Manifest, checked node by node.

Every error names the file, line and column, the key path (``clusters.box.port``) and
what was expected (see rhcli.config.manifest for finding and loading the file).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

from yaml.nodes import Node

from . import schema
from .schema import ClusterSpec, EndpointSpec, FunctionSpec, Manifest
from .yaml_reader import NodeReader, check_tags, compose, suggest


def read_manifest(data: bytes, path: Path) -> Manifest:
    """The manifest the text data of the file at path says; raises ManifestError."""
    root = compose(data, str(path))
    if root is None:
        return Manifest(path=path)
    check_tags(root, "", set(), str(path))
    return _ManifestReader(str(path)).manifest(root, path)


class _ManifestReader(NodeReader):
    """Turns the node tree of one file into a Manifest, failing at the first problem."""

    def manifest(self, root: Node, path: Path) -> Manifest:
        top = self.mapping(root, "", schema.TOP_KEYS, "at the top level")
        clusters = {"local": schema.LOCAL_CLUSTER}
        for name, (key, node) in (self.optional(top, "clusters", "", self.mapping) or {}).items():
            if not schema.CLUSTER_NAME.match(name):
                self.fail(
                    key,
                    f"clusters.{name}",
                    "a cluster name is a letter or digit, then letters, digits, _ . -",
                )
            clusters[name] = self.cluster(name, node)
        default = self.optional(top, "default_cluster", "", self.string) or "local"
        if default not in clusters:
            self.fail(top["default_cluster"][1], "default_cluster", self.missing(default, clusters))
        functions = {}
        for name, (key, node) in (self.optional(top, "functions", "", self.mapping) or {}).items():
            if not schema.FUNCTION_NAME.match(name):
                self.fail(
                    key,
                    f"functions.{name}",
                    "a function name is a letter or _, then letters, digits, _ -",
                )
            functions[name] = self.function(name, node, clusters)
        reqs = self.optional(top, "reqs", "", self.strings)
        endpoints = self.endpoints(top, clusters, functions)
        return Manifest(
            path=path,
            default_cluster=default,
            clusters=clusters,
            reqs=reqs,
            functions=functions,
            endpoints=endpoints,
        )

    def endpoints(
        self,
        top: dict[str, tuple[Node, Node]],
        clusters: dict[str, ClusterSpec],
        functions: dict[str, FunctionSpec],
    ) -> dict[str, EndpointSpec]:
        endpoints: dict[str, EndpointSpec] = {}
        routes: dict[str, str] = {}
        for name, (key, node) in (self.optional(top, "endpoints", "", self.mapping) or {}).items():
            if not schema.FUNCTION_NAME.match(name):
                self.fail(
                    key,
                    f"endpoints.{name}",
                    "an endpoint name is a letter or _, then letters, digits, _ -",
                )
            endpoint = self.endpoint(name, node, clusters, functions)
            route = endpoint.route or f"/{name}"
            if route in routes:
                why = f"route {route} is endpoint {routes[route]!r}'s already; give each its own"
                self.fail(node, f"endpoints.{name}", why)
            routes[route] = name
            endpoints[name] = endpoint
        return endpoints

    def endpoint(
        self,
        name: str,
        node: Node,
        clusters: dict[str, ClusterSpec],
        functions: dict[str, FunctionSpec],
    ) -> EndpointSpec:
        path = f"endpoints.{name}"
        fields = self.mapping(node, path, schema.ENDPOINT_KEYS, f"in endpoint {name!r}")
        if ("function" in fields) == ("asgi" in fields):
            why = "give function (a function's name, or module:function) or asgi (module:app)"
            self.fail(node, path, why + ", one of the two")
        asgi = "asgi" in fields
        key = "asgi" if asgi else "function"
        target_node = fields[key][1]
        target = self.string(target_node, f"{path}.{key}")
        if asgi and not schema.is_entrypoint(target):
            self.fail(target_node, f"{path}.asgi", f"expected module:app, got {target!r}")
        if not asgi and target not in functions and not schema.is_entrypoint(target):
            known = ", ".join(sorted(functions)) or "none"
            why = f"{target!r} is neither a function of this manifest (defined: {known})"
            self.fail(target_node, f"{path}.function", why + " nor module:function")
        get = self.optional
        route = get(fields, "route", path, self.string)
        if route is not None and (not schema.ROUTE.match(route) or "//" in route):
            why = f"expected a path like /{name} (letters, digits, . _ ~ - and /), got {route!r}"
            self.fail(fields["route"][1], f"{path}.route", why)
        replicas = get(fields, "replicas", path, partial(self.integer, low=1))
        low = get(fields, "min_replicas", path, partial(self.integer, low=0))
        high = get(fields, "max_replicas", path, partial(self.integer, low=1))
        if replicas is not None and (low is not None or high is not None):
            self.fail(node, path, "give replicas (a fixed count) or min/max_replicas, not both")
        if (low is None) != (high is None):
            self.fail(node, path, "autoscaling needs both min_replicas and max_replicas")
        if low is not None and high is not None and low > high:
            self.fail(fields["min_replicas"][1], f"{path}.min_replicas", "is over max_replicas")
        cluster = get(fields, "cluster", path, self.string)
        if cluster is not None and cluster not in clusters:
            self.fail(fields["cluster"][1], f"{path}.cluster", self.missing(cluster, clusters))
        return EndpointSpec(
            name=name,
            function=target,
            asgi=asgi,
            route=route,
            replicas=replicas,
            min_replicas=low,
            max_replicas=high,
            resources=get(fields, "resources", path, self.resources),
            cluster=cluster,
            public=get(fields, "public", path, self.boolean) or False,
        )

    @staticmethod
    def missing(name: str, clusters: Sequence[str] | dict[str, ClusterSpec]) -> str:
        known = sorted(clusters)
        return f"unknown cluster {name!r}; {suggest(name, known)}defined: {', '.join(known)}"

    def cluster(self, name: str, node: Node) -> ClusterSpec:
        path = f"clusters.{name}"
        fields = self.mapping(node, path)
        if "type" not in fields:
            self.fail(node, path, "missing key 'type'; expected one of: local, ssh, sky")
        kind = self.string(fields["type"][1], f"{path}.type")
        if kind not in schema.CLUSTER_KEYS:
            why = f"unknown type {kind!r}; {suggest(kind, list(schema.CLUSTER_KEYS))}"
            self.fail(fields["type"][1], f"{path}.type", why + "expected one of: local, ssh, sky")
        if name == "local" and kind != "local":
            why = "the cluster named 'local' is this machine: its type must be local"
            self.fail(fields["type"][1], f"{path}.type", why)
        allowed = schema.CLUSTER_KEYS[kind]
        for key, (key_node, _) in fields.items():
            if key not in allowed:
                owners = [t for t, keys in schema.CLUSTER_KEYS.items() if key in keys]
                why = f" (a key of {owners[0]} clusters; this one is {kind})" if owners else ""
                where = f"in cluster {name!r}{why}"
                self.fail(key_node, f"{path}.{key}", self.unknown(key, where, allowed))
        get = self.optional
        host = get(fields, "host", path, self.string)
        hosts = get(fields, "hosts", path, self.strings)
        if host and hosts:
            self.fail(fields["hosts"][0], f"{path}.hosts", "give either host or hosts, not both")
        if kind == "ssh" and not (host or hosts):
            why = "an ssh cluster needs host (one machine) or hosts (a list of machines)"
            self.fail(node, path, why)
        return ClusterSpec(
            name=name,
            type=kind,
            host=host,
            hosts=hosts or (),
            user=get(fields, "user", path, self.string),
            key=get(fields, "key", path, self.string),
            port=get(fields, "port", path, partial(self.integer, low=1, high=65535)),
            instance_type=get(fields, "instance_type", path, self.string),
            provider=get(fields, "provider", path, self.string),
            region=get(fields, "region", path, self.string),
            use_spot=get(fields, "use_spot", path, self.boolean) or False,
            num_nodes=get(fields, "num_nodes", path, partial(self.integer, low=1)) or 1,
            autostop_mins=get(fields, "autostop_mins", path, partial(self.integer, low=0)),
            image_id=get(fields, "image_id", path, self.string),
            disk_size=get(fields, "disk_size", path, partial(self.integer, low=1)),
            home=get(fields, "home", path, self.string),
        )

    def function(self, name: str, node: Node, clusters: dict[str, ClusterSpec]) -> FunctionSpec:
        path = f"functions.{name}"
        fields = self.mapping(node, path, schema.FUNCTION_KEYS, f"in function {name!r}")
        if "entrypoint" not in fields:
            self.fail(node, path, "missing key 'entrypoint' (like models.sd:generate)")
        entry_node = fields["entrypoint"][1]
        entrypoint = self.string(entry_node, f"{path}.entrypoint")
        if not schema.is_entrypoint(entrypoint):
            why = f"expected module:function (like models.sd:generate), got {entrypoint!r}"
            self.fail(entry_node, f"{path}.entrypoint", why)
        cluster = self.optional(fields, "cluster", path, self.string)
        if cluster is not None and cluster not in clusters:
            self.fail(fields["cluster"][1], f"{path}.cluster", self.missing(cluster, clusters))
        return FunctionSpec(
            name=name,
            entrypoint=entrypoint,
            cluster=cluster,
            reqs=self.optional(fields, "reqs", path, self.strings),
            resources=self.optional(fields, "resources", path, self.resources) or {},
            timeout=self.optional(fields, "timeout", path, partial(self.number, positive=True)),
        )

    def resources(self, node: Node, path: str) -> dict[str, float]:
        resources = {}
        for name, (key, value) in self.mapping(node, path).items():
            if builtin := schema.misspelt_resource(name):
                why = f"unknown resource {name!r}; did you mean {builtin!r}?"
                self.fail(key, f"{path}.{name}", why + " (a custom name must not resemble it)")
            if not name.isidentifier():
                self.fail(key, f"{path}.{name}", "a resource name is a Python identifier")
            resources[name] = self.number(value, f"{path}.{name}", positive=False)
        return resources
