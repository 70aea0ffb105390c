"""A two-node SSH cluster on this machine, shared by the module: two network namespaces
on a bridge (tests/support/netns.py), each with its own sshd on its own address.

Each node has its own rhcli root (sshd's SetEnv RHCLI_HOME), hence its own venv, Ray temp
dir and copy of the code; and the worker node cannot see the head's folder at all (an
empty tmpfs over it, in the worker sshd's own mount namespace), as on a separate disk: a
log the worker wrote to the head's path would be lost, and the tests would see it.
At the end: `down`, then every process of both namespaces must be gone, then the
namespaces, veths and bridge are removed.

The namespaces have no route to a package index: like hosts without internet, they
install rhcli's dependencies (real pip, into each node's own venv) from a local folder of
wheels (PIP_NO_INDEX, PIP_FIND_LINKS), which is downloaded once and kept in /tmp across
sessions, keyed by the dependency list.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import netns
from tests.support.environ import restore, snapshot
from tests.support.sshd import SSHHost, start_sshd

FIGURES: dict[str, str] = {}


@dataclass
class Nodes:
    network: netns.Network
    sshds: list[SSHHost]
    roots: list[Path]  # each node's rhcli root, head first
    cluster: Any
    first_up_s: float

    @property
    def head(self) -> netns.Namespace:
        return self.network.namespaces[0]

    @property
    def worker(self) -> netns.Namespace:
        return self.network.namespaces[1]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("multi-node figures (two network namespaces)")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")


def wheelhouse() -> Path:
    """A folder with wheels of rhcli's dependencies and of Ray Serve at this Ray's version
    (what serving an endpoint installs on every node), pip-downloaded once per dep list."""
    import hashlib
    import sys
    from importlib import metadata

    from rhcli.transport import bootstrap

    deps = [*bootstrap.dependencies(), f"ray[serve]=={metadata.version('ray')}"]
    digest = hashlib.sha256("\n".join(deps).encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / f"rhcli-test-wheels-{digest}"
    if not (folder / ".complete").exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "-d", str(folder), *deps],
            check=True,
            capture_output=True,
        )
        (folder / ".complete").touch()
    return folder


USERS_RAY_TOKEN = "a-token-of-the-hosts-own-environment"


@pytest.fixture(scope="session")
def nodes() -> Iterator[Nodes]:
    if os.geteuid() != 0:
        pytest.skip("multi-node tests create network namespaces: they need root (CI is)")
    import rhcli as rh

    base = Path(tempfile.mkdtemp(prefix="rhmn-"))
    network = netns.create(2)
    sshds: list[SSHHost] = []
    saved = snapshot(("RHCLI_KNOWN_HOSTS", "RHCLI_SSH_CONFIG"))
    cluster = None
    roots = [base / "head" / "root", base / "worker" / "root"]
    try:
        head_ns, worker_ns = network.namespaces
        offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse())}
        # Hosts whose environment turns Ray's token auth off and carries a token of the
        # user's own: every Ray of rhcli must run with its own token all the same.
        offline |= {"RAY_AUTH_MODE": "disabled", "RAY_AUTH_TOKEN": USERS_RAY_TOKEN}
        sshds.append(
            start_sshd(
                base / "head" / "sshd",
                address=head_ns.address,
                port=22,
                netns=head_ns.name,
                env={"RHCLI_HOME": str(roots[0]), **offline},
            )
        )
        sshds.append(
            start_sshd(
                base / "worker" / "sshd",
                address=worker_ns.address,
                port=22,
                netns=worker_ns.name,
                env={"RHCLI_HOME": str(roots[1]), **offline},
                hide=base / "head",
                keys_from=sshds[0],
            )
        )
        known_hosts = base / "known_hosts"
        known_hosts.write_text("".join(h.known_hosts.read_text() for h in sshds))
        os.environ["RHCLI_KNOWN_HOSTS"] = str(known_hosts)
        os.environ["RHCLI_SSH_CONFIG"] = str(base / "no-ssh-config")
        cluster = rh.cluster(
            name="duo",
            hosts=[head_ns.address, worker_ns.address],
            user="root",
            key=str(sshds[0].user_key),
        )
        started = time.monotonic()
        cluster.up()
        first_up = time.monotonic() - started
        FIGURES["first up of 2 nodes from empty roots"] = f"{first_up:.1f} s"
        yield Nodes(network, sshds, roots, cluster, first_up)
    finally:
        try:
            if cluster is not None:
                cluster.down()
                cluster.connection().close()
        finally:
            for host in sshds:
                host.stop()
            left = _leftovers(network)
            network.remove()
            restore(saved)
            shutil.rmtree(base, ignore_errors=True)
            for root in roots:
                shutil.rmtree(f"/tmp/rhcli-rayn-{_digest(root)}", ignore_errors=True)
    assert not any(left.values()), f"processes left in the namespaces after down: {left}"


def _leftovers(network: netns.Network) -> dict[str, list[str]]:
    """Processes still in the namespaces (their command lines), given 10 s to exit."""
    deadline = time.monotonic() + 10
    while True:
        left = {ns.name: ns.pids() for ns in network.namespaces}
        if not any(left.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    found: dict[str, list[str]] = {}
    for name, pids in left.items():
        for pid in pids:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            found.setdefault(name, []).append(f"{pid}: {cmdline.decode(errors='replace')}")
    return found


def _digest(root: Path) -> str:
    import hashlib

    return hashlib.sha256(str(root).encode()).hexdigest()[:10]


@pytest.fixture(scope="session")
def project() -> Iterator[Path]:
    """A git project with the functions the tests run, synced by the calls."""
    path = Path(tempfile.mkdtemp(prefix="rhmn-proj-"))
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    (path / "tasks.py").write_text(
        "import os, time\n"
        "import ray\n\n"
        "def where(x, delay=0.0):\n"
        "    time.sleep(delay)\n"
        "    node = ray.get_runtime_context().get_node_id()\n"
        "    print(f'item {x} on {node}', flush=True)\n"
        "    return {'x': x, 'node': node, 'root': os.environ.get('RHCLI_NODE_ROOT', ''),\n"
        "            'cwd': os.getcwd()}\n\n"
        "def hog(x):\n"
        "    return ray.get_runtime_context().get_node_id()\n\n"
        "def cut_the_log(x, head):\n"
        "    node = ray.get_runtime_context().get_node_id()\n"
        "    if node != head:  # on the worker node: the head's log writer goes away\n"
        "        try:\n"
        "            ray.kill(ray.get_actor('rhcli-log-writer', namespace='rhcli'))\n"
        "        except ValueError:  # killed by an item before\n"
        "            pass\n"
        "    print(f'after the cut {x} on {node}', flush=True)\n"
        "    return node\n"
    )
    yield path
    shutil.rmtree(path, ignore_errors=True)
