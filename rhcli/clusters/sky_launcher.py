"""The SkyPilot boundary: the only module of rhcli that imports `sky` (PyPI `skypilot`).

Two jobs. **Translation** of a `type: sky` cluster spec into SkyPilot objects
(`resources_for`, `task_for`): `instance_type` "A100:4" is an accelerator request, "CPU:8"
a CPU count, anything else an instance type; `provider` names SkyPilot's cloud (None: the
cheapest that fits). **The launcher**: launch, look up, autostop and tear down a cluster
through SkyPilot's request API (`sky.stream_and_get` shows a request's progress on stderr
and returns its result or raises its error). Every call runs inside `_guest_call`.

`sky` is imported lazily, inside these functions, so `import rhcli` and every command
that does not touch a sky cluster never pay for it (about 1.5 s) or need it installed.

Everything after a launch goes over SSH: a `SkyRecord` carries every node's address and
SSH port (head first), the SSH user and the private key as SkyPilot recorded them. Tests
replace the launcher (and only it) with one that "provisions" a loopback sshd host:
`RHCLI_SKY_LAUNCHER=module:Class` names a class taking the same constructor arguments as
`SkyPilotLauncher`.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rhcli.config.token_file import write_private
from rhcli.errors import (
    LaunchError,
    NotSupportedError,
    SkyPilotMissingError,
    UnreachableError,
    UsageError,
)

if TYPE_CHECKING:
    from rhcli.config.schema import ClusterSpec

LAUNCHER_ENV = "RHCLI_SKY_LAUNCHER"
# Run on the head node by the keep-alive (rhcli.clusters.sky_keepalive), one long-lived
# process (the skylet imports in seconds): each line read resets the idle timer, "ok".
BUMP_IDLE_TIMER = (
    "import sys\n"
    "from sky.skylet import autostop_lib\n"
    "for _ in sys.stdin:\n"
    "    autostop_lib.set_last_active_time_to_now()\n"
    "    print('ok', flush=True)\n"
)
SKY_RUNTIME_PYTHON = "~/skypilot-runtime/bin/python"

_ACCELERATORS = re.compile(r"(?P<name>[A-Za-z][A-Za-z0-9_.-]*):(?P<count>\d+(\.\d+)?)\Z")
_CPUS = re.compile(r"(?i:cpu):(?P<count>\d+(\.\d+)?\+?)\Z")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class SkyRecord:
    """SkyPilot's view of one cluster, and how to reach its head node over SSH."""

    name: str
    status: str  # SkyPilot's ClusterStatus: UP, INIT, STOPPED, AUTOSTOPPING, PENDING
    resources: str = ""  # as `sky status` shows it, like "1x AWS(g5.xlarge, {'A10G': 1})"
    nodes: int = 1
    autostop_mins: int | None = None  # None: no autostop
    to_down: bool = False  # autostop tears down rather than stops
    cost_per_hour: float | None = None  # USD for the whole cluster, when SkyPilot knows it
    head_ip: str | None = None
    ssh_port: int = 22
    ssh_user: str | None = None
    key_path: str | None = None  # the private key, written mode 0600 under rhcli's root
    proxy_command: str | None = None
    # Every node's address for the client (external IP), head first as SkyPilot orders
    # them ("": private only; empty: only head_ip known); node_ports: their SSH ports.
    node_ips: tuple[str, ...] = ()
    node_ports: tuple[int, ...] = ()

    @property
    def up(self) -> bool:
        return self.status == "UP"


class Launcher(Protocol):
    """What an OnDemandCluster needs from SkyPilot (and what tests replace)."""

    def launch(self, spec: ClusterSpec) -> None:
        """Launch (or restart) the cluster, showing progress on stderr; blocks until it is
        up. Raises LaunchError with SkyPilot's reason, leaving no record it created."""

    def record(self, name: str) -> SkyRecord | None:
        """SkyPilot's record of the cluster, None when it has none. Starts SkyPilot's
        API server when it is not running (every SkyPilot call does)."""

    def server_problem(self) -> str:
        """Empty when SkyPilot's API server answers; else why not, in a sentence. Asking
        starts nothing: what read-only commands check before they touch SkyPilot."""

    def down(self, name: str) -> bool:
        """Tear the cluster down (all billing stops); False when there was none."""

    def set_autostop(self, name: str, minutes: int | None) -> None:
        """Stop the cluster after `minutes` idle (None: never)."""

    def keepalive_argv(self) -> list[str]:
        """The command that, run on the head node, resets SkyPilot's idle timer."""


def split_instance_type(text: str) -> dict[str, str]:
    """`instance_type` as SkyPilot users read it: {"accelerators": "A100:4"},
    {"cpus": "8"} (from "CPU:8"), or {"instance_type": "g5.xlarge"}."""
    cpus = _CPUS.match(text)
    if cpus:
        return {"cpus": cpus["count"]}
    if _ACCELERATORS.match(text):
        return {"accelerators": text}
    return {"instance_type": text}


def import_sky(cluster: str) -> Any:
    """The `sky` module of SkyPilot; SkyPilotMissingError (the install hint) without it."""
    try:
        sky = importlib.import_module("sky")
    except ImportError:
        raise SkyPilotMissingError(cluster) from None
    if not hasattr(sky, "launch"):  # the unrelated PyPI package named `sky`
        raise SkyPilotMissingError(cluster)
    # SkyPilot's log handlers write to stdout, which is rhcli's for results (--json).
    for handler in logging.getLogger("sky").handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            handler.setStream(sys.stderr)
    return sky


def resources_for(spec: ClusterSpec) -> Any:
    """A real `sky.Resources` for the spec (no network, no credentials needed)."""
    sky = import_sky(spec.name)
    kwargs: dict[str, Any] = {}
    if spec.instance_type:
        kwargs.update(split_instance_type(spec.instance_type))
    if spec.provider:
        from sky.utils import registry

        try:
            with _guest_call():
                kwargs["cloud"] = registry.CLOUD_REGISTRY.from_str(spec.provider)
        except ValueError as exc:
            raise UsageError(f"cluster {spec.name!r}: provider: {_clean(exc)}") from None
    if spec.image_id and spec.image_id.startswith("docker:"):
        raise NotSupportedError(
            f"cluster {spec.name!r}: image_id {spec.image_id!r} is a container image; rhcli "
            "connects to the VM itself, so this version takes machine images only"
        )
    for name in ("region", "image_id", "disk_size"):
        value = getattr(spec, name)
        if value is not None:
            kwargs[name] = value
    kwargs["use_spot"] = spec.use_spot
    try:
        with _guest_call():
            return sky.Resources(**kwargs)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"cluster {spec.name!r}: SkyPilot refuses it: {_clean(exc)}") from None


def task_for(spec: ClusterSpec) -> Any:
    """A real `sky.Task` that provisions the cluster and runs nothing (rhcli's daemon is
    installed over SSH afterwards, exactly as on an SSH cluster)."""
    sky = import_sky(spec.name)
    task = sky.Task(name=f"rhcli-{spec.name}", num_nodes=spec.num_nodes)
    task.set_resources(resources_for(spec))
    return task


class SkyPilotLauncher:
    """The real launcher. `state_dir` holds the clusters' SSH keys (mode 0600)."""

    def __init__(self, *, cluster: str, state_dir: Path) -> None:
        self._sky = import_sky(cluster)
        self._state_dir = state_dir

    def launch(self, spec: ClusterSpec) -> None:
        sky = self._sky
        task = task_for(spec)
        try:
            existed = self._exists(spec.name)
        except Exception as exc:  # SkyPilot's API server cannot be reached: nothing launched
            raise LaunchError(cluster=spec.name, reason=_clean(exc)) from exc
        try:
            with _guest_call():
                request = sky.launch(
                    task, cluster_name=spec.name, idle_minutes_to_autostop=spec.autostop_mins
                )
                sky.stream_and_get(request, output_stream=sys.stderr)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # SkyPilot raises many types; its message is the reason
            leftover = "" if existed else self.forget_failed_launch(spec.name)
            raise LaunchError(cluster=spec.name, reason=_clean(exc), leftover=leftover) from exc

    def record(self, name: str) -> SkyRecord | None:
        sky = self._sky
        with _guest_call():
            found = sky.get(
                sky.status([name], refresh=sky.StatusRefreshMode.AUTO, _include_credentials=True)
            )
        for item in found:
            if item["name"] == name:
                return self._to_record(item)
        return None

    def server_problem(self) -> str:
        from sky.server import common

        # A health request to the configured endpoint: unlike every other SkyPilot call,
        # it never starts a local API server.
        info = common.get_api_server_status()
        if info.status == common.ApiServerStatus.HEALTHY:
            return ""
        return (
            f"SkyPilot's API server at {common.get_server_url()} is not answering "
            f"({info.status.value})"
        )

    def down(self, name: str) -> bool:
        sky = self._sky
        if not self._exists(name):
            return False
        try:
            with _guest_call():
                sky.stream_and_get(sky.down(name), output_stream=sys.stderr)
        except sky.exceptions.ClusterDoesNotExist:
            return False
        except Exception as exc:
            raise UnreachableError(
                f"tearing down {name!r} through SkyPilot failed: {_clean(exc)}. Check it with "
                f"`sky status {name}`; `sky down --purge {name}` forgets it"
            ) from exc
        return True

    def set_autostop(self, name: str, minutes: int | None) -> None:
        sky = self._sky
        try:
            with _guest_call():
                sky.stream_and_get(
                    sky.autostop(name, -1 if minutes is None else minutes),
                    output_stream=sys.stderr,
                )
        except (sky.exceptions.ClusterDoesNotExist, sky.exceptions.ClusterNotUpError) as exc:
            raise UnreachableError(
                f"cannot set autostop of {name!r}: {_clean(exc)}; bring it up with "
                f"`rhcli up {name}` first"
            ) from exc

    def keepalive_argv(self) -> list[str]:
        return [SKY_RUNTIME_PYTHON, "-c", BUMP_IDLE_TIMER]

    # --- inside ---------------------------------------------------------------------

    def _exists(self, name: str) -> bool:
        sky = self._sky
        with _guest_call():
            return any(item["name"] == name for item in sky.get(sky.status([name])))

    def forget_failed_launch(self, name: str) -> str:
        """After a failed launch: tear down what it made, else drop SkyPilot's record.

        Returns "" when that worked (or there was nothing); else what the user must know:
        a VM may still be running and billing, with both failures and the commands to
        check and end it (the launch's own error is raised with it, see LaunchError)."""
        sky = self._sky
        failures = []
        for purge in (False, True):
            try:
                with _guest_call():
                    sky.stream_and_get(sky.down(name, purge=purge), output_stream=sys.stderr)
                return ""
            except sky.exceptions.ClusterDoesNotExist:
                return ""
            except Exception as exc:  # purge next; both failures are reported below
                failures.append(f"`sky down{' --purge' if purge else ''} {name}`: {_clean(exc)}")
        return (
            f"tearing down what the failed launch made failed too ({'; '.join(failures)}): "
            f"a VM of cluster {name!r} may still be running and billing. Check with "
            f"`sky status {name}` (or your cloud's console) and end it with `sky down {name}`"
        )

    def _to_record(self, item: Any) -> SkyRecord:
        handle = item.get("handle")
        credentials = item.get("credentials") or {}
        autostop = item.get("autostop")
        cost = None
        if handle is not None and getattr(handle, "launched_resources", None) is not None:
            with contextlib.suppress(Exception):  # pricing needs SkyPilot's catalog
                nodes = int(getattr(handle, "launched_nodes", 1) or 1)
                cost = float(handle.launched_resources.get_cost(3600)) * nodes
        status = item["status"]
        node_ips, node_ports = node_addresses(handle)
        return SkyRecord(
            name=item["name"],
            status=getattr(status, "value", str(status)),
            resources=str(item.get("resources_str") or ""),
            nodes=int(item.get("nodes") or 1),
            autostop_mins=autostop if isinstance(autostop, int) and autostop >= 0 else None,
            to_down=bool(item.get("to_down")),
            cost_per_hour=cost,
            head_ip=getattr(handle, "head_ip", None),
            ssh_port=int(getattr(handle, "head_ssh_port", None) or 22),
            ssh_user=credentials.get("ssh_user") or getattr(handle, "ssh_user", None),
            key_path=self._key_file(item["name"], credentials),
            proxy_command=credentials.get("ssh_proxy_command"),
            node_ips=node_ips,
            node_ports=node_ports,
        )

    def _key_file(self, name: str, credentials: dict[str, Any]) -> str | None:
        content = credentials.get("ssh_private_key_content")
        if content:  # mode 0600 from the first byte, replaced whole
            self._state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_private(self._state_dir / f"{name}.key", content.encode())
            return str(self._state_dir / f"{name}.key")
        path = credentials.get("ssh_private_key")
        if path and Path(path).expanduser().is_file():
            return str(Path(path).expanduser())
        return None


def node_addresses(handle: Any) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Every node's external address and SSH port from SkyPilot's cluster handle (a
    CloudVmRayResourceHandle), head first as SkyPilot keeps them; ((), ()) when it has none.

    The handle's `stable_internal_external_ips` pairs each node's private address with
    the one SkyPilot connects to, which is the private one again when the node has no
    public IP (or the cluster uses internal IPs): such a node is given as "" (not
    reachable from the client; the caller says so). Ports default to 22 when SkyPilot
    recorded none for a node.

    Ports: SkyPilot sorts the workers' addresses but keeps `stable_ssh_ports` in instance
    order, so when the handle still has its ClusterInfo (instances with their own
    address and port) each node's port is taken from its instance instead.
    """
    pairs = getattr(handle, "stable_internal_external_ips", None) or []
    ips = []
    for pair in pairs:
        internal, external = (*tuple(pair), None, None)[:2]
        ips.append(str(external) if external and external != internal else "")
    recorded = list(getattr(handle, "stable_ssh_ports", None) or [])
    ports = [int(recorded[i]) if i < len(recorded) and recorded[i] else 22 for i in range(len(ips))]
    info = getattr(handle, "cached_cluster_info", None)
    if info is not None:
        with contextlib.suppress(Exception):  # an older ClusterInfo: keep SkyPilot's list
            port_of = {
                (i.internal_ip, i.external_ip or i.internal_ip): int(i.ssh_port)
                for group in info.instances.values()
                for i in group
            }
            for n, pair in enumerate(pairs):
                ports[n] = port_of.get(tuple(pair[:2]), ports[n])
    return tuple(ips), tuple(ports)


def load_launcher(cluster: str, state_dir: Path) -> Launcher:
    """The launcher: SkyPilot's, or the class $RHCLI_SKY_LAUNCHER names (tests)."""
    named = os.environ.get(LAUNCHER_ENV)
    if not named:
        return SkyPilotLauncher(cluster=cluster, state_dir=state_dir)
    module, _, attribute = named.partition(":")
    try:
        factory = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"{LAUNCHER_ENV}={named!r} names no launcher class: {exc}") from None
    launcher: Launcher = factory(cluster=cluster, state_dir=state_dir)
    return launcher


@contextlib.contextmanager
def _guest_call() -> Iterator[None]:
    """Around each SkyPilot call: its progress goes to stderr (stdout is for results), and
    the `sys.tracebacklimit = 0` that SkyPilot leaves set when an error leaves its
    print_exception_no_traceback() is undone (the user's own tracebacks went empty)."""
    limit = getattr(sys, "tracebacklimit", None)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        vars(sys).pop("tracebacklimit", None)
        if limit is not None:
            sys.tracebacklimit = limit


def _clean(exc: BaseException) -> str:
    """SkyPilot's message on one line: colour codes and blank lines dropped."""
    text = _ANSI.sub("", str(exc)).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    message = " ".join(lines) or type(exc).__name__
    return f"{type(exc).__name__}: {message}"
