"""What every case shares: repetitions, the private daemon root, the cluster under test,
process bookkeeping, and the check that nothing of ours is left running.

The cluster under test is a Target: the local cluster (a private daemon under a new
RHCLI_HOME), or an SSH cluster on a throw-away sshd on 127.0.0.1 (tests/support/sshd.py)
whose rhcli root is a new, empty folder, so bringing it up is a real first `up` (venv,
pip, daemon, Ray). Each gives the cases its `cluster`, the `cli_args` and `cli_env` that
select it for a whole `rhcli` process, and `daemon_pid()` for its daemon's memory. The
child clients (the 100,000-item map, the 500 MB cases) build a LocalCluster from the root
they are given, so they run on the local target only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Reps:
    """How many times each kind of case runs."""

    calls: int  # latency cases: timed calls
    warmup: int  # latency cases: untimed calls first
    payload: int  # 1 MB / 10 MB cases
    map_reps: int  # 1,000-item maps
    big_map_reps: int  # 100,000-item maps
    enqueue_rounds: int  # enqueue throughput: rounds of enqueue_calls
    enqueue_calls: int
    log_lines: int  # log latency: lines printed
    processes: int  # whole-process cases
    first_up: int  # first `rhcli up` of an empty root


FULL = Reps(
    calls=1000,
    warmup=100,
    payload=50,
    map_reps=10,
    big_map_reps=3,
    enqueue_rounds=5,
    enqueue_calls=200,
    log_lines=300,
    processes=10,
    first_up=3,
)
QUICK = Reps(
    calls=100,
    warmup=20,
    payload=5,
    map_reps=2,
    big_map_reps=1,
    enqueue_rounds=2,
    enqueue_calls=50,
    log_lines=50,
    processes=3,
    first_up=1,
)


class Target:
    """A cluster the rhcli cases run against."""

    name = "abstract"

    @property
    def cluster(self) -> Any:
        raise NotImplementedError

    def cli_args(self) -> list[str]:
        """Global rhcli options that select this cluster."""
        raise NotImplementedError

    def cli_env(self) -> dict[str, str]:
        raise NotImplementedError

    def daemon_pid(self) -> int | None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class LocalTarget(Target):
    """The local cluster under a private root (its daemon is started by the first case)."""

    name = "local"

    def __init__(self, home: Path) -> None:
        from rhcli.clusters.local import LocalCluster

        self.home = home
        self._cluster = LocalCluster("local", home=home)
        self.manifest = home / "empty-runhouse.yaml"  # the built-in default: only `local`
        self.manifest.write_text("")

    @property
    def cluster(self) -> Any:
        return self._cluster

    def cli_args(self) -> list[str]:
        return ["-f", str(self.manifest), "-c", "local"]

    def cli_env(self) -> dict[str, str]:
        env = dict(os.environ, RHCLI_HOME=str(self.home))
        env.pop("RHCLI_FILE", None)
        return env

    def daemon_pid(self) -> int | None:
        state = self._cluster.daemon.state()
        return state.pid if state is not None else None

    def stop(self) -> None:
        self._cluster.down()


class SshTarget(Target):
    """An SSH cluster on a loopback sshd started here, with an empty rhcli root.

    The sshd has a throw-away host key and user key; RHCLI_KNOWN_HOSTS names its
    known_hosts (strict checking) and RHCLI_SSH_CONFIG a file that does not exist, so the
    user's ~/.ssh is never read. Nothing starts until up(); stop() takes the daemon down,
    closes the connection and stops sshd.
    """

    name = "ssh"
    CLUSTER = "bench-box"

    def __init__(self, home: Path) -> None:
        import shutil
        import tempfile

        from tests.support.sshd import SSHD, start_sshd

        missing = [tool for tool in (SSHD, "rsync", "ssh") if shutil.which(tool) is None]
        if missing or os.geteuid() != 0:
            raise SystemExit(
                "the ssh target starts a loopback sshd, which needs root and "
                f"openssh-server and rsync (missing: {', '.join(missing) or 'root'}); "
                "install them (apt-get install -y openssh-server rsync) or pass "
                "--target local"
            )

        self.home = home  # the client's state dir (its ssh master sockets live there)
        self.dir = Path(tempfile.mkdtemp(prefix="rhb-ssh-", dir="/tmp"))
        self.root = self.dir / "root"  # the cluster's rhcli root: does not exist yet
        self.host = start_sshd(self.dir / "sshd")
        self._env = {
            "RHCLI_KNOWN_HOSTS": str(self.host.known_hosts),
            "RHCLI_SSH_CONFIG": str(self.dir / "no-ssh-config"),
        }
        self._saved = {name: os.environ.get(name) for name in self._env}
        os.environ.update(self._env)
        self.manifest = self.dir / "runhouse.yaml"
        self.manifest.write_text(
            f"default_cluster: {self.CLUSTER}\n"
            "clusters:\n"
            f"  {self.CLUSTER}:\n"
            "    type: ssh\n"
            "    host: 127.0.0.1\n"
            f"    port: {self.host.port}\n"
            "    user: root\n"
            f"    key: {self.host.user_key}\n"
            f"    home: {self.root}\n"
        )
        import rhcli as rh

        self._cluster = rh.cluster(
            name=self.CLUSTER,
            host="127.0.0.1",
            port=self.host.port,
            user="root",
            key=str(self.host.user_key),
            home=str(self.root),
        )

    @property
    def cluster(self) -> Any:
        return self._cluster

    def cli_args(self) -> list[str]:
        return ["-f", str(self.manifest), "-c", self.CLUSTER]

    def cli_env(self) -> dict[str, str]:
        env = dict(os.environ, RHCLI_HOME=str(self.home), **self._env)
        env.pop("RHCLI_FILE", None)
        return env

    def daemon_pid(self) -> int | None:
        import json

        try:
            return int(json.loads((self.root / "daemon.json").read_text())["pid"])
        except (OSError, ValueError, KeyError):
            return None

    def ssh_command(self) -> list[str]:
        """The system ssh to this host with the cluster's settings (for bare rsync)."""
        return ["ssh", *self._cluster.target.ssh_options()]

    def stop(self) -> None:
        import shutil

        try:
            self._cluster.down()
            self._cluster.connection().close()
        finally:
            self.host.stop()
            for name, value in self._saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            shutil.rmtree(self.dir, ignore_errors=True)


TARGETS = ("local", "ssh")


def make_target(name: str, home: Path) -> Target:
    if name == "local":
        return LocalTarget(home)
    if name == "ssh":
        return SshTarget(home)
    raise SystemExit(f"unknown target {name!r}: choose among {', '.join(TARGETS)}")


@dataclass
class Bench:
    """One run of the suite: its repetitions, target, and the markers of its processes."""

    reps: Reps
    home: Path
    target: Target | None = None
    large: bool = False
    mb1: int = 1_000_000
    mb10: int = 10_000_000
    markers: list[bytes] = field(default_factory=list)
    homes: list[Path] = field(default_factory=list)

    def log(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def own_root(self, root: Path) -> None:
        """Count processes of this daemon root as ours (for the leftover check)."""
        from rhcli.config.paths import DaemonPaths
        from rhcli.config.root_processes import OWNER_ENV

        self.homes.append(root)
        self.markers.append(f"{OWNER_ENV}={DaemonPaths(root).owner_marker}".encode())
        self.markers.append(f"RHCLI_HOME={root}".encode())


def rhcli_command() -> list[str]:
    script = Path(sys.executable).parent / "rhcli"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from rhcli.cli.main import main; main()"]


def leftover_processes(markers: list[bytes]) -> list[int]:
    """Pids (other than this process) whose environment holds one of markers."""
    wanted = set(markers)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = set((entry / "environ").read_bytes().split(b"\0"))
        except OSError:
            continue
        if environ & wanted:
            found.append(int(entry.name))
    return found


def proc_status_kib(pid: int | str, field_name: str) -> int:
    """A /proc/PID/status field in KiB (VmHWM: peak resident set, VmRSS: now); pid may be
    "self"."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise KeyError(field_name)


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux: write 5 to clear_refs); False if refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def stop_child(child: subprocess.Popen[str]) -> None:
    if child.stdin is not None:
        child.stdin.close()
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def ray_child_samples(bench: Bench, module: str, args: list[str]) -> dict[str, list[float]]:
    """Run ``python -m MODULE ray-child ARGS --temp-dir DIR``: a child with a private Ray
    of its own (its temp dir, an owner marker in its environment), whose last stdout line
    is a JSON document of samples. Every process it leaves is swept by the marker."""
    import json
    import shutil
    import uuid

    from rhcli.config.root_processes import OWNER_ENV, sweep_leftovers

    marker = f"bench-{uuid.uuid4().hex[:12]}"
    bench.markers.append(f"{OWNER_ENV}={marker}".encode())
    temp_dir = f"/tmp/rhb-ray-{marker[-6:]}"
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", **{OWNER_ENV: marker})
    command = [sys.executable, "-m", module, "ray-child", *args, "--temp-dir", temp_dir]
    try:
        done = subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False
        )
        if done.returncode != 0:
            raise SystemExit(f"the bare Ray child ({module}) failed:\n{done.stderr[-3000:]}")
        samples: dict[str, list[float]] = json.loads(done.stdout.strip().splitlines()[-1])
        return samples
    finally:
        sweep_leftovers(marker)
        shutil.rmtree(temp_dir, ignore_errors=True)
