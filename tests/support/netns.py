"""Several "hosts" on this machine: network namespaces on a bridge (needs root).

    root namespace (the client, pytest)   bridge rhbrXXXX  10.R.S.1/24
      ├── veth ─ namespace rhnXXXX-1      eth0             10.R.S.11/24   (head)
      └── veth ─ namespace rhnXXXX-2      eth0             10.R.S.12/24   (worker)

Each namespace has its own network stack (its own loopback and ports), so each runs its
own sshd on port 22 of its own address. Processes started in a namespace can outlive it
(Ray's agents re-parent to init), so they are found by /proc/PID/ns/net and killed before
the namespace is deleted.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@dataclass
class Namespace:
    name: str
    address: str
    veth: str  # the root-namespace end of its veth pair

    def inode(self) -> int | None:
        try:
            return os.stat(f"/run/netns/{self.name}").st_ino
        except OSError:
            return None

    def pids(self) -> list[int]:
        """Every process whose network namespace is this one."""
        inode = self.inode()
        found = []
        if inode is None:
            return found
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.stat(entry / "ns" / "net").st_ino == inode:
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    def kill_all(self, timeout: float = 10.0) -> None:
        """SIGKILL every process in the namespace, until none is left (a host dying)."""
        deadline = time.monotonic() + timeout
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        if self.pids():
            raise RuntimeError(f"processes left in {self.name}: {self.pids()}")


@dataclass
class Network:
    bridge: str
    gateway: str
    namespaces: list[Namespace] = field(default_factory=list)

    def remove(self) -> None:
        """Kill every process of every namespace, delete them, the veths and the bridge."""
        for ns in self.namespaces:
            ns.kill_all()
            subprocess.run(["ip", "netns", "del", ns.name], capture_output=True, check=False)
            subprocess.run(["ip", "link", "del", ns.veth], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, check=False)


def create(count: int) -> Network:
    """A bridge and count namespaces on it, each with its own address (10.R.S.11, ...)."""
    tag = secrets.token_hex(2)
    subnet = f"10.{200 + int(tag[:2], 16) % 50}.{int(tag[2:], 16)}"
    network = Network(bridge=f"rhbr{tag}", gateway=f"{subnet}.1")
    try:
        _ip("link", "add", network.bridge, "type", "bridge")
        _ip("addr", "add", f"{network.gateway}/24", "dev", network.bridge)
        _ip("link", "set", network.bridge, "up")
        for i in range(1, count + 1):
            ns = Namespace(name=f"rhn{tag}-{i}", address=f"{subnet}.{10 + i}", veth=f"rhv{tag}{i}")
            _ip("netns", "add", ns.name)
            network.namespaces.append(ns)
            _ip("link", "add", ns.veth, "type", "veth", "peer", "name", f"rhp{tag}{i}")
            _ip("link", "set", ns.veth, "master", network.bridge)
            _ip("link", "set", ns.veth, "up")
            _ip("link", "set", f"rhp{tag}{i}", "netns", ns.name)
            inside = ("netns", "exec", ns.name, "ip")
            _ip(*inside, "link", "set", f"rhp{tag}{i}", "name", "eth0")
            _ip(*inside, "addr", "add", f"{ns.address}/24", "dev", "eth0")
            _ip(*inside, "link", "set", "eth0", "up")
            _ip(*inside, "link", "set", "lo", "up")
            _ip(*inside, "route", "add", "default", "via", network.gateway)
    except BaseException:
        network.remove()
        raise
    return network
