"""Large results on disk: a run's result over INLINE_RESULT_LIMIT lives in its own file.

The file is written to a temporary name and renamed, and only then referenced from the
run's row, so a crash of the daemon (or a full disk) never leaves a row pointing at half
a result; large blobs stay out of the database. It is not fsynced: like the run store
itself (WAL, synchronous=NORMAL), it survives the daemon being killed at any point, not
a power loss; an fsync was half the daemon's time for a 1 MB result. What a power loss
can leave (a row pointing at a file that is missing, empty or short) is therefore caught
on every read: the file's size is checked against the size the row recorded, and a
mismatch raises ResultLostError for that run, never a result of the wrong length.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from rhcli.protocol import daemon_pb2 as pb

INLINE_RESULT_LIMIT = 256 * 1024


class ResultLostError(Exception):
    """A run's result file is missing or not the size its record says (the machine lost
    power before the file reached the disk, or something removed or cut it)."""

    def __init__(self, run_id: str, path: Path, found: int | None, recorded: int) -> None:
        self.run_id = run_id
        have = "is missing" if found is None else f"holds {found:,} bytes"
        super().__init__(
            f"run {run_id} succeeded but its result was lost: {path} {have}, its record says "
            f"{recorded:,} (results are not fsynced: a power loss of the cluster's machine can "
            "lose a recent one). Run the call again."
        )


def is_disk_full(exc: BaseException) -> bool:
    """True for the errors a full disk (or quota) raises from files and from sqlite."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return isinstance(exc, sqlite3.Error) and "full" in str(exc).lower()


def stored_form(
    runs_dir: Path, run_id: str, outcome: pb.RunOutcome, result: bytes | memoryview | None = None
) -> tuple[pb.RunOutcome, str | None, int]:
    """(the outcome as its row keeps it, its result file or None, the result's size).

    result, when given, is the run's result kept outside the message (a large one:
    written to its file as it is, never copied into protobuf).
    """
    result_file: str | None = None
    stored = outcome
    data = outcome.result if result is None else result  # protobuf copies on each get
    size = len(data)
    if size > INLINE_RESULT_LIMIT:
        result_file = write_result_file(runs_dir, run_id, data)
        stored = pb.RunOutcome()
        stored.CopyFrom(outcome)
        stored.result = b""
        stored.result_size = 0
    elif result is not None:
        stored = pb.RunOutcome()
        stored.CopyFrom(outcome)
        stored.result = bytes(data)
        stored.result_size = 0
    return stored, result_file, size


def write_result_file(runs_dir: Path, run_id: str, data: bytes | memoryview) -> str:
    """Write data as run_id's result file, whole or not at all; returns its path."""
    run_dir = runs_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    final = run_dir / "result.pkl"
    tmp = run_dir / "result.pkl.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half-written result behind
        raise
    return str(final)


def checked_result_file(run_id: str, path: str, recorded: int) -> Path:
    """path, once its size is the recorded one; raises ResultLostError otherwise."""
    file = Path(path)
    try:
        found: int | None = file.stat().st_size
    except FileNotFoundError:
        found = None
    if found != recorded:
        raise ResultLostError(run_id, file, found, recorded)
    return file


def result_intact(path: str, recorded: int) -> bool:
    """Whether the result file at path holds the recorded size (see checked_result_file)."""
    try:
        return os.stat(path).st_size == recorded
    except FileNotFoundError:
        return False


def read_result_file(run_id: str, path: str, recorded: int) -> bytes:
    """The whole result file; raises ResultLostError unless it holds recorded bytes."""
    try:
        data = checked_result_file(run_id, path, recorded).read_bytes()
    except FileNotFoundError:  # removed between the check and the read
        raise ResultLostError(run_id, Path(path), None, recorded) from None
    if len(data) != recorded:
        raise ResultLostError(run_id, Path(path), len(data), recorded)
    return data
