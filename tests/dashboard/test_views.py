"""What the pages show, from the library's values: pure functions, no browser."""

from __future__ import annotations

from rhcli.dashboard import views
from rhcli.runs_api import RunInfo


def _run(run_id: str, status: str = "succeeded", **fields: object) -> RunInfo:
    base: dict[str, object] = {
        "run_id": run_id,
        "function": "f",
        "status": status,
        "failure": "",
        "reason": "",
        "created_at": 100.0,
        "started_at": 100.0,
        "ended_at": None if status in ("queued", "running") else 101.0,
        "parent": None,
        "items": 0,
        "items_failed": 0,
    }
    base.update(fields)
    return RunInfo(**base)  # type: ignore[arg-type]


def _item(index: int, status: str, worker: str = "10.0.0.1:7", end: float = 101.0) -> RunInfo:
    return _run(f"m.{index}", status, parent="m", worker=worker, ended_at=end, started_at=end - 1)


def test_the_grid_has_one_code_per_item_and_unended_ones_are_running() -> None:
    state = views.map_state(
        _run("m", "running", items=5),
        [_item(0, "succeeded"), _item(2, "failed"), _item(4, "timed_out")],
        cluster="local",
    )
    assert state["grid"] == "srfrt"
    assert state["total"] == 5 and state["done"] == 3
    assert state["counts"]["running"] == 2 and state["counts"]["failed"] == 1


def test_failed_items_are_listed_in_index_order_with_their_reasons() -> None:
    items = [_item(i, "failed") for i in (9, 3)] + [_item(1, "succeeded")]
    items = [RunInfo(**{**vars(item), "reason": f"item {item.run_id} broke"}) for item in items]
    state = views.map_state(_run("m", "failed", items=10), items, cluster="local")
    assert [(f["index"], f["reason"]) for f in state["failed"]] == [
        (3, "item m.3 broke"),
        (9, "item m.9 broke"),
    ]
    assert state["failed_total"] == 2


def test_the_timeline_has_a_lane_per_worker_and_skips_unplaced_items() -> None:
    items = [
        _item(0, "succeeded", "10.0.0.1:7", 101.0),
        _item(1, "failed", "10.0.0.2:9", 102.0),
        _item(2, "succeeded", "10.0.0.1:7", 103.0),
        _item(3, "cancelled", "", 104.0),
    ]
    lanes = views.timeline(items)
    assert [(lane["worker"], lane["node"], len(lane["spans"])) for lane in lanes] == [
        ("10.0.0.1:7", "10.0.0.1", 2),
        ("10.0.0.2:9", "10.0.0.2", 1),
    ]
    assert lanes[1]["spans"] == [[101.0, 102.0, "f", 1]]


def test_throughput_counts_items_per_second() -> None:
    items = [_item(i, "succeeded", end=100.0 + i / 2) for i in range(10)]
    found = views.throughput(items)
    assert sum(rate * 1.0 for rate in found["rate"]) == 10  # 1 s buckets
    assert found["t"][0] == 100.0


def test_a_map_items_log_is_its_maps_log_for_that_item() -> None:
    assert views.log_target("m.17", "m") == ("m", 17)
    assert views.log_target("r", None) == ("r", None)


def test_commands_quote_what_they_paste() -> None:
    run = _run("f-1", "running", function="f")
    found = views.run_commands(run, cluster="my box")
    assert found["get"] == "rhcli -c 'my box' get f-1"
    assert found["cancel"] == "rhcli -c 'my box' cancel f-1"
    assert "resume" not in found
    ended_map = _run("m", "failed", items=3)
    assert "--resume m" in views.run_commands(ended_map, cluster="local")["resume"]
    assert "cancel" not in views.run_commands(ended_map, cluster="local")
