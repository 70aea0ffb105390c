"""A small CPU job to try rhcli with: count the primes below a limit.

rhcli -f runhouse.yaml.example run count_primes 200000
"""

from __future__ import annotations

import os
import platform


def count_primes(limit: int = 100_000) -> dict[str, object]:
    """Count the primes below limit with a sieve; say where it ran."""
    if limit < 2:
        return {
            "limit": limit,
            "primes": 0,
            "largest": None,
            "host": platform.node(),
            "worker_pid": os.getpid(),
        }
    sieve = bytearray([1]) * limit
    sieve[0:2] = b"\x00\x00"
    for n in range(2, int(limit**0.5) + 1):
        if sieve[n]:
            sieve[n * n :: n] = bytes(len(range(n * n, limit, n)))
    largest = max(i for i in range(limit - 1, 1, -1) if sieve[i]) if any(sieve) else None
    return {
        "limit": limit,
        "primes": sum(sieve),
        "largest": largest,
        "host": platform.node(),
        "worker_pid": os.getpid(),
    }
