"""Upload chunks (the .proto's `Chunk`) written straight into the wire format.

A large argument goes to the daemon as a stream of `Chunk` messages. Built as protobuf
messages, each piece was copied three times on its way out (sliced, copied into the
message, serialized); written here, it is copied once, into the bytes gRPC sends. The
bytes are exactly what `Chunk(data=..., total_size=...).SerializeToString()` makes, so
the daemon (and any client of the .proto) reads them as ordinary `Chunk` messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

# Chunk's fields, `bytes data = 1;` and `int64 total_size = 2;`, as their keys on the
# wire (field number << 3 | wire type).
_DATA_KEY = b"\x0a"  # 1, length-delimited
_TOTAL_SIZE_KEY = b"\x10"  # 2, varint


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_chunk(data: Any, total_size: int = 0) -> bytes:
    """One serialized Chunk holding data (any contiguous bytes-like). Empty data and a
    total_size of 0 are left out, as protobuf leaves out default values."""
    view = memoryview(data).cast("B")
    head = _DATA_KEY + _varint(view.nbytes) if view.nbytes else b""
    tail = _TOTAL_SIZE_KEY + _varint(total_size) if total_size else b""
    return b"".join((head, view, tail))


def encode_chunks(parts: Iterable[Any], total_size: int, chunk_bytes: int) -> Iterator[bytes]:
    """The Chunk messages that upload parts (bytes-likes, in order) as one blob of
    total_size bytes: at most chunk_bytes of data each, total_size on the first. Parts
    are cut where they lie, without joining them first."""
    first = True
    for part in parts:
        view = memoryview(part).cast("B")
        for offset in range(0, view.nbytes, chunk_bytes):
            yield encode_chunk(view[offset : offset + chunk_bytes], total_size if first else 0)
            first = False
    if first:  # nothing to send: still one message, so the blob exists (empty)
        yield encode_chunk(b"", total_size)
