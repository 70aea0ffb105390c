"""rhcli from Python: call a repository function on the local cluster.

python examples/quickstart.py
"""

from __future__ import annotations

import rhcli as rh
from examples.primes import count_primes


def square(x: int) -> int:
    return x * x


if __name__ == "__main__":  # the cluster imports this file: keep calls under the guard
    primes = rh.function(count_primes, system="local")
    print(primes(50_000))
    print(rh.function(square, system=rh.here)(12))  # a __main__ function, by reference
    print(rh.function(lambda s: s.upper())("by value"))  # a lambda travels by value
