"""The names runs' statuses go by for people and JSON (the same on both ends)."""

from __future__ import annotations

from rhcli.protocol import daemon_pb2 as pb

STATUS_NAMES: dict[int, str] = {
    pb.QUEUED: "queued",
    pb.RUNNING: "running",
    pb.SUCCEEDED: "succeeded",
    pb.FAILED: "failed",
    pb.CANCELLED: "cancelled",
    pb.TIMED_OUT: "timed_out",
}
