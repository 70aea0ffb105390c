"""What one machine uses now: CPU, memory, and each NVIDIA GPU (through NVML).

Read on the node itself: by the daemon for its own node, by a probe actor on each other
node of a multi-node cluster (rhcli.server.node_view). Linux only, as the daemon is:
CPU from /proc/stat (a background thread keeps the last second's figure, so a reader
never waits), memory from /proc/meminfo, GPUs from NVML (``pynvml``, the nvidia-ml-py
package) when the machine has a driver.

A machine without an NVIDIA driver reports no GPUs and no error: that is the normal
case, not a fault. Any other NVML failure is reported (``usage_error``), never turned
into "no GPUs".
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CPU_PERIOD_S = 1.0
_FIRST_PERIOD_S = 0.2
_PROC = Path("/proc")


@dataclass
class Usage:
    """One sample of a node. cpu_percent is None when it could not be read."""

    cpu_percent: float | None = None
    memory_used: int = 0
    memory_total: int = 0
    gpus: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain values, for a Ray reply or a NodeInfo message's fields."""
        found: dict[str, Any] = {
            "memory_used": self.memory_used,
            "memory_total": self.memory_total,
            "gpus": list(self.gpus),
            "usage_error": "; ".join(self.errors),
        }
        if self.cpu_percent is not None:
            found["cpu_percent"] = self.cpu_percent
        return found


def _cpu_times(proc: Path) -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from the first line of /proc/stat."""
    fields = (proc / "stat").read_text().split("\n", 1)[0].split()
    values = [int(v) for v in fields[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


def read_memory(proc: Path = _PROC) -> tuple[int, int]:
    """(used, total) bytes: used is MemTotal less MemAvailable (what the kernel could
    not hand out without swapping)."""
    found: dict[str, int] = {}
    for line in (proc / "meminfo").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("MemTotal", "MemAvailable"):
            found[name] = int(rest.split()[0]) * 1024
    total = found["MemTotal"]
    return total - found.get("MemAvailable", 0), total


class CpuMeter:
    """The CPU use of the whole machine over the last period, kept fresh by a thread.

    start() is idempotent; percent() never blocks and is None until the first period
    has passed, or when /proc/stat cannot be read (error() says why).
    """

    def __init__(self, *, period_s: float = CPU_PERIOD_S, proc: Path = _PROC) -> None:
        self._period_s = period_s
        self._proc = proc
        self._percent: float | None = None
        self._error = ""
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> CpuMeter:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._measure, name="cpu", daemon=True)
                self._thread.start()
        return self

    def percent(self) -> float | None:
        return self._percent

    def error(self) -> str:
        return self._error

    def _measure(self) -> None:
        last: tuple[int, int] | None = None
        first = True
        while True:
            try:
                now = _cpu_times(self._proc)
            except (OSError, ValueError, IndexError) as exc:
                self._percent, self._error = None, f"cannot read CPU use: {exc}"
                last, first = None, False
            else:
                if last is not None and now[1] > last[1]:
                    busy, total = now[0] - last[0], now[1] - last[1]
                    self._percent = round(100.0 * busy / total, 1)
                    self._error = ""
                first = last is None
                last = now
            # The first figure after a short wait, so a daemon that just started has one.
            time.sleep(min(_FIRST_PERIOD_S, self._period_s) if first else self._period_s)


class Gpus:
    """NVIDIA devices through NVML, initialised once per process on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nvml: Any = None
        self._absent = False  # no driver here: no GPUs, and no error

    def read(self) -> tuple[list[dict[str, Any]], str]:
        """(one dict per device, "" or why they could not be read)."""
        with self._lock:
            nvml = self._load()
            if nvml is None:
                return [], ""
            try:
                return [self._device(nvml, i) for i in range(nvml.nvmlDeviceGetCount())], ""
            except nvml.NVMLError as exc:
                return [], f"NVML: {exc}"

    def _load(self) -> Any:
        if self._absent or self._nvml is not None:
            return self._nvml
        try:
            import pynvml  # type: ignore[import-untyped]
        except ImportError:  # a dependency of rhcli: only a broken install lacks it
            log.warning("nvidia-ml-py is not installed: GPU figures are not read")
            self._absent = True
            return None
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            if _means_no_gpu(pynvml, exc):
                self._absent = True
                return None
            raise RuntimeError(f"NVML could not start: {exc}") from exc
        self._nvml = pynvml
        return pynvml

    @staticmethod
    def _device(nvml: Any, index: int) -> dict[str, Any]:
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        name = nvml.nvmlDeviceGetName(handle)
        memory = nvml.nvmlDeviceGetMemoryInfo(handle)
        return {
            "index": index,
            "name": name.decode() if isinstance(name, bytes) else str(name),
            "utilization": float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu),
            "memory_used": int(memory.used),
            "memory_total": int(memory.total),
        }


def _means_no_gpu(nvml: Any, exc: Exception) -> bool:
    """Whether an nvmlInit failure says "this machine has no NVIDIA driver"."""
    absent = [
        getattr(nvml, name, None)
        for name in ("NVML_ERROR_LIBRARY_NOT_FOUND", "NVML_ERROR_DRIVER_NOT_LOADED")
    ]
    return getattr(exc, "value", None) in [code for code in absent if code is not None]


class NodeSampler:
    """Samples this machine: one per process (the daemon, or a probe actor)."""

    def __init__(self, *, proc: Path = _PROC) -> None:
        self._proc = proc
        self.cpu = CpuMeter(proc=proc).start()
        self.gpus = Gpus()

    def sample(self) -> Usage:
        """The figures now; never raises (what could not be read is in errors)."""
        usage = Usage(cpu_percent=self.cpu.percent())
        if self.cpu.error():
            usage.errors.append(self.cpu.error())
        try:
            usage.memory_used, usage.memory_total = read_memory(self._proc)
        except (OSError, KeyError, ValueError, IndexError) as exc:
            usage.errors.append(f"cannot read memory use: {exc}")
        try:
            usage.gpus, gpu_error = self.gpus.read()
        except RuntimeError as exc:
            gpu_error = str(exc)
        if gpu_error:
            usage.errors.append(gpu_error)
        return usage
