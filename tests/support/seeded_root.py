"""A root where this very rhcli build is already installed, as on a host that has it.

Its venv is the test venv (a symlink) and its installed.json names the current build, so
an `up` finds rhcli installed and goes straight on to starting the daemon (the 40 s
first install is tested by tests/ssh).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def seed_root(root: Path) -> None:
    """A root where this rhcli build is already installed: the test venv, by symlink."""
    from rhcli._version import __version__
    from rhcli.transport import bootstrap

    root.mkdir(parents=True, mode=0o700)
    (root / "venv").symlink_to(Path(sys.prefix))
    build = bootstrap.package_archive()[1]
    (root / "installed.json").write_text(json.dumps({"version": __version__, "build": build}))
