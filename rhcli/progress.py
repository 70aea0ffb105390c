"""Progress notes for people: what a long step is doing (bootstrap, launch, node steps).

They go to stderr, flushed, so stdout keeps only results and `--json` documents.
"""

from __future__ import annotations

import sys


def say(message: str) -> None:
    """One progress line on stderr."""
    print(message, file=sys.stderr, flush=True)
