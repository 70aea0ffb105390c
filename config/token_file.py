"""A daemon's token file: written by the daemon at every start, read by its clients.

The token separates "may run code on this cluster" from "may not", so its file is the
owner's alone: created with mode 0600 from the first byte, and refused when anyone else
may read or write it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class InsecureTokenFileError(RuntimeError):
    """The token file can be read or written by someone other than its owner."""


def create_token(path: Path) -> str:
    """Write a fresh random token to path with mode 0600 and return it.

    The file is created under a temporary name with 0600 from the first byte and renamed
    into place, so the token is never readable by others, not even for a moment.
    """
    import secrets  # the daemon's side only: a client reading the token never needs it

    token = secrets.token_urlsafe(32)
    write_private(path, token.encode())
    return token


def write_private(path: Path, data: bytes) -> None:
    """Replace path's content with data, mode 0600 from the first byte: written under a
    temporary name and renamed, so no reader ever sees a partial or loose file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    check_token_file(path)


def check_token_file(path: Path) -> None:
    """Raise InsecureTokenFileError when group or others may read or write the file."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise InsecureTokenFileError(
            f"token file {path} has mode {mode:04o}; it must be 0600 "
            f"(fix it with `chmod 600 {path}`)"
        )


def read_token(path: Path) -> str:
    """The token in path, after checking that only its owner can read it."""
    check_token_file(path)
    return path.read_text().strip()
