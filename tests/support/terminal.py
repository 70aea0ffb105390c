"""Running the real `rhcli` in a real terminal: a pseudo-terminal of a chosen width.

stdin, stdout and stderr are all the terminal (as in an interactive shell), so what a
user sees is everything the process wrote, escape codes included, in order.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO

ANSI = "\x1b["


@dataclass
class Screen:
    returncode: int
    raw: str  # what the process wrote to the terminal, escape codes included

    @property
    def lines(self) -> list[str]:
        """The lines as written (terminal newlines are \\r\\n)."""
        return self.raw.replace("\r\n", "\n").split("\n")


def run_in_terminal(
    *args: str,
    columns: int = 80,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> Screen:
    """Run `rhcli ARGS` on a new pseudo-terminal `columns` wide; what it wrote."""
    rhcli = Path(sys.executable).parent / "rhcli"
    main, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    environ = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns), **(env or {})}
    for name in ("NO_COLOR", "FORCE_COLOR"):
        if env is None or name not in env:
            environ.pop(name, None)
    process = subprocess.Popen(
        [str(rhcli), *args],
        cwd=cwd or REPO,
        env=environ,
        stdin=side,
        stdout=side,
        stderr=side,
        close_fds=True,
        start_new_session=True,
    )
    os.close(side)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.5)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(main, 65536)
            except OSError:  # EIO: the other side is closed, the process has ended
                break
            if not data:
                break
            chunks.append(data)
        else:
            process.kill()
            raise TimeoutError(f"rhcli {' '.join(args)} ran past {timeout} s")
    finally:
        os.close(main)
    return Screen(process.wait(timeout=30), b"".join(chunks).decode(errors="replace"))
