"""Child processes that a test interrupts with Ctrl-C (SIGINT).

A process inherits an ignored SIGINT when the suite runs from a background job of a
non-interactive shell (a CI step, `./scripts/test.sh &`): Python then installs no
KeyboardInterrupt handler, and a test's SIGINT does nothing. So a test that sends SIGINT
starts its child through `env --default-signal=INT`, which resets the disposition and
execs the command (same pid), whatever the suite inherited.

Why not Popen's preexec_fn: it runs Python in the child between fork and exec, and a
fork of this process, whose gRPC client threads are running, can abort there in gRPC's
fork handler (seen in CI: the child died of SIGABRT before exec, after "epoll_wait
error: Bad file descriptor", and Popen returned as if it had started).
"""

from __future__ import annotations

import subprocess
from typing import Any


def interruptible(argv: list[str]) -> list[str]:
    """argv, run with SIGINT at its default (coreutils env >= 8.31, as on Debian 11+)."""
    return ["env", "--default-signal=INT", *argv]


def spawn_interruptible(argv: list[str], **popen: Any) -> subprocess.Popen[str]:
    """Popen(argv, text=True, **popen) with SIGINT at its default in the child."""
    return subprocess.Popen(interruptible(argv), text=True, **popen)
