"""Where a daemon keeps its state: everything under one root, so daemons never collide.

The root is ``$RHCLI_HOME`` when set, else ``~/.rhcli``. Two daemons with two roots (a test
session, a local and an "SSH" daemon on one machine) share nothing: not their token, pid
file, log, run store nor Ray's temp dir.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rhcli.config.daemon_state import PID_FILE, STATE_FILE, TOKEN_FILE

HOME_ENV = "RHCLI_HOME"
# The root on this machine, and the default root on an SSH host (where "~" is that host's).
DEFAULT_HOME = "~/.rhcli"
# A multi-node cluster's Ray token, in every node's root (mode 0600).
RAY_TOKEN_FILE = "ray_token"  # noqa: S105 - a file name, not a secret


def rhcli_home() -> Path:
    """The root of this machine's rhcli state: ``$RHCLI_HOME`` or ``~/.rhcli`` (absolute)."""
    return Path(os.environ.get(HOME_ENV) or DEFAULT_HOME).expanduser().resolve()


@dataclass(frozen=True)
class DaemonPaths:
    """The files of one daemon under its root. Pure naming: creates nothing."""

    root: Path

    @property
    def token(self) -> Path:
        """The daemon's secret, mode 0600, written anew at every start."""
        return self.root / TOKEN_FILE

    @property
    def state(self) -> Path:
        """JSON written once the daemon serves: pid, port, version, start time."""
        return self.root / STATE_FILE

    @property
    def pid(self) -> Path:
        return self.root / PID_FILE

    @property
    def log(self) -> Path:
        return self.root / "daemon.log"

    @property
    def start_lock(self) -> Path:
        """Held by a client while it starts the daemon, so two clients never start two."""
        return self.root / "start.lock"

    @property
    def run_db(self) -> Path:
        return self.root / "runs.sqlite"

    @property
    def runs_dir(self) -> Path:
        """One folder per run for values too large for the run store (results, logs)."""
        return self.root / "runs"

    @property
    def endpoint_logs_dir(self) -> Path:
        """One folder per HTTP endpoint for its log. Under runs/ so that a multi-node
        cluster's LogWriter, which writes only there, takes replicas' lines from other
        nodes; no run id is ever "endpoints" (ids carry a time), and retention deletes
        runs' folders only."""
        return self.runs_dir / "endpoints"

    @property
    def blobs_dir(self) -> Path:
        """Large call arguments, uploaded in chunks before their call."""
        return self.root / "blobs"

    @property
    def reqs_dir(self) -> Path:
        """Fingerprints of requirement sets already installed."""
        return self.root / "reqs"

    @property
    def ray_token(self) -> Path:
        """The token of this root's Ray (mode 0600): every Ray port checks it."""
        return self.root / RAY_TOKEN_FILE

    @property
    def ray_temp_dir(self) -> Path:
        """Ray's session folder for this root.

        Short and under /tmp on purpose: Ray puts unix sockets there, and a socket path
        longer than about 107 bytes fails, which a deep root (a pytest tmp dir) would hit.
        """
        digest = _digest(self.root)[:10]
        return Path("/tmp") / f"rhcli-ray-{digest}"  # noqa: S108 - a private, per-root name

    @property
    def owner_marker(self) -> str:
        """A value put in the environment of every process the daemon's Ray starts.

        Ray leaves some helper processes behind when its driver is killed; they carry no
        readable command line, so they are found by this marker and stopped.
        """
        return _digest(self.root)[:16]


def _digest(root: Path) -> str:
    # hashlib here, not at the top: a client that only reads a root's files (every
    # `rhcli run` on the local cluster) then never loads OpenSSL's hashes.
    import hashlib

    return hashlib.sha256(str(root).encode()).hexdigest()
