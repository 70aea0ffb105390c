"""`rhcli up/down/status/restart/install/sync/ssh [CLUSTER]`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer

from rhcli.cli import context
from rhcli.cli.render import print_sky_view, print_status, print_sync
from rhcli.errors import ExitCode

ClusterArg = Annotated[
    str | None, typer.Argument(help="cluster name (default: -c, or the manifest's default)")
]


def register(app: typer.Typer) -> None:
    app.command(
        "up",
        help="Bring the cluster up: start its daemon, install its reqs, serve the "
        "endpoints runhouse.yaml declares for it.",
    )(up)
    app.command(
        "down",
        help="Stop the cluster's daemon (and its Ray); tear down a sky cluster "
        "(asks first; --yes for scripts).",
    )(down)
    app.command(
        "autostop",
        help="Stop a sky cluster after MINUTES idle (runs in flight count as busy); "
        "--off disables it.",
    )(autostop)
    app.command("status", help="Cluster, daemon version, uptime, Ray resources.")(status)
    app.command("restart", help="Restart the cluster's daemon (picks up a new rhcli).")(restart)
    app.command(
        "install",
        help="Install REQS (default: the manifest's reqs, else "
        "requirements.txt) into the cluster's environment.",
    )(install)
    app.command("sync", help="Sync the repository to the cluster.")(sync)
    app.command("ssh", help="Open a shell on the cluster.")(ssh)


def _cluster(name: str | None) -> Any:
    from rhcli.clusters.registry import cluster

    return cluster(name or context.current.cluster, manifest=context.current.file)


def up(
    cluster: ClusterArg = None,
    accept_host_key: Annotated[
        bool,
        typer.Option(
            "--accept-host-key",
            help="trust an SSH host whose key is not in known_hosts yet "
            "(check the fingerprint rhcli printed first); the key is added to known_hosts",
        ),
    ] = False,
) -> None:
    from rhcli.endpoint_specs import serve_declared

    target = _cluster(cluster)
    target.up(accept_host_key=accept_host_key)
    _install_default_reqs(target)
    served = serve_declared(target, manifest=context.current.file)
    print_status(target.status())
    if target.type == "sky" and not context.current.json:
        print_sky_view(target.sky_status())
    if not context.current.json:
        for endpoint in served:
            print(f"  endpoint   {endpoint.name}: {endpoint.status} at {endpoint.url}")


def down(
    cluster: ClusterArg = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
) -> None:
    target = _cluster(cluster)
    if target.type == "sky" and not yes:
        _confirm_teardown(target)
    stopped = target.down()
    if target.type == "sky":
        if context.current.json:
            context.emit_json({"cluster": target.name, "torn_down": stopped})
        else:
            print(f"{target.name}: torn down" if stopped else f"{target.name}: no such sky cluster")
        return
    if context.current.json:
        context.emit_json({"cluster": target.name, "stopped": stopped})
    else:
        print(
            f"{target.name}: daemon stopped" if stopped else f"{target.name}: no daemon was running"
        )


def status(
    cluster: ClusterArg = None,
    logs: Annotated[
        bool, typer.Option("--logs", help="also print the last lines of the daemon's own log")
    ] = False,
) -> None:
    target = _cluster(cluster)
    state = target.status()
    daemon_log = target.daemon_log(50) if logs and state.up else None
    sky = target.sky_status() if target.type == "sky" else None
    if context.current.json:
        document = asdict(state)
        if daemon_log is not None:
            document["daemon_log"] = {"path": daemon_log[0], "text": daemon_log[1]}
        if target.type == "sky":
            document["sky"] = asdict(sky) if sky is not None else None
        context.emit_json(document)
    else:
        print_status(state)
        if target.type == "sky":
            print_sky_view(sky)
        if daemon_log is not None:
            print(f"--- {daemon_log[0]} (last 50 lines) ---\n{daemon_log[1]}")
    if not state.up:
        raise typer.Exit(int(ExitCode.UNREACHABLE))


def autostop(
    cluster: Annotated[str, typer.Argument(help="the sky cluster")],
    minutes: Annotated[
        int | None, typer.Argument(help="idle minutes before SkyPilot stops it", min=0)
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="never stop it automatically")] = False,
) -> None:
    from rhcli.errors import UsageError

    if (minutes is None) == (not off):
        raise UsageError("give MINUTES or --off (not both): `rhcli autostop CLUSTER 30`")
    target = _cluster(cluster)
    if target.type != "sky":
        raise UsageError(
            f"cluster {target.name!r} is of type {target.type}; only sky clusters autostop"
        )
    target.autostop(None if off else minutes)
    if context.current.json:
        context.emit_json({"cluster": target.name, "autostop_mins": None if off else minutes})
    else:
        print(
            f"{target.name}: autostop off"
            if off
            else f"{target.name}: stops after {minutes} idle minutes"
        )


def _confirm_teardown(target: Any) -> None:
    """Ask on the terminal before deleting a VM and its disks; refuse where none can."""
    import sys

    from rhcli.errors import UsageError

    if not sys.stdin.isatty():
        raise UsageError(
            f"`rhcli down {target.name}` tears the sky cluster down (its disks are deleted) "
            "and asks first, but stdin is not a terminal; pass --yes to confirm"
        )
    # The question goes to stderr: stdout is for results (--json).
    print(
        f"Tear down sky cluster {target.name!r}? Its VMs and disks are deleted. [y/N] ",
        end="",
        file=sys.stderr,
        flush=True,
    )
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        context.err("not torn down")
        raise typer.Exit(int(ExitCode.USAGE))


def restart(cluster: ClusterArg = None) -> None:
    target = _cluster(cluster)
    target.restart_server()
    print_status(target.status())


def install(
    cluster: ClusterArg = None,
    reqs: Annotated[
        list[str] | None,
        typer.Option(
            "--req", "-r", help="a pip spec, local path or requirements file (repeatable)"
        ),
    ] = None,
) -> None:
    target = _cluster(cluster)
    if reqs:
        changed = target.install_packages(list(reqs))
    else:
        changed = _install_default_reqs(target)
    if context.current.json:
        context.emit_json({"cluster": target.name, "installed": changed})
    else:
        print(
            f"{target.name}: "
            + ("requirements installed" if changed else "requirements already satisfied")
        )


def sync(
    cluster: ClusterArg = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", "-n", help="list what would move and its size; send nothing"),
    ] = False,
) -> None:
    target = _cluster(cluster)
    if target.type == "local":
        if context.current.json:
            context.emit_json({"cluster": target.name, "transferred": [], "deleted": []})
        else:
            print(f"{target.name}: runs the repository in place; nothing to sync")
        return
    result = target.sync(dry_run=dry_run)
    if context.current.json:
        context.emit_json(
            {
                "cluster": target.name,
                "dry_run": dry_run,
                "transferred": [{"path": p, "bytes": n} for p, n in result.transferred],
                "deleted": result.deleted,
            }
        )
        return
    print_sync(target.name, result, dry_run=dry_run)


def ssh(cluster: ClusterArg = None) -> None:
    _cluster(cluster).ssh()


def _install_default_reqs(target: Any) -> bool:
    from rhcli.function_ref import project_root
    from rhcli.functions import default_reqs

    root = project_root()
    reqs = default_reqs(root, context.current.file)
    return bool(reqs) and bool(target.install_packages(list(reqs), local_root=root))
