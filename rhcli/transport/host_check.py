"""What an SSH host must offer rhcli, checked from the probe's findings before any work.

A host that lacks something rhcli needs there is the user's environment, not a fault of
rhcli: the error names the host, everything that is missing at once, and the fix for
each (HostSetupError), instead of a failure halfway through an install. What is checked:

- Python 3.10 or newer as `python3` (the probe's first lines run on any Python and stop
  there on an older one, so an old interpreter never meets newer syntax);
- the rhcli root writable by the SSH user (or its nearest existing parent, to create it);
- free disk under the root: FIRST_INSTALL_BYTES for a first install (a virtualenv with
  Ray, plus pip's downloads), UPDATE_BYTES to unpack a new build;
- `rsync` (code sync) and `setsid` (starting the daemon detached) on the PATH that a
  non-interactive SSH session gets, and Python's `ensurepip` where a virtualenv is made.
"""

from __future__ import annotations

from typing import Any

from rhcli.errors import HostSetupError

# A fresh venv with rhcli's dependencies is about 350 MiB (Ray is 240 of it); pip's
# downloads and build files come on top while it installs.
FIRST_INSTALL_BYTES = 768 * 2**20
UPDATE_BYTES = 32 * 2**20
MIN_PYTHON = (3, 10)

# Runs first, under whatever `python3` the host has (Python 2 included): refuses an old
# one with a line the client reads, else runs the probe given as argv[1].
GATE = (
    "import sys\n"
    "if sys.version_info[:2] < (3, 10):\n"
    "    sys.stderr.write('rhcli-old-python %d.%d %s\\n' % (sys.version_info[0], "
    "sys.version_info[1], sys.executable))\n"
    "    sys.exit(3)\n"
    "exec(sys.argv.pop(1))\n"
)
OLD_PYTHON_MARK = "rhcli-old-python "

# Appended to the probe: the facts check() needs, as the "host" entry of its answer.
FACTS = r"""
def host_facts(root):
    import importlib.util, shutil
    try:
        ensurepip = importlib.util.find_spec("ensurepip") is not None
    except (ImportError, ValueError):
        ensurepip = False
    base = root
    while not os.path.exists(base) and os.path.dirname(base) != base:
        base = os.path.dirname(base)
    try:
        stat = os.statvfs(base)
        free = stat.f_bavail * stat.f_frsize
    except OSError:
        free = -1
    return {"writable": os.access(base, os.W_OK), "writable_path": base, "free": free,
            "rsync": shutil.which("rsync"), "setsid": shutil.which("setsid"),
            "ensurepip": ensurepip}
"""


DISK_FIX = "free some space there, or set the cluster's `home:` on a larger disk"
WRITE_FIX = (
    "set the cluster's `home:` to a folder that user can write, or give it write access there"
)


VENV_FIX = "install the venv module (Debian/Ubuntu: `sudo apt install python3-venv`)"


def no_venv(host: str, python: str) -> HostSetupError:
    """The error for a python3 that cannot make a virtualenv (found when it fails to)."""
    return HostSetupError(
        host=host,
        missing=f"{python} cannot make a virtualenv (ensurepip is not available)",
        fix=f"{_sentence(VENV_FIX)}. {_AGAIN}",
    )


def disk_full(host: str, what: str) -> HostSetupError:
    """The error for a disk that filled up on host while doing what."""
    return HostSetupError(
        host=host, missing=f"no free disk space {what}", fix=f"{_sentence(DISK_FIX)}. {_AGAIN}"
    )


def not_writable(host: str, what: str) -> HostSetupError:
    """The error for a folder of the root that the SSH user may not write."""
    return HostSetupError(host=host, missing=what, fix=f"{_sentence(WRITE_FIX)}. {_AGAIN}")


def forwarding_refused(host: str, destination: str, reason: str) -> HostSetupError:
    """The error for a host whose sshd refuses to forward to the daemon's loopback port
    (the daemon runs: only the forward fails), reason being what the refusal said."""
    return HostSetupError(
        host=host,
        missing=f"its SSH server refuses port forwarding for {destination} ({reason}); "
        "rhcli reaches its daemon on the host's loopback through a forward",
        fix="Allow local forwarding for that user in the host's sshd_config "
        "(`AllowTcpForwarding local` or `yes`, and no `PermitOpen none`), reload sshd, "
        "then try again",
    )


def old_python(host: str, stderr: str) -> HostSetupError | None:
    """The error for a probe that stopped on an old Python (see GATE), else None."""
    for line in stderr.splitlines():
        if line.startswith(OLD_PYTHON_MARK):
            version, _, path = line[len(OLD_PYTHON_MARK) :].partition(" ")
            return _python_error(host, version, path)
    return None


def _python_error(host: str, version: str, path: str) -> HostSetupError:
    wanted = ".".join(map(str, MIN_PYTHON))
    return HostSetupError(
        host=host,
        missing=f"its python3 is Python {version} ({path}); rhcli needs Python {wanted} "
        "or newer there",
        fix=f"Install Python {wanted}+ on it (Debian/Ubuntu: `sudo apt install python3`, "
        "or a python.org build) so that `python3` on a non-interactive SSH session's PATH "
        "is that version, then run `rhcli up` again",
    )


def check(
    host: str,
    *,
    root: str,
    version: tuple[int, int],
    python: str,
    facts: dict[str, Any],
    first_install: bool,
) -> None:
    """Raise HostSetupError naming everything this host lacks for rhcli; return quietly
    when it has it all. first_install: no virtualenv there yet (more disk, ensurepip)."""
    if version < MIN_PYTHON:
        raise _python_error(host, ".".join(map(str, version)), python)
    missing: list[str] = []
    fixes: list[str] = []
    if not facts.get("writable"):
        missing.append(
            f"the SSH user cannot write {facts.get('writable_path') or root} (the root is {root})"
        )
        fixes.append(WRITE_FIX)
    need = FIRST_INSTALL_BYTES if first_install else UPDATE_BYTES
    free = int(facts.get("free", -1))
    if 0 <= free < need:
        missing.append(
            f"only {free / 2**20:.0f} MiB free under {facts.get('writable_path') or root}, "
            f"{'a first install' if first_install else 'an update'} needs "
            f"{need / 2**20:.0f} MiB"
        )
        fixes.append(DISK_FIX)
    for tool, why, package in (
        ("rsync", "to sync code", "rsync"),
        ("setsid", "to start the daemon", "util-linux"),
    ):
        if not facts.get(tool):
            missing.append(f"no `{tool}` on the PATH of a non-interactive SSH session ({why})")
            fixes.append(
                f"install {package} there (`sudo apt install {package}` or `sudo dnf "
                f"install {package}`)"
            )
    if first_install and not facts.get("ensurepip"):
        missing.append(f"{python} cannot make a virtualenv (no ensurepip)")
        fixes.append(VENV_FIX)
    if missing:
        raise HostSetupError(
            host=host,
            missing="; ".join(missing),
            fix=f"{_sentence('; '.join(fixes))}. {_AGAIN}",
        )


_AGAIN = "Then run `rhcli up` again"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
