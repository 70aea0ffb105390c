"""Endpoints named rather than built: runhouse.yaml's ``endpoints:`` section, and the
names `rhcli serve NAME` takes.

``serve_named`` finds what NAME means (a declared endpoint, else a function of
``functions:``, else module:function) and serves it with rhcli.endpoint_api.serve;
``serve_declared`` serves every endpoint declared for a cluster (what `rhcli up` does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rhcli.endpoint_api import Endpoint, endpoint_name, serve
from rhcli.errors import UsageError
from rhcli.function_ref import default_reqs
from rhcli.functions import Function, function

if TYPE_CHECKING:
    from rhcli.clusters.base import Cluster
    from rhcli.config.schema import EndpointSpec, Manifest


def serve_named(
    target: str,
    *,
    cluster: Cluster | str | None = None,
    manifest: str | None = None,
    **options: Any,
) -> Endpoint:
    """Serve an endpoint of runhouse.yaml's ``endpoints:`` by name (options given here
    override its settings), else target as a function (a name of ``functions:``, or
    module:function; with ``asgi=True``, module:app). options are serve()'s; a
    ``cpus``/``gpus`` option sets that part of the replica's resources."""
    from rhcli.config.manifest import load

    loaded = load(manifest)
    declared = loaded.endpoints.get(target)
    cpus, gpus = options.pop("cpus", None), options.pop("gpus", None)
    if declared is None and ":" not in target and target not in loaded.functions:
        raise UsageError(_unknown_name(target, loaded))
    if declared is not None:
        fn = _declared_function(declared, loaded, cluster, manifest)
        settings = _declared_settings(declared)
        settings.update({k: v for k, v in options.items() if v is not None})
        options = settings
        if declared.resources is not None and "resources" not in options:
            options["resources"] = declared.resources
    else:
        fn = function(target, system=cluster, manifest=manifest)
        options = {k: v for k, v in options.items() if v is not None}
        options.setdefault("name", endpoint_name(target if ":" not in target else fn.name))
    if cpus is not None or gpus is not None:
        merged = dict(options.get("resources", fn.resources))
        merged.update({k: v for k, v in (("num_cpus", cpus), ("num_gpus", gpus)) if v is not None})
        options["resources"] = merged
    return serve(fn, **options)


def serve_declared(system: Cluster, *, manifest: str | None = None) -> list[Endpoint]:
    """Serve every endpoint runhouse.yaml declares on system (`rhcli up` does)."""
    from rhcli.config.manifest import load

    loaded = load(manifest)
    return [
        serve_named(name, cluster=system, manifest=manifest)
        for name, spec in loaded.endpoints.items()
        if loaded.endpoint_cluster(spec).name == system.name
    ]


def _declared_function(
    declared: EndpointSpec, loaded: Manifest, cluster: Cluster | str | None, manifest: str | None
) -> Function:
    """The function a manifest endpoint serves, on the endpoint's cluster."""
    from rhcli.function_ref import from_entrypoint, git_root

    system = cluster if cluster is not None else loaded.endpoint_cluster(declared).name
    if declared.function in loaded.functions:
        return function(declared.function, system=system, manifest=manifest)
    root = loaded.path.parent if loaded.path is not None else None
    code_root = (git_root(root) or root) if root is not None else None
    source = from_entrypoint(declared.function, root=code_root, name=declared.name)
    return Function(
        source,
        system=system,
        reqs=loaded.reqs if loaded.reqs is not None else default_reqs(source.local_root, manifest),
        manifest=manifest,
    )


def _declared_settings(declared: EndpointSpec) -> dict[str, Any]:
    settings: dict[str, Any] = {"name": declared.name, "asgi": declared.asgi}
    for key in ("route", "replicas", "min_replicas", "max_replicas"):
        value = getattr(declared, key)
        if value is not None:
            settings[key] = value
    if declared.public:
        settings["public"] = True
    return settings


def _unknown_name(target: str, loaded: Manifest) -> str:
    """What `rhcli serve NAME` could have meant, for a NAME runhouse.yaml lacks."""
    where = f"in {loaded.path}" if loaded.path is not None else "(no runhouse.yaml was found)"
    endpoints = ", ".join(sorted(loaded.endpoints)) or "none"
    functions = ", ".join(sorted(loaded.functions)) or "none"
    return (
        f"unknown endpoint or function {target!r} {where}; endpoints: {endpoints}; "
        f"functions: {functions}. Name one of them, or give module:function "
        "(module:app with --asgi)"
    )
