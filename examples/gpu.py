"""A GPU job for rhcli's examples: what the worker that ran it could see and use.

    rhcli run gpu_probe          # with `resources: {num_gpus: 1}` in runhouse.yaml

torch is imported inside the function, so the module imports on a machine without it.
"""

from __future__ import annotations

import os
import socket
from typing import Any


def gpu_probe(size: int = 4096) -> dict[str, Any]:
    """Multiply two size x size matrices on the GPU Ray gave this call; say which one."""
    import torch

    found: dict[str, Any] = {
        "host": socket.gethostname(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "cuda_available": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        device = torch.device("cuda", 0)
        a = torch.randn(size, size, device=device)
        b = torch.randn(size, size, device=device)
        checksum = float((a @ b).abs().sum().item())
        torch.cuda.synchronize()
        found.update(
            device_name=torch.cuda.get_device_name(device),
            device_count=torch.cuda.device_count(),
            matmul_ok=checksum > 0,
        )
    return found
