"""The client's journal of a map: what resuming it needs when its cluster is gone.

A map's journal lives in ``<rhcli root>/maps/<map id>/`` (the client's root: ~/.rhcli or
$RHCLI_HOME), on the machine that ran the map:

- ``map.json``: the map's id, function, cluster, number of items and attempts;
- ``digests``: the SHA-256 of each item's pickled arguments, 32 bytes at offset 32 * index
  (written before the item is sent), so a resume can refuse changed inputs by itself;
- ``results``: every item that succeeded, appended as its outcome arrives (index, pickled
  result, JSON form, repr), one write per batch of outcomes.

Each write reaches the kernel before the outcomes are handed on, so a client killed at
any point (SIGKILL) loses nothing it had received; a power loss may lose the last writes,
and a record cut short is dropped when the journal is next opened. One process at a
time holds a journal open for writing (flock); journals are deleted RETENTION_DAYS after
their last write, at the start of a later map.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import struct
import time
from array import array
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rhcli.config.paths import rhcli_home
from rhcli.errors import MapJournalError, UsageError
from rhcli.outcomes import Outcome

RETENTION_DAYS = 7.0
DIGEST_BYTES = 32
# A result record: index, then the lengths of the pickle, the repr and the JSON form
# (-1: no JSON form); then those bytes.
_HEADER = struct.Struct("<QQQq")
_pruned = False


def journals_root() -> Path:
    return rhcli_home() / "maps"


class MapJournal:
    """One map's journal. Not thread-safe: one map's stream writes it.

    Open with create() (a new map) or open() (a map run before on this machine).
    """

    def __init__(self, path: Path, meta: dict[str, Any], *, writable: bool) -> None:
        self.path = path
        self.meta = meta
        self._lock_fd = -1
        self._offsets = array("q")  # result record offset per index; -1: none
        self._held = 0
        self._results: Any = None
        self._digests_fd = -1
        if writable:
            self._lock()
            self._digests_fd = os.open(path / "digests", os.O_RDWR | os.O_CREAT, 0o600)
        self._load_results(writable=writable)

    # --- opening -----------------------------------------------------------------------

    @classmethod
    def create(cls, map_id: str, *, function: str, cluster: str, total: int) -> MapJournal:
        """A new journal for map_id (refused when one exists: map ids are unique)."""
        global _pruned
        if not _pruned:  # once per process: a map a second costs no folder scans
            _pruned = True
            prune()
        path = journals_root() / map_id
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if path.exists():
                raise UsageError(
                    f"a journal of map {map_id} exists already ({path}); resume that map, "
                    "or start a new one with another id"
                )
            path.mkdir(mode=0o700)
        except OSError as exc:
            raise _journal_error(map_id, path, exc) from None
        meta = {
            "map_id": map_id,
            "function": function,
            "cluster": cluster,
            "total": total,
            "attempts": 1,
            "created_at": time.time(),
        }
        try:
            _write_json(path / "map.json", meta)
        except OSError as exc:
            raise _journal_error(map_id, path, exc) from None
        return cls(path, meta, writable=True)

    @classmethod
    def open(cls, map_id: str, *, writable: bool = True) -> MapJournal | None:
        """The journal of map_id on this machine, or None when there is none."""
        path = journals_root() / map_id
        try:
            meta = json.loads((path / "map.json").read_text())
        except (OSError, ValueError):
            return None
        return cls(path, meta, writable=writable)

    def _lock(self) -> None:
        self._lock_fd = os.open(self.path / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise UsageError(
                f"map {self.meta['map_id']} is being run by another process on this machine "
                f"(its journal {self.path} is locked); wait for it to end"
            ) from None

    def close(self) -> None:
        if self._results is not None:
            self._results.close()
            self._results = None
        for fd in (self._digests_fd, self._lock_fd):
            if fd >= 0:
                os.close(fd)
        self._digests_fd = self._lock_fd = -1

    def __enter__(self) -> MapJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the map -------------------------------------------------------------------------

    @property
    def map_id(self) -> str:
        return str(self.meta["map_id"])

    @property
    def total(self) -> int:
        return int(self.meta["total"])

    @property
    def attempts(self) -> int:
        return int(self.meta.get("attempts", 1))

    def update(self, **fields: Any) -> None:
        """Change map.json's fields (total, attempts), replacing the file whole."""
        self.meta.update(fields)
        with self._writing():
            _write_json(self.path / "map.json", self.meta)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Turn a failed write (a full disk) into MapJournalError: the map stops loudly."""
        try:
            yield
        except OSError as exc:
            raise _journal_error(self.map_id, self.path, exc) from None

    # --- digests -------------------------------------------------------------------------

    def write_digests(self, indices: Sequence[int], digests: Sequence[bytes]) -> None:
        """Record the items' digests (32 bytes each), before the items are sent."""
        if not indices:
            return
        first = indices[0]
        with self._writing():
            if indices[-1] - first == len(indices) - 1:  # consecutive: one write
                os.pwrite(self._digests_fd, b"".join(digests), first * DIGEST_BYTES)
                return
            for index, digest in zip(indices, digests, strict=True):
                os.pwrite(self._digests_fd, digest, index * DIGEST_BYTES)

    def digests(self) -> bytes:
        """Every recorded digest, 32 bytes per index (all zero: never recorded)."""
        try:
            return (self.path / "digests").read_bytes()
        except FileNotFoundError:
            return b""

    # --- results -------------------------------------------------------------------------

    def _load_results(self, *, writable: bool) -> None:
        """Index the results file; a last record cut short (a power loss) is dropped."""
        path = self.path / "results"
        if writable:
            self._results = open(path, "ab", buffering=0)  # kept open: one write per batch
        if not path.exists():
            return
        good = 0
        size = path.stat().st_size
        with open(path, "rb") as f:
            while len(header := f.read(_HEADER.size)) == _HEADER.size:
                index, n_pickle, n_repr, n_json = _HEADER.unpack(header)
                end = good + _HEADER.size + n_pickle + n_repr + max(n_json, 0)
                if end > size:
                    break
                self._remember(index, good)
                f.seek(end)
                good = end
        if writable and good < size:
            os.truncate(path, good)

    def _remember(self, index: int, offset: int) -> None:
        if index >= len(self._offsets):
            self._offsets.extend([-1] * (index + 1 - len(self._offsets)))
        if self._offsets[index] < 0:
            self._held += 1
        self._offsets[index] = offset

    def has(self, index: int) -> bool:
        """Whether item index succeeded and its result is here."""
        return index < len(self._offsets) and self._offsets[index] >= 0

    @property
    def held(self) -> int:
        """How many items' results are here."""
        return self._held

    def have_bitmap(self, total: int) -> bytes:
        """Bit i set when item i's result is here (the MapState request's `have`)."""
        bits = bytearray((total + 7) // 8)
        for index, offset in enumerate(self._offsets[:total]):
            if offset >= 0:
                bits[index >> 3] |= 1 << (index & 7)
        return bytes(bits)

    def add(self, outcomes: Iterable[tuple[int, Outcome]]) -> None:
        """Append the succeeded ones (results already fetched: result_size 0) in one write;
        the others are not kept (a resume runs them again)."""
        records: list[bytes] = []
        entries: list[tuple[int, int]] = []
        start = offset = os.fstat(self._results.fileno()).st_size  # O_APPEND: writes go there
        for index, outcome in outcomes:
            if not outcome.succeeded or self.has(index):
                continue
            if outcome.result_size:
                raise ValueError("a journal keeps fetched results only")
            text = outcome.result_json.encode() if outcome.result_json is not None else b""
            repr_ = outcome.result_repr.encode()
            n_json = len(text) if outcome.result_json is not None else -1
            header = _HEADER.pack(index, len(outcome.result), len(repr_), n_json)
            record = b"".join((header, outcome.result, repr_, text))
            entries.append((index, offset))
            records.append(record)
            offset += len(record)
        if records:
            data = b"".join(records)
            with self._writing():
                if self._results.write(data) != len(data):  # a full disk took part of it
                    os.truncate(self.path / "results", start)
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            for index, at in entries:
                self._remember(index, at)

    def outcome(self, index: int) -> Outcome:
        """Item index's outcome as it was received (KeyError when it is not here)."""
        for _, found in self.outcomes([index]):
            return found
        raise KeyError(index)

    def outcomes(self, indices: Iterable[int]) -> Iterator[tuple[int, Outcome]]:
        """(index, outcome) of each of indices held here, read in one pass of the file."""
        with open(self.path / "results", "rb") as f:
            for index in indices:
                if not self.has(index):
                    continue
                f.seek(self._offsets[index])
                _, n_pickle, n_repr, n_json = _HEADER.unpack(f.read(_HEADER.size))
                result = f.read(n_pickle)
                result_repr = f.read(n_repr).decode()
                result_json = f.read(n_json).decode() if n_json >= 0 else None
                yield (
                    index,
                    Outcome(
                        run_id=f"{self.map_id}.{index}",
                        status="succeeded",
                        result=result,
                        result_json=result_json,
                        result_repr=result_repr,
                    ),
                )


def prune(max_age_days: float = RETENTION_DAYS) -> int:
    """Delete journals not written for max_age_days; returns how many. A journal in use
    (locked) is kept."""
    root = journals_root()
    if not root.is_dir():
        return 0
    cutoff = time.time() - max_age_days * 86400
    removed = 0
    for path in root.iterdir():
        with contextlib.suppress(OSError):
            newest = max(p.stat().st_mtime for p in [path, *path.iterdir()])
            if newest < cutoff and _unlocked(path):
                shutil.rmtree(path)
                removed += 1
    return removed


def _unlocked(path: Path) -> bool:
    fd = os.open(path / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def _journal_error(map_id: str, path: Path, exc: OSError) -> MapJournalError:
    return MapJournalError(
        f"cannot write the journal of map {map_id} ({path}): {exc.strerror or exc}. Free "
        f"space there (journals older than {RETENTION_DAYS:g} days go by themselves; any "
        f"folder under {journals_root()} can be deleted), then resume the map"
    )


def _write_json(path: Path, document: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document))
    os.replace(tmp, path)
