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


class BlobTooLargeError(ValueError):
    """An upload went past the size limit; nothing of it is kept."""


class BlobStore:
    def __init__(self, directory: Path, *, max_bytes: int | None = None) -> None:
        self._dir = directory
        self.max_bytes = max_bytes
        directory.mkdir(parents=True, exist_ok=True)

    def put(self, chunks: Iterable[bytes]) -> tuple[str, int]:
        """Write the chunks to a new blob; returns (blob id, size).

        Raises BlobTooLargeError as soon as the upload passes max_bytes, and OSError when
        the disk is full; either way the partial file is removed.
        """
        blob_id = secrets.token_hex(12)
        final = self._dir / blob_id
        tmp = self._dir / f"{blob_id}.part"
        size = 0
        try:
            with open(tmp, "wb") as f:
                for chunk in chunks:
                    size += len(chunk)
                    if self.max_bytes is not None and size > self.max_bytes:
                        raise BlobTooLargeError(
                            f"the call's arguments are over this daemon's limit of "
                            f"{self.max_bytes:,} bytes (its --max-arg-bytes or "
                            "RHCLI_MAX_ARG_BYTES); no run was made"
                        )
                    f.write(chunk)
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
