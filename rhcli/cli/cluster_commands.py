"""`rhcli up/down/status/restart/install/sync/ssh [CLUSTER]`."""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from typing import Annotated, Any

import typer

from rhcli.cli import context
from rhcli.errors import ExitCode

ClusterArg = Annotated[
    str | None, typer.Argument(help="cluster name (default: -c, or the manifest's default)")
]


def register(app: typer.Typer) -> None:
    app.command("up", help="Bring the cluster up: start its daemon, install its reqs.")(up)
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
    from rhcli.clusters.base import cluster

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
    if accept_host_key:
        os.environ["RHCLI_ACCEPT_HOST_KEY"] = "1"
    target = _cluster(cluster)
    target.up()
    _install_default_reqs(target)
    _print_status(target.status())
    if target.type == "sky" and not context.current.json:
        _print_sky_view(target.sky_status())


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
    daemon_log = target.client().daemon_log(50) if logs and state.up else None
    sky = target.sky_status() if target.type == "sky" else None
    if context.current.json:
        document = asdict(state)
        if daemon_log is not None:
            document["daemon_log"] = {"path": daemon_log.path, "text": daemon_log.text}
        if target.type == "sky":
            document["sky"] = asdict(sky) if sky is not None else None
        context.emit_json(document)
    else:
        _print_status(state)
        if target.type == "sky":
            _print_sky_view(sky)
        if daemon_log is not None:
            print(f"--- {daemon_log.path} (last 50 lines) ---\n{daemon_log.text}")
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


def _print_sky_view(record: Any) -> None:
    """SkyPilot's side of a sky cluster, under the daemon's."""
    if record is None:
        print("  skypilot   no such cluster (launch it with `rhcli up`)")
        return
    autostop = (
        "off"
        if record.autostop_mins is None
        else f"{'down' if record.to_down else 'stop'} after {record.autostop_mins} idle min"
    )
    cost = f", ${record.cost_per_hour:.2f}/h" if record.cost_per_hour is not None else ""
    print(
        f"  skypilot   {record.status}, {record.resources or '?'}, autostop {autostop}{cost}"
        + (f"\n  head       {record.ssh_user}@{record.head_ip}" if record.head_ip else "")
    )


def restart(cluster: ClusterArg = None) -> None:
    target = _cluster(cluster)
    target.restart_server()
    _print_status(target.status())


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
    verb = "would send" if dry_run else "sent"
    for path, size in result.transferred:
        print(f"{size:>12,}  {path}")
    for path in result.deleted:
        print(f"{'deleted':>12}  {path}")
    print(
        f"{target.name}: {verb} {len(result.transferred)} files "
        f"({result.transferred_bytes:,} bytes), {len(result.deleted)} deleted"
    )


def ssh(cluster: ClusterArg = None) -> None:
    _cluster(cluster).ssh()


def _install_default_reqs(target: Any) -> bool:
    from rhcli.config.manifest import load
    from rhcli.function_ref import project_root

    manifest = load(context.current.file)
    root = project_root()
    reqs = manifest.reqs
    if reqs is None:
        reqs = ("requirements.txt",) if (root / "requirements.txt").is_file() else ()
    if not reqs:
        return False
    return bool(target.install_packages(list(reqs), local_root=root))


def _print_status(state: Any) -> None:
    if context.current.json:
        context.emit_json(asdict(state))
        return
    if not state.up:
        print(
            f"{state.name} ({state.type}): down - no daemon running (root {state.home}); "
            f"start it with `rhcli up {state.name}`"
        )
        return
    resources = state.resources
    lines = [
        f"{state.name} ({state.type}): up",
        f"  daemon     rhcli {state.version}, pid {state.pid}, up {_duration(state.uptime_s)}",
        f"  address    {state.address}",
        f"  root       {state.home}",
        f"  python     {state.python}",
        f"  ray        CPU {_amount(resources, 'CPU')} "
        f"(free {_amount(state.available, 'CPU')}), GPU {_amount(resources, 'GPU')} "
        f"(free {_amount(state.available, 'GPU')}), memory "
        f"{resources.get('memory', 0) / 2**30:.1f} GiB",
        f"  runs       {state.runs_running} running, {state.runs_queued} queued; "
        f"{state.workers} warm workers",
    ]
    lines += [f"  queue      {name}: {depth}" for name, depth in sorted(state.queue_depths.items())]
    for node in state.nodes:
        res = node["resources"]
        lines.append(
            f"  node       {node['address']:<15} {'alive' if node['alive'] else 'LOST':<5} "
            f"CPU {_amount(res, 'CPU')}, GPU {_amount(res, 'GPU')}, memory "
            f"{res.get('memory', 0) / 2**30:.1f} GiB{' (head)' if node['head'] else ''}"
        )
    print("\n".join(lines))


def _amount(resources: dict[str, float], name: str) -> str:
    return f"{resources.get(name, 0.0):g}"


def _duration(seconds: float) -> str:
    return (
        time.strftime("%H:%M:%S", time.gmtime(seconds))
        if seconds < 86400
        else (f"{seconds / 86400:.1f} days")
    )
