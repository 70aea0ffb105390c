"""What a node uses now: CPU and memory from /proc, GPUs through NVML.

No GPU exists on the test machines: the no-GPU path runs against the real nvidia-ml-py
(it finds no driver here), and the GPU path against tests/support/fake_nvml, which
stands in for ``pynvml`` at that one boundary.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rhcli.server.node_usage import CpuMeter, Gpus, NodeSampler, read_memory

FAKE_NVML = Path(__file__).resolve().parent.parent / "support" / "fake_nvml"


@pytest.fixture
def fake_nvml(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`import pynvml` finds the stand-in while the test runs."""
    monkeypatch.syspath_prepend(str(FAKE_NVML))
    saved = sys.modules.pop("pynvml", None)
    try:
        yield
    finally:
        sys.modules.pop("pynvml", None)
        if saved is not None:
            sys.modules["pynvml"] = saved


def test_a_machine_without_a_driver_has_no_gpus_and_no_error() -> None:
    import pynvml  # the real nvidia-ml-py: no NVIDIA driver on this machine

    assert pynvml.__file__ and "fake_nvml" not in pynvml.__file__
    assert Gpus().read() == ([], "")


def test_each_gpu_is_read_through_nvml(fake_nvml: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_NVML_DEVICES", "NVIDIA H100:1024:81559:87,NVIDIA H100:0:81559:0")
    gpus, error = Gpus().read()
    assert error == ""
    assert gpus == [
        {
            "index": 0,
            "name": "NVIDIA H100",
            "utilization": 87.0,
            "memory_used": 1024 << 20,
            "memory_total": 81559 << 20,
        },
        {
            "index": 1,
            "name": "NVIDIA H100",
            "utilization": 0.0,
            "memory_used": 0,
            "memory_total": 81559 << 20,
        },
    ]


def test_no_driver_through_nvml_is_no_gpu_not_a_fault(
    fake_nvml: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NVML_FAIL", "nodriver")
    assert Gpus().read() == ([], "")


def test_an_nvml_failure_is_reported_never_taken_for_no_gpu(
    fake_nvml: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NVML_FAIL", "init")
    monkeypatch.setenv("FAKE_NVML_DEVICES", "NVIDIA A10G:0:22731:0")
    usage = NodeSampler().sample()
    assert usage.gpus == []
    assert "NVML could not start: Unknown Error" in usage.as_dict()["usage_error"]


def test_memory_is_total_less_available() -> None:
    used, total = read_memory()
    assert 0 < used < total


def test_the_cpu_meter_reports_the_last_period_and_never_blocks() -> None:
    meter = CpuMeter(period_s=0.1).start()
    assert meter.start() is meter  # idempotent: one thread
    deadline = time.monotonic() + 5
    while meter.percent() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    percent = meter.percent()
    assert percent is not None and 0.0 <= percent <= 100.0
    assert meter.error() == ""


def test_an_unreadable_proc_is_reported(tmp_path: Path) -> None:
    sampler = NodeSampler(proc=tmp_path)  # no stat, no meminfo there
    time.sleep(0.1)
    found = sampler.sample().as_dict()
    assert "cpu_percent" not in found
    assert "cannot read memory use" in found["usage_error"]
