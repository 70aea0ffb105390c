"""`rhcli serve`, `rhcli endpoints` and `rhcli unserve`: HTTP endpoints through Ray Serve."""

from __future__ import annotations

from typing import Annotated

import typer

from rhcli.cli import context
from rhcli.cli.help_format import examples
from rhcli.cli.render import print_endpoint, print_endpoints
from rhcli.errors import UsageError


def register(app: typer.Typer) -> None:
    app.command(
        "serve",
        help="Serve NAME over HTTP through Ray Serve on its cluster: an endpoint of "
        "runhouse.yaml's endpoints:, a function of functions:, or module:function "
        "(module:app with --asgi). Syncs the code first; serving again after a code "
        "change rolls the replicas. Prints the endpoint's local URL (--json: with its "
        "token). Requests need `Authorization: Bearer TOKEN`.",
        epilog=examples(
            "rhcli serve square",
            "rhcli serve app:api --asgi --route /api",
            "rhcli serve tasks:embed --min-replicas 1 --max-replicas 4 --gpus 1",
            "rhcli -c box serve square --wait 600",
        ),
    )(serve)
    app.command(
        "endpoints",
        help="List the cluster's HTTP endpoints: name, route, replicas running/wanted, "
        "status, local URL. Tokens only with --json --show-token.",
        epilog=examples(
            "rhcli endpoints",
            "rhcli endpoints box",
            "rhcli --json endpoints --show-token | jq -r '.[0].token'",
        ),
    )(endpoints)
    app.command(
        "unserve",
        help="End an HTTP endpoint: its replicas, token and log go.",
        epilog=examples("rhcli unserve square", "rhcli -c box unserve api"),
    )(unserve)


def serve(
    name: Annotated[str, typer.Argument(help="endpoint or function name, or module:function")],
    asgi: Annotated[
        bool, typer.Option("--asgi", help="NAME is an ASGI app (FastAPI, Starlette, ...)")
    ] = False,
    route: Annotated[
        str | None, typer.Option("--route", help="the URL path (default: /NAME)")
    ] = None,
    replicas: Annotated[
        int | None, typer.Option("--replicas", min=1, help="a fixed number of replicas")
    ] = None,
    min_replicas: Annotated[
        int | None, typer.Option("--min-replicas", min=0, help="autoscale from this many")
    ] = None,
    max_replicas: Annotated[
        int | None, typer.Option("--max-replicas", min=1, help="autoscale up to this many")
    ] = None,
    gpus: Annotated[float | None, typer.Option("--gpus", min=0, help="GPUs per replica")] = None,
    cpus: Annotated[
        float | None, typer.Option("--cpus", min=0, help="CPUs per replica (default 1)")
    ] = None,
    endpoint_name: Annotated[
        str | None, typer.Option("--name", help="the endpoint's name (default: NAME)")
    ] = None,
    public: Annotated[
        bool,
        typer.Option(
            "--public",
            help="bind the HTTP proxy to the node's addresses, not loopback: anyone who can "
            "reach the node can call it with the token, over plain HTTP (docs/serve.md)",
        ),
    ] = False,
    wait: Annotated[
        float, typer.Option("--wait", min=1, help="seconds to wait for the replicas to run")
    ] = 300.0,
) -> None:
    from rhcli.endpoint_specs import serve_named

    if (min_replicas is None) != (max_replicas is None):
        raise UsageError("autoscaling needs both --min-replicas and --max-replicas")
    options = context.current
    endpoint = serve_named(
        name,
        cluster=options.cluster,
        manifest=options.file,
        name=endpoint_name,
        asgi=True if asgi else None,
        route=route,
        replicas=replicas,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        cpus=cpus,
        gpus=gpus,
        public=True if public else None,
        wait=wait,
    )
    if options.json:
        context.emit_json(endpoint.document(show_token=True))
    else:
        print_endpoint(endpoint)


def endpoints(
    cluster: Annotated[
        str | None, typer.Argument(help="cluster name (default: -c, or the manifest's default)")
    ] = None,
    show_token: Annotated[
        bool, typer.Option("--show-token", help="include each endpoint's token (needs --json)")
    ] = False,
) -> None:
    from rhcli.endpoint_api import endpoints as list_endpoints

    if show_token and not context.current.json:
        raise UsageError("--show-token prints tokens into the JSON document only: add --json")
    found = list_endpoints(
        cluster=cluster or context.current.cluster,
        show_token=show_token,
        manifest=context.current.file,
    )
    if context.current.json:
        context.emit_json([e.document(show_token=show_token) for e in found])
    else:
        print_endpoints(found)


def unserve(
    name: Annotated[str, typer.Argument(help="the endpoint's name")],
) -> None:
    from rhcli.clusters.registry import cluster as find_cluster
    from rhcli.endpoint_api import unserve as end

    target = find_cluster(context.current.cluster, manifest=context.current.file)
    found = end(name, cluster=target)
    if context.current.json:
        context.emit_json({"name": name, "cluster": target.name, "unserved": found})
    elif found:
        print(f"{name}: unserved on {target.name}")
    else:
        print(f"{target.name} serves no endpoint named {name!r} (`rhcli endpoints` lists them)")
