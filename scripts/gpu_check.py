"""A short check of GPU resources on a machine with an NVIDIA GPU (run it there).

    cd DIR_HOLDING_examples && python /path/to/rhcli/scripts/gpu_check.py

(not from rhcli's own checkout with a non-editable install: its `rhcli/` source folder
would shadow the installed package in the daemon's Ray workers).

Starts a private local daemon (RHCLI_HOME under /tmp), then: a call asking for one GPU
runs on a worker that sees exactly one device and multiplies matrices on it; a map of
GPU calls runs them all; a call asking for more GPUs than the machine has fails with
the reason instead of waiting forever. Prints one JSON document; exits 1 when a check
fails. The daemon is stopped at the end.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

os.environ.setdefault("RHCLI_HOME", tempfile.mkdtemp(prefix="rhcli-gpu-check-"))

import rhcli as rh  # after RHCLI_HOME is set
from rhcli import errors


def main() -> int:
    local = rh.cluster("local")
    report: dict[str, object] = {}
    failures = []
    try:
        one_gpu = rh.function("examples.gpu:gpu_probe", system=local, resources={"num_gpus": 1})
        probe = one_gpu(2048)
        report["one_gpu_call"] = probe
        if not (probe.get("matmul_ok") and probe.get("device_count") == 1):
            failures.append("a num_gpus=1 call did not see exactly one working GPU")

        mapped = one_gpu.map([256] * 4)
        report["map_of_4_gpu_calls"] = [item.get("cuda_visible_devices") for item in mapped]
        if not all(item.get("matmul_ok") for item in mapped):
            failures.append("a GPU map item did not run on a GPU")

        too_many = rh.function("examples.gpu:gpu_probe", system=local, resources={"num_gpus": 64})
        try:
            too_many(8)
            failures.append("a num_gpus=64 call ran")
        except errors.RhcliError as exc:
            report["num_gpus_64"] = f"{type(exc).__name__}: {exc}"
    finally:
        local.down()
    report["failures"] = failures
    print(json.dumps(report, indent=2))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
