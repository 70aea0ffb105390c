"""The same step on several hosts at once (bootstrap, Ray joins, syncs, installs)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def run_parallel(jobs: list[Callable[[], T]]) -> list[T]:
    """Run jobs on one thread each; their results in order. Every job runs to its end;
    then the first error (in job order) is raised."""
    if len(jobs) <= 1:
        return [job() for job in jobs]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = [pool.submit(job) for job in jobs]
        return [f.result() for f in futures]
