"""Upload chunks written straight into the wire format are the .proto's Chunk messages."""

from __future__ import annotations

import pytest

from rhcli.protocol import daemon_pb2 as pb
from rhcli.protocol.chunks import encode_chunk, encode_chunks


@pytest.mark.parametrize("size", [0, 1, 127, 128, 300, 16_384, 1 << 20])
@pytest.mark.parametrize("total", [0, 5, 1 << 40])
def test_a_chunk_is_the_bytes_protobuf_makes(size: int, total: int) -> None:
    data = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    expected = pb.Chunk(data=data, total_size=total).SerializeToString()
    assert encode_chunk(data, total) == expected
    assert encode_chunk(memoryview(bytearray(data)), total) == expected


def test_parts_are_cut_into_chunks_with_the_total_on_the_first_only() -> None:
    parts = [b"head", bytearray(b"x" * 25), memoryview(b"tail")]
    messages = [pb.Chunk.FromString(m) for m in encode_chunks(parts, 33, chunk_bytes=10)]
    assert b"".join(m.data for m in messages) == b"head" + b"x" * 25 + b"tail"
    assert all(len(m.data) <= 10 for m in messages)
    assert [m.total_size for m in messages] == [33] + [0] * (len(messages) - 1)


def test_nothing_to_upload_is_still_one_message() -> None:
    assert [pb.Chunk.FromString(m) for m in encode_chunks([], 0, 10)] == [pb.Chunk()]


def test_the_encoder_matches_the_proto_it_writes_for() -> None:
    # encode_chunk writes Chunk's field numbers and types by hand: a change to the
    # .proto must change it too.
    fields = {f.name: (f.number, f.type) for f in pb.Chunk.DESCRIPTOR.fields}
    assert fields == {
        "data": (1, pb.Chunk.DESCRIPTOR.fields_by_name["data"].TYPE_BYTES),
        "total_size": (2, pb.Chunk.DESCRIPTOR.fields_by_name["total_size"].TYPE_INT64),
    }
    method = pb.DESCRIPTOR.services_by_name["Daemon"].methods_by_name["PutBlob"]
    assert method.input_type is pb.Chunk.DESCRIPTOR
