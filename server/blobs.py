"""Large call arguments, uploaded in chunks before the call that uses them.

gRPC messages stop at a few MiB by default, and one huge message means whole-payload
copies at both ends. Arguments above the client's inline limit therefore arrive as a
stream of chunks, written straight to a file here; the call names the blob, and the blob
is mapped into memory once when the run starts and then deleted.
"""

from __future__ import annotations

import mmap
import os
import secrets
from collections.abc import Iterable
from pathlib import Path


class UnknownBlobError(KeyError):
    """No such blob: never uploaded, or used by a run already."""


class BlobStore:
    def __init__(self, directory: Path) -> None:
        self._dir = directory
        directory.mkdir(parents=True, exist_ok=True)

    def put(self, chunks: Iterable[bytes]) -> tuple[str, int]:
        """Write the chunks to a new blob; returns (blob id, size)."""
        blob_id = secrets.token_hex(12)
        final = self._dir / blob_id
        tmp = self._dir / f"{blob_id}.part"
        size = 0
        try:
            with open(tmp, "wb") as f:
                for chunk in chunks:
                    f.write(chunk)
                    size += len(chunk)
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        return blob_id, size

    def take(self, blob_id: str) -> memoryview:
        """The blob's bytes, mapped from its file rather than read (one copy less of a
        large argument on its way to Ray); the file is gone afterwards (its pages stay
        mapped until the view is released)."""
        if not blob_id.isalnum():
            raise UnknownBlobError(blob_id)
        path = self._dir / blob_id
        try:
            with open(path, "rb") as f:
                if os.fstat(f.fileno()).st_size == 0:
                    data = memoryview(b"")
                else:
                    data = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
        except FileNotFoundError:
            raise UnknownBlobError(blob_id) from None
        path.unlink(missing_ok=True)
        return data
