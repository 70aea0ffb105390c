"""The test launcher: SkyPilot's one replaced part. It "provisions" the tests' loopback sshd.

A launch marks the cluster UP in a JSON file and points its head at the sshd on
127.0.0.1 (user root, the sshd's throw-away key; a cluster of several nodes gets the
addresses 127.0.0.1, 127.0.0.2, ... on that sshd's port, as SkyPilot lists a cluster's
nodes, head first), so that everything after the launch
(bootstrap, tunnel, sync, calls, keep-alive, down) runs for real. The file lives in
$RHCLI_TEST_SKY_DIR, so CLI subprocesses (named through RHCLI_SKY_LAUNCHER) share it.
The translation to SkyPilot objects still runs for real at every launch.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from rhcli.clusters.sky_launcher import BUMP_IDLE_TIMER, SkyRecord, task_for
from rhcli.config.schema import ClusterSpec
from rhcli.errors import UnreachableError

DIR_ENV = "RHCLI_TEST_SKY_DIR"
# Files in the launcher's folder: the test marks SkyPilot's API server down with the
# first; a SkyPilot call made while it is down leaves the second (it would start one).
SERVER_DOWN = "api-server-down"
SERVER_STARTED = "api-server-started"


class LoopbackLauncher:
    def __init__(self, *, cluster: str, state_dir: Path) -> None:
        self.dir = Path(os.environ[DIR_ENV])

    # the state shared by every process of the test session
    def state(self) -> dict[str, Any]:
        path = self.dir / "state.json"
        return dict(json.loads(path.read_text())) if path.is_file() else {}

    def _save(self, state: dict[str, Any]) -> None:
        (self.dir / "state.json.tmp").write_text(json.dumps(state))
        os.replace(self.dir / "state.json.tmp", self.dir / "state.json")

    def launch(self, spec: ClusterSpec) -> None:
        task = task_for(spec)  # the real translation, as SkyPilot would receive it
        state = self.state()
        entry = state.get(spec.name, {"launches": 0})
        entry.update(
            status="UP",
            autostop=spec.autostop_mins,
            launches=entry["launches"] + 1,
            resources=str(next(iter(task.resources))),
            nodes=task.num_nodes,
        )
        state[spec.name] = entry
        self._save(state)
        print(f"(test launcher) {spec.name} is up", file=sys.stderr)

    def server_problem(self) -> str:
        """As SkyPilot's health check: a problem while the test marks the server down."""
        down = (self.dir / SERVER_DOWN).is_file()
        return "SkyPilot's API server at http://127.0.0.1:46580 is not answering" if down else ""

    def record(self, name: str) -> SkyRecord | None:
        if (self.dir / SERVER_DOWN).is_file():
            # Every real SkyPilot call starts a server that is down: tests see it here.
            (self.dir / SERVER_STARTED).write_text("started by a record() call\n")
            (self.dir / SERVER_DOWN).unlink()
        entry = self.state().get(name)
        if entry is None:
            return None
        host = json.loads((self.dir / "host.json").read_text())  # read anew: it may move
        nodes = int(entry["nodes"])
        return SkyRecord(
            name=name,
            status=entry["status"],
            resources=f"{entry['nodes']}x {entry['resources']}",
            nodes=entry["nodes"],
            autostop_mins=entry["autostop"],
            cost_per_hour=None,
            head_ip="127.0.0.1",
            ssh_port=int(host["port"]),
            ssh_user="root",
            key_path=host["key"],
            node_ips=tuple(f"127.0.0.{i + 1}" for i in range(nodes)) if nodes > 1 else (),
            node_ports=(int(host["port"]),) * nodes if nodes > 1 else (),
        )

    def down(self, name: str) -> bool:
        state = self.state()
        found = state.pop(name, None)
        self._save(state)
        return found is not None

    def stop(self, name: str) -> None:
        """What SkyPilot's autostop does to the record (the test stops the machine)."""
        state = self.state()
        state[name]["status"] = "STOPPED"
        self._save(state)

    def set_autostop(self, name: str, minutes: int | None) -> None:
        state = self.state()
        if name not in state or state[name]["status"] != "UP":
            raise UnreachableError(f"cannot set autostop of {name!r}: it is not up")
        state[name]["autostop"] = minutes
        self._save(state)

    def keepalive_argv(self) -> list[str]:
        # SkyPilot's own skylet code, on a HOME of the test's (never the real ~/.sky).
        return ["env", f"HOME={self.dir / 'skylet-home'}", sys.executable, "-c", BUMP_IDLE_TIMER]
