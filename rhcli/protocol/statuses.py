"""The names statuses and failure kinds go by for people and JSON (the same on both ends)."""

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
STATUS_VALUES: dict[str, int] = {name: value for value, name in STATUS_NAMES.items()}

# "" for no failure; otherwise the enum's name in lower case ("raised", "worker_died").
FAILURE_NAMES: dict[int, str] = {
    value: ("" if value == pb.FAILURE_KIND_UNSPECIFIED else name.lower())
    for name, value in pb.FailureKind.items()
}


def status_name(value: int) -> str:
    return STATUS_NAMES.get(value, "unknown")


def failure_name(value: int) -> str:
    return FAILURE_NAMES.get(value, "internal")
