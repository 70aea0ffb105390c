"""WorkerPool's ledger: reuse warm workers, make room by stopping idle ones, wait when busy.

A unit test of the bookkeeping: workers are plain strings made by a fake create/kill, and the
cluster's capacity is a dict the test controls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

import pytest

from rhcli.server.pool import PoolKey, Slot, Unsatisfiable, WorkerPool, shape_of

CPU1 = shape_of({"CPU": 1})
A = PoolKey("/code/a", CPU1)
B = PoolKey("/code/b", CPU1)


class FakeCluster:
    """Records what the pool creates and kills; capacity is whatever the test sets."""

    def __init__(self, **capacity: float) -> None:
        self.capacity: dict[str, float] = dict(capacity)
        self.created: list[str] = []
        self.killed: list[str] = []
        self.fail_next_create = False

    def create(self, key: PoolKey) -> str:
        if self.fail_next_create:
            self.fail_next_create = False
            raise RuntimeError("actor failed to start")
        handle = f"{key.code_root}#{len(self.created) + 1}"
        self.created.append(handle)
        return handle

    def kill(self, handle: str) -> None:
        self.killed.append(handle)

    def total(self) -> Mapping[str, float]:
        return self.capacity

    def pool(self) -> WorkerPool:
        return WorkerPool(create=self.create, kill=self.kill, capacity=self.total)


def _in_thread(
    pool: WorkerPool, key: PoolKey
) -> tuple[threading.Thread, list[Slot | BaseException]]:
    got: list[Slot | BaseException] = []

    def acquire() -> None:
        try:
            got.append(pool.acquire(key))
        except BaseException as exc:
            got.append(exc)

    thread = threading.Thread(target=acquire, daemon=True)
    thread.start()
    return thread, got


def test_shape_of_sorts_resources_and_drops_zero_amounts() -> None:
    assert shape_of({"GPU": 1, "CPU": 2, "memory": 0}) == (("CPU", 2.0), ("GPU", 1.0))


def test_the_first_call_of_a_pool_creates_a_worker() -> None:
    cluster = FakeCluster(CPU=2)
    pool = cluster.pool()
    slot = pool.acquire(A)
    assert slot.handle == "/code/a#1"
    assert slot.key == A
    assert pool.size == 1


def test_a_released_worker_is_reused_by_the_next_call_of_its_pool() -> None:
    cluster = FakeCluster(CPU=2)
    pool = cluster.pool()
    first = pool.acquire(A)
    pool.release(first)
    assert pool.acquire(A) is first
    assert cluster.created == ["/code/a#1"]
    assert cluster.killed == []


def test_a_busy_worker_is_not_handed_out_twice() -> None:
    cluster = FakeCluster(CPU=2)
    pool = cluster.pool()
    first, second = pool.acquire(A), pool.acquire(A)
    assert first is not second
    assert cluster.created == ["/code/a#1", "/code/a#2"]


def test_an_idle_worker_of_another_pool_is_not_reused() -> None:
    cluster = FakeCluster(CPU=2)
    pool = cluster.pool()
    pool.release(pool.acquire(A))
    assert pool.acquire(B).handle == "/code/b#2"


def test_pools_differ_by_resource_shape_as_well_as_code_root() -> None:
    cluster = FakeCluster(CPU=4, GPU=1)
    pool = cluster.pool()
    pool.release(pool.acquire(A))
    gpu = pool.acquire(PoolKey("/code/a", shape_of({"CPU": 1, "GPU": 1})))
    assert gpu.handle == "/code/a#2"
    assert cluster.killed == []  # there was room: nothing stopped


def test_a_full_cluster_stops_the_least_recently_used_idle_worker_of_another_pool() -> None:
    cluster = FakeCluster(CPU=2)
    pool = cluster.pool()
    older, newer = pool.acquire(A), pool.acquire(A)
    pool.release(older)
    time.sleep(0.01)  # last_used is monotonic time: make the order unambiguous
    pool.release(newer)

    slot = pool.acquire(B)

    assert cluster.killed == [older.handle]
    assert slot.handle == "/code/b#3"
    assert pool.size == 2
    assert pool.acquire(A) is newer  # the more recently used one is still warm


def test_a_stopped_idle_worker_is_never_handed_out_again() -> None:
    cluster = FakeCluster(CPU=1)
    pool = cluster.pool()
    a = pool.acquire(A)
    pool.release(a)
    b = pool.acquire(B)  # stops a
    pool.release(b)
    again = pool.acquire(A)  # stops b, makes a new one for A
    assert again is not a
    assert cluster.killed == [a.handle, b.handle]
    assert cluster.created == ["/code/a#1", "/code/b#2", "/code/a#3"]


def test_a_call_waits_while_every_worker_is_busy_and_gets_the_first_one_released() -> None:
    cluster = FakeCluster(CPU=1)
    pool = cluster.pool()
    busy = pool.acquire(A)
    thread, got = _in_thread(pool, A)
    thread.join(timeout=0.3)
    assert thread.is_alive() and got == []  # waiting, not refused

    pool.release(busy)
    thread.join(timeout=5)
    assert got == [busy]
    assert cluster.created == ["/code/a#1"]


def test_a_call_of_another_pool_waits_for_a_busy_worker_then_replaces_it() -> None:
    cluster = FakeCluster(CPU=1)
    pool = cluster.pool()
    busy = pool.acquire(A)
    thread, got = _in_thread(pool, B)
    thread.join(timeout=0.3)
    assert thread.is_alive() and got == []

    pool.release(busy)
    thread.join(timeout=5)
    assert len(got) == 1 and isinstance(got[0], Slot)
    assert got[0].key == B
    assert cluster.killed == [busy.handle]


def test_a_discarded_worker_is_stopped_and_frees_its_room() -> None:
    cluster = FakeCluster(CPU=1)
    pool = cluster.pool()
    slot = pool.acquire(A)
    thread, got = _in_thread(pool, A)
    pool.discard(slot)
    thread.join(timeout=5)
    assert cluster.killed == [slot.handle]
    assert len(got) == 1 and isinstance(got[0], Slot) and got[0] is not slot
    assert pool.size == 1


def test_a_request_larger_than_the_whole_cluster_is_unsatisfiable() -> None:
    cluster = FakeCluster(CPU=2)
    pool = cluster.pool()
    with pytest.raises(Unsatisfiable) as caught:
        pool.acquire(PoolKey("/code/a", shape_of({"CPU": 4})))
    assert str(caught.value) == "the call needs CPU=4 but the whole cluster has CPU=2"
    assert cluster.created == []


def test_a_gpu_request_on_a_cluster_without_gpus_is_unsatisfiable() -> None:
    pool = FakeCluster(CPU=2).pool()
    with pytest.raises(
        Unsatisfiable, match="needs CPU=1, GPU=1 but the whole cluster has CPU=2, GPU=0"
    ):
        pool.acquire(PoolKey("/code/a", shape_of({"CPU": 1, "GPU": 1})))


def test_an_unsatisfiable_request_is_refused_at_once_while_other_workers_are_busy() -> None:
    cluster = FakeCluster(CPU=2)
    pool = cluster.pool()
    pool.acquire(A)  # a long call holds a worker
    idle = pool.acquire(B)
    pool.release(idle)

    thread, got = _in_thread(pool, PoolKey("/code/a", shape_of({"CPU": 1, "GPU": 1})))
    thread.join(timeout=2)

    assert not thread.is_alive(), "waited for busy workers instead of refusing at once"
    assert len(got) == 1 and isinstance(got[0], Unsatisfiable)
    assert cluster.killed == []  # and stopped no idle worker for nothing


def test_a_failed_create_gives_its_room_back() -> None:
    cluster = FakeCluster(CPU=1)
    pool = cluster.pool()
    cluster.fail_next_create = True
    with pytest.raises(RuntimeError, match="actor failed to start"):
        pool.acquire(A)
    assert pool.size == 0
    assert pool.acquire(A).handle == "/code/a#1"


def test_reset_stops_idle_workers_at_once() -> None:
    cluster = FakeCluster(CPU=2)
    pool = cluster.pool()
    idle = pool.acquire(A)
    pool.release(idle)
    pool.reset()
    assert cluster.killed == [idle.handle]
    assert pool.size == 0
    assert pool.acquire(A) is not idle


def test_reset_stops_busy_workers_when_they_are_released() -> None:
    cluster = FakeCluster(CPU=2)
    pool = cluster.pool()
    busy = pool.acquire(A)
    pool.reset()
    assert cluster.killed == []  # its call goes on

    pool.release(busy)

    assert cluster.killed == [busy.handle]
    fresh = pool.acquire(A)
    assert fresh is not busy
    assert cluster.created == ["/code/a#1", "/code/a#2"]
