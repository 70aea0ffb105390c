"""Functions that misbehave on purpose, for the fault tests (imported on the cluster as
tests.faults.crashers)."""

from __future__ import annotations

import os
import signal
import time


def segfault():
    import ctypes

    return ctypes.string_at(0)  # reads address 0: SIGSEGV in the worker process


def ignore_sigterm_then_sleep(pid_path, seconds):
    """Ignore SIGTERM, write this worker's pid, then sleep: a run only a kill can stop."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with open(pid_path, "w") as f:
        f.write(str(os.getpid()))
    time.sleep(seconds)
    return "slept through the cancel"


def allocate_forever(step_mb=64):
    """Keep allocating (and touching) memory until something stops this process."""
    hoard = []
    while True:
        hoard.append(bytearray(step_mb * 1024 * 1024))


def print_then_sleep(lines, seconds):
    for i in range(lines):
        print(f"line {i}", flush=True)
        time.sleep(seconds)
    return lines


def sleep_then_bytes(seconds, n):
    """Sleep, then return n bytes (a result large enough to need its own file)."""
    time.sleep(seconds)
    return b"x" * n


def print_then_return_a_lock(text):
    """Print text, then return a value pickle refuses (a lock)."""
    import threading

    print(text, flush=True)
    return threading.Lock()
