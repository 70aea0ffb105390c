"""An HTTP endpoint on the two-node cluster: Ray Serve places its replicas on both nodes
(each answer names the node that served it), the head's proxy is reached through the SSH
forward, and what a replica on the worker node prints reaches the head's endpoint log."""

from __future__ import annotations

import io
import time
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
        served_by: set[str] = set()
        for x in range(60):
            status, answer = request(endpoint.url, {"x": x}, token=endpoint.token)
            assert status == 200 and answer["x"] == x
            served_by.add(answer["node"])
            if len(served_by) == 2:
                break
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
