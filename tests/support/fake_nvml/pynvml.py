"""A stand-in for nvidia-ml-py's ``pynvml``, for tests only: no GPU can exist on the test
machines, so the GPU path is tested with NVML replaced at that one boundary.

Put this folder first on PYTHONPATH (of a daemon, say) and ``import pynvml`` finds it.
It reports the devices in $FAKE_NVML_DEVICES ("name:used_mib:total_mib:util%" joined by
","); FAKE_NVML_FAIL=init makes nvmlInit fail with an error that is not "no driver".
Only the calls rhcli makes are here, with nvidia-ml-py's names and shapes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_UNKNOWN = 999


class NVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return {NVML_ERROR_UNKNOWN: "Unknown Error"}.get(self.value, f"NVML error {self.value}")


@dataclass
class _Memory:
    total: int
    free: int
    used: int


@dataclass
class _Utilization:
    gpu: int
    memory: int


def _devices() -> list[tuple[str, int, int, int]]:
    found = []
    for spec in filter(None, os.environ.get("FAKE_NVML_DEVICES", "").split(",")):
        name, used, total, util = spec.split(":")
        found.append((name, int(used) << 20, int(total) << 20, int(util)))
    return found


def nvmlInit() -> None:
    if os.environ.get("FAKE_NVML_FAIL") == "init":
        raise NVMLError(NVML_ERROR_UNKNOWN)
    if os.environ.get("FAKE_NVML_FAIL") == "nodriver":
        raise NVMLError(NVML_ERROR_DRIVER_NOT_LOADED)


def nvmlDeviceGetCount() -> int:
    return len(_devices())


def nvmlDeviceGetHandleByIndex(index: int) -> int:
    return index


def nvmlDeviceGetName(handle: int) -> str:
    return _devices()[handle][0]


def nvmlDeviceGetMemoryInfo(handle: int) -> _Memory:
    _, used, total, _ = _devices()[handle]
    return _Memory(total=total, free=total - used, used=used)


def nvmlDeviceGetUtilizationRates(handle: int) -> _Utilization:
    return _Utilization(gpu=_devices()[handle][3], memory=0)
