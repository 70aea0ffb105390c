"""The functions the benchmarks run on the cluster (imported there by reference, as
``benchmarks.workload:NAME``, from the repository root)."""

from __future__ import annotations

import time


def add(a: int, b: int) -> int:
    """The trivial function of every latency case."""
    return a + b


def blob(size: int) -> bytes:
    """A result of size bytes."""
    return b"x" * size


def size(data: bytes) -> int:
    """Takes a large argument, returns a small result."""
    return len(data)


def ticks(count: int, interval_s: float) -> int:
    """Prints count lines, each carrying the time it was printed (for log latency)."""
    for _ in range(count):
        print(f"tick {time.time():.6f}", flush=True)
        time.sleep(interval_s)
    return count


def flaky_add(a: int, b: int, fixed: str) -> int:
    """add, but every 10th item fails until the file `fixed` exists (a resume's work)."""
    import os

    if a % 10 == 0 and not os.path.exists(fixed):
        raise ValueError(f"item {a} is not ready")
    return a + b
