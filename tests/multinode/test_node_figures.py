"""What each node of a two-host cluster uses, and what runs where: the head sampled by the
daemon, the other node by its probe actor; map items carry the worker that ran them."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from rhcli.function_ref import from_entrypoint
from rhcli.functions import Function
from rhcli.runs_api import map_items
from tests.multinode.conftest import Nodes


def test_status_has_each_nodes_use_the_worker_node_through_its_probe(nodes: Nodes) -> None:
    deadline = time.monotonic() + 30
    found = nodes.cluster.status().nodes
    while any(n["cpu_percent"] is None for n in found) and time.monotonic() < deadline:
        time.sleep(0.5)  # a new probe measures its first second
        found = nodes.cluster.status().nodes
    assert {n["address"] for n in found} == {nodes.head.address, nodes.worker.address}
    for node in found:
        assert node["usage_error"] == "", node
        assert node["cpu_percent"] is not None and 0 <= node["cpu_percent"] <= 100
        assert 0 < node["memory_used"] < node["memory_total"]
        assert node["gpus"] == []  # no GPU here, and no error for it


def test_runs_are_listed_on_the_nodes_they_run_on_and_items_name_their_worker(
    nodes: Nodes, project: Path
) -> None:
    fn = Function(from_entrypoint("tasks:where", root=project), system=nodes.cluster)
    results: list[Any] = []
    mapping = threading.Thread(target=lambda: results.extend(fn.map(range(12), delay=1.0)))
    mapping.start()
    try:
        deadline = time.monotonic() + 60
        seen: dict[str, list[str]] = {}
        while time.monotonic() < deadline:
            seen = {n["address"]: n["runs"] for n in nodes.cluster.nodes()}
            if fn.last_map_id and all(fn.last_map_id in runs for runs in seen.values()):
                break
            time.sleep(0.3)
        assert all(fn.last_map_id in runs for runs in seen.values()), seen
    finally:
        mapping.join(120)
    assert len(results) == 12
    items = map_items(fn.last_map_id, cluster=nodes.cluster)
    workers = {item.worker for item in items}
    assert {w.rsplit(":", 1)[0] for w in workers} == {nodes.head.address, nodes.worker.address}
    assert all(w.rsplit(":", 1)[1].isdigit() for w in workers)
