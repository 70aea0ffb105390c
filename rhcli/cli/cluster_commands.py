"""`rhcli up/down/status/restart/autostop/install/sync/ssh [CLUSTER]`.

`status` starts nothing (no daemon, no cluster, not SkyPilot's API server): a cluster
that is down is reported down, with how to start it, and exit code 3.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer

from rhcli.cli import context
from rhcli.cli.cluster_view import (
    down_reason,
    print_sky_view,
    print_status,
    print_sync,
    status_document,
)
from rhcli.cli.completion import complete_clusters
from rhcli.cli.help_format import examples
from rhcli.cli.options import ClusterArg
from rhcli.errors import ExitCode


def register(app: typer.Typer) -> None:
    app.command(
        "up",
        short_help="Bring a cluster up: its daemon, its reqs.",
        help="Bring the cluster up: launch it (sky), install and start its daemon, sync "
        "the repository, install the default reqs, serve the endpoints runhouse.yaml "
        "declares for it; then print its status.",
        epilog=examples("rhcli up", "rhcli up gpu", "rhcli up box --accept-host-key"),
    )(up)
    app.command(
        "down",
        short_help="Stop a cluster's daemon; tear a sky cluster down.",
        help="Stop the cluster's daemon (and its Ray); a sky cluster is also torn down "
        "through SkyPilot, after a question on the terminal (--yes for scripts).",
        epilog=examples("rhcli down", "rhcli down gpu --yes"),
    )(down)
    app.command(
        "autostop",
        short_help="Stop a sky cluster after MINUTES idle, or never.",
        help="Stop a sky cluster after MINUTES idle (runs in flight count as busy); "
        "--off disables it.",
        epilog=examples("rhcli autostop gpu 30", "rhcli autostop gpu --off"),
    )(autostop)
    app.command(
        "status",
        short_help="A cluster's daemon, resources and runs (exit 3 when down).",
        help="Print the cluster's daemon (version, pid, uptime), Ray's resources and the "
        "runs running and queued. Starts nothing: a cluster that is down is said to be, "
        "with how to start it, and the exit code is 3.",
        epilog=examples("rhcli status", "rhcli status gpu --logs", "rhcli --json status"),
    )(status)
    app.command(
        "restart",
        short_help="Restart a cluster's daemon (picks up a new rhcli).",
        help="Stop the cluster's daemon and start a new one (its settings are checked "
        "first: a bad one stops nothing); print the status.",
        epilog=examples("rhcli restart", "rhcli restart box"),
    )(restart)
    app.command(
        "install",
        short_help="Install requirements on a cluster.",
        help="Install REQS (default: the manifest's reqs, else requirements.txt) into "
        "the cluster's environment; skipped when already done.",
        epilog=examples("rhcli install", "rhcli install gpu -r torch -r ./libs/mylib"),
    )(install)
    app.command(
        "sync",
        short_help="Copy the repository to a cluster.",
        help="Copy the git repository's files (tracked, and untracked but not ignored) "
        "to the cluster; nothing to do for local.",
        epilog=examples("rhcli sync box", "rhcli sync box --dry-run"),
    )(sync)
    app.command(
        "ssh",
        short_help="Open a shell on a cluster.",
        help="Open an interactive shell on the cluster (its head node).",
        epilog=examples("rhcli ssh box"),
    )(ssh)


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
    state = target.status()  # starts nothing
    daemon_log = target.daemon_log(50) if logs and state.up else None
    # SkyPilot's record, unless its API server is down (asking would start it).
    sky_known = target.type == "sky" and not target.sky_server_problem()
    sky = target.sky_status() if sky_known else None
    if context.current.json:
        document = status_document(state)
        if daemon_log is not None:
            document["daemon_log"] = {"path": daemon_log[0], "text": daemon_log[1]}
        if target.type == "sky":
            document["sky"] = asdict(sky) if sky is not None else None
        context.emit_json(document)
        if not state.up:  # the exit code's reason, for a CI log that shows stderr only
            context.err(f"{state.name} is down: {down_reason(state)}")
    else:
        print_status(state)
        if sky_known:
            print_sky_view(sky)
        if daemon_log is not None:
            print(f"--- {daemon_log[0]} (last 50 lines) ---\n{daemon_log[1]}")
    if not state.up:
        raise typer.Exit(int(ExitCode.UNREACHABLE))


def autostop(
    cluster: Annotated[
        str,
        typer.Argument(
            metavar="CLUSTER",
            help="the sky cluster",
            autocompletion=complete_clusters,
            show_default=False,
        ),
    ],
    minutes: Annotated[
        int | None,
        typer.Argument(
            metavar="[MINUTES]",
            help="idle minutes (0 or more) before SkyPilot stops it",
            show_default=False,
        ),
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="never stop it automatically")] = False,
) -> None:
    from rhcli.errors import UsageError

    if (minutes is None) == (not off):
        raise UsageError("give MINUTES or --off (not both): `rhcli autostop CLUSTER 30`")
    if minutes is not None and minutes < 0:
        raise UsageError(f"MINUTES must be 0 or more, not {minutes}")
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
            "--req",
            "-r",
            metavar="REQ",
            help="a pip spec, local path or requirements file (repeatable)",
            show_default=False,
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
            context.emit_json(
                {"cluster": target.name, "dry_run": dry_run, "transferred": [], "deleted": []}
            )
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
    from rhcli.function_ref import default_reqs, project_root

    root = project_root()
    reqs = default_reqs(root, context.current.file)
    return bool(reqs) and bool(target.install_packages(list(reqs), local_root=root))
