"""The committed gRPC stubs are exactly what scripts/gen_protos.py makes of the .proto."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("gen_protos", REPO / "scripts" / "gen_protos.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_stubs_match_the_proto(tmp_path: Path) -> None:
    generator = _generator()
    for fresh in generator.generate(tmp_path):
        committed = REPO / "rhcli" / "protocol" / fresh.name
        assert committed.read_bytes() == fresh.read_bytes(), (
            f"{committed.relative_to(REPO)} is stale: run `python scripts/gen_protos.py`"
        )


def test_stubs_import_under_the_installed_name() -> None:
    from rhcli.protocol import daemon_pb2, daemon_pb2_grpc

    assert daemon_pb2.DESCRIPTOR.name == "rhcli/protocol/daemon.proto"
    assert hasattr(daemon_pb2_grpc, "DaemonStub")
