"""An HTTP endpoint on the two-node cluster: Ray Serve places its replicas on both nodes
(each answer names the node that served it), the head's proxy is reached through the SSH
forward, and what a replica on the worker node prints reaches the head's endpoint log.

Serve's proxy (on the head) prefers a replica on its own node while that one has room,
so requests one at a time all go to the head's replica; concurrent slow requests fill it
(Serve gives a replica at most 5 at once) and the rest go to the other node's."""

from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rhcli.endpoint_api import print_endpoint_log
from rhcli.function_ref import from_entrypoint
from rhcli.functions import Function
from rhcli.log_follower import LogPrinter
from tests.multinode.conftest import FIGURES, Nodes
from tests.support.http import answers, request


def test_two_replicas_land_on_two_nodes_and_each_answer_names_its_node(
    nodes: Nodes, project: Path
) -> None:
    fn = Function(from_entrypoint("tasks:where", root=project), system=nodes.cluster)
    started = time.monotonic()
    endpoint = fn.serve(replicas=2, resources={"num_cpus": 0.5})
    FIGURES["serve 2 replicas over 2 nodes (Serve installed)"] = (
        f"{time.monotonic() - started:.1f} s"
    )
    try:
        assert endpoint.replicas_running == 2
        assert endpoint.url.startswith("http://127.0.0.1:")  # the head's proxy, forwarded
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers_ = list(
                pool.map(
                    lambda x: request(endpoint.url, {"x": x, "delay": 1.0}, token=endpoint.token),
                    range(16),
                )
            )
        assert all(status == 200 for status, _ in answers_), answers_
        assert sorted(answer["x"] for _, answer in answers_) == list(range(16))
        served_by = {answer["node"] for _, answer in answers_}
        all_nodes = {n["node_id"] for n in nodes.cluster.status().nodes if n["alive"]}
        assert served_by == all_nodes, f"replicas answered from {served_by} only"
        out = io.StringIO()
        print_endpoint_log(
            "where", cluster=nodes.cluster, printer=LogPrinter(out=out), follow=False
        )
        for node in all_nodes:  # the worker node's lines travelled to the head's log
            assert f" on {node}" in out.getvalue()
        assert not (nodes.roots[1] / "runs").exists()
    finally:
        assert endpoint.unserve() is True
    assert not answers(endpoint.url)
