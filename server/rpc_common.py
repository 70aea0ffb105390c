"""What the daemon's RPC handlers share: ending an RPC with a status, and a log record
as the protocol's LogLine."""

from __future__ import annotations

from typing import Any, NoReturn

import grpc

from rhcli.protocol import daemon_pb2 as pb


def log_line(record: dict[str, Any]) -> pb.LogLine:
    line = pb.LogLine(
        seq=record["seq"],
        stream=record["stream"],
        t=record["t"],
        text=record["text"],
        progress=bool(record.get("cr")),
    )
    if "item" in record:
        line.item = record["item"]
    return line


def abort(context: grpc.ServicerContext, code: grpc.StatusCode, details: str) -> NoReturn:
    context.abort(code, details)
    raise AssertionError("abort returns only by raising")
