"""Child processes that a test interrupts with Ctrl-C (SIGINT).

A process inherits an ignored SIGINT when the suite runs from a background job of a
non-interactive shell (a CI step, `./scripts/test.sh &`): Python then installs no
KeyboardInterrupt handler, and a test's SIGINT does nothing. So a test that sends SIGINT
sets its child's disposition itself, whatever the suite inherited.
"""

from __future__ import annotations

import signal
import subprocess
from typing import Any


def _default_sigint() -> None:
    # Runs in the child between fork and exec: the exec'd Python then sees SIGINT at its
    # default and installs its KeyboardInterrupt handler, as in a terminal.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def spawn_interruptible(argv: list[str], **popen: Any) -> subprocess.Popen[str]:
    """Popen(argv, text=True, **popen) with SIGINT at its default in the child."""
    return subprocess.Popen(argv, text=True, preexec_fn=_default_sigint, **popen)
