"""500 MB each way: arguments and results travel in chunks, and the daemon's memory stays
within a small multiple of the payload.

A private daemon (its own root) keeps the measurement clean and keeps the session's daemon
small. Its peak memory is read from /proc: VmHWM, reset before each transfer.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import rhcli as rh
from rhcli.clusters.local import LocalCluster
from tests.conftest import processes_of_root
from tests.fixtures import funcs

PAYLOAD = 500 * 1000 * 1000
MB = 1000 * 1000


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    home = tmp_path_factory.mktemp("large-home")
    cluster = LocalCluster("large", home=home)
    cluster.up()
    rh.function(funcs.length, system=cluster)(b"warm")  # a warm worker: not measured
    yield cluster
    cluster.down()
    deadline = time.monotonic() + 20
    while (left := processes_of_root(home)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in left:  # stopped, so none outlives the test, then reported
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes left behind by the daemon: {left}"


class PeakMemory:
    """The daemon's resident memory before a transfer and its peak during it (the whole
    process: its Python heap and the Ray object-store pages it maps)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        self.before = self._read("VmRSS")
        self.peak = 0

    def __enter__(self) -> PeakMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak = self._read("VmHWM")

    @property
    def growth(self) -> int:
        return self.peak - self.before

    def _read(self, field: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no {field} in /proc/{self.pid}/status")

    def report(self, what: str, seconds: float) -> str:
        return (
            f"{what}: {seconds:.1f} s; daemon RSS {self.before / MB:.0f} MB before, "
            f"peak {self.peak / MB:.0f} MB ({self.peak / PAYLOAD:.2f}x the payload; "
            f"+{self.growth / MB:.0f} MB during the transfer)"
        )


def test_a_500_mb_argument_travels_in_chunks_within_bounded_daemon_memory(big) -> None:
    data = b"a" * PAYLOAD
    length = rh.function(funcs.length, system=big)
    with PeakMemory(big.daemon.state().pid) as memory:
        started = time.monotonic()
        assert length(data) == PAYLOAD  # no gRPC message-size error on the way
        elapsed = time.monotonic() - started
    print("\n" + memory.report("500 MB argument", elapsed))
    assert memory.peak < 3 * PAYLOAD, memory.report("500 MB argument", elapsed)


def test_a_500_mb_result_travels_in_chunks_within_bounded_daemon_memory(big) -> None:
    make_bytes = rh.function(funcs.make_bytes, system=big)
    with PeakMemory(big.daemon.state().pid) as memory:
        started = time.monotonic()
        result = make_bytes(PAYLOAD)
        elapsed = time.monotonic() - started
    print("\n" + memory.report("500 MB result", elapsed))
    assert type(result) is bytes
    assert len(result) == PAYLOAD
    assert result.count(b"x") == PAYLOAD
    del result
    assert memory.peak < 3 * PAYLOAD, memory.report("500 MB result", elapsed)


def test_an_argument_over_the_inline_limit_arrives_whole(local: Any) -> None:
    # Uploaded as a blob, mapped from its file by the daemon, handed to Ray (as a numpy
    # view where numpy is installed): every byte must arrive, in order.
    from rhcli.protocol.wire import INLINE_ARGS_LIMIT

    data = bytes(range(256)) * (INLINE_ARGS_LIMIT // 256 + 4096)
    assert rh.function(funcs.echo, system=local)(data) == {"args": [data], "kwargs": {}}
