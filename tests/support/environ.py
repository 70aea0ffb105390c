"""Session fixtures that set environment variables put them back as they found them."""

from __future__ import annotations

import os
from collections.abc import Iterable


def snapshot(names: Iterable[str]) -> dict[str, str | None]:
    """The current values of names (None: unset), for restore()."""
    return {name: os.environ.get(name) for name in names}


def restore(saved: dict[str, str | None]) -> None:
    """Put each variable back as snapshot() found it: its value, or unset."""
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
