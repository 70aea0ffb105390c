#!/usr/bin/env python3
"""Regenerate the gRPC stubs of rhcli/protocol/daemon.proto.

Usage: python scripts/gen_protos.py [OUT_DIR]   (default: rhcli/protocol)

The .proto is compiled from the repository root, so the generated modules import each
other as `rhcli.protocol.daemon_pb2` and the descriptor is registered under that path. A
staging copy keeps protoc away from everything else in the tree. The committed stubs must
equal this script's output (tests/protocol/test_stubs.py).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROTO = REPO / "rhcli" / "protocol" / "daemon.proto"
IMPORT_DIR = Path("rhcli") / "protocol"
GENERATED = ("daemon_pb2.py", "daemon_pb2.pyi", "daemon_pb2_grpc.py")


def generate(out_dir: Path) -> list[Path]:
    """Compile the proto and write the stubs into out_dir; returns the written paths."""
    from grpc_tools import protoc  # a dev dependency: imported only when generating

    with tempfile.TemporaryDirectory() as staging:
        stage = Path(staging)
        (stage / IMPORT_DIR).mkdir(parents=True)
        shutil.copy(PROTO, stage / IMPORT_DIR / PROTO.name)
        args = [
            "grpc_tools.protoc",
            f"-I{stage}",
            f"--python_out={stage}",
            f"--pyi_out={stage}",
            f"--grpc_python_out={stage}",
            str(IMPORT_DIR / PROTO.name),
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for name in GENERATED:
            target = out_dir / name
            shutil.copy(stage / IMPORT_DIR / name, target)
            written.append(target)
        return written


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else PROTO.parent
    for path in generate(out):
        print(path)
