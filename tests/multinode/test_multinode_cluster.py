"""One Ray cluster over two hosts (network namespaces with their own sshd): bootstrap,
token, maps spread over both nodes, logs of the worker node in the head's run log, a
worker node lost mid-map, status, and `up` bringing it back."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import grpc

from rhcli.errors import UnknownRunError
from rhcli.function_ref import from_entrypoint
from rhcli.functions import Function
from tests.multinode.conftest import FIGURES, USERS_RAY_TOKEN, Nodes
from tests.support.ray_ports import gcs_nodes


def _fn(nodes: Nodes, project: Path, **options: Any) -> Function:
    return Function(from_entrypoint("tasks:where", root=project), system=nodes.cluster, **options)


def _log_lines(nodes: Nodes, run_id: str) -> list[str]:
    """The run's log lines so far; none while the daemon has not recorded the run yet (a
    map's id is known here a moment before its stream reaches the daemon)."""
    lines = []
    try:
        for batch in nodes.cluster.client().logs(run_id, follow=False):
            lines += [line.text for line in batch.lines]
    except UnknownRunError:
        return []
    return lines


def _head_node_id(nodes: Nodes) -> str:
    return next(n["node_id"] for n in nodes.cluster.status().nodes if n["head"])


def test_up_bootstraps_every_node_in_its_own_root_with_the_ray_token_in_a_0600_file(
    nodes: Nodes,
) -> None:
    head_root, worker_root = nodes.roots
    for root in nodes.roots:
        assert (root / "venv" / "bin" / "python").is_file()
        assert (root / "ray_token").stat().st_mode & 0o777 == 0o600
    token = (head_root / "ray_token").read_bytes()
    assert len(token) >= 32 and (worker_root / "ray_token").read_bytes() == token
    # The daemon runs on the head only; the token is on no command line of either node.
    assert (head_root / "daemon.json").is_file() and not (worker_root / "daemon.json").exists()
    for ns in (nodes.head, nodes.worker):
        for pid in ns.pids():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            assert token not in cmdline, f"the Ray token is on the command line of {pid}"


def test_the_heads_gcs_refuses_a_client_without_the_token_though_the_hosts_env_disables_auth(
    nodes: Nodes,
) -> None:
    head_root = nodes.roots[0]
    address = json.loads((head_root / "ray_node.json").read_text())["address"]
    token = (head_root / "ray_token").read_text().strip()
    for wrong in (None, USERS_RAY_TOKEN):
        refused = gcs_nodes(address, wrong)
        assert isinstance(refused, grpc.RpcError), f"the head's GCS answered with {wrong!r}"
        assert refused.code() == grpc.StatusCode.UNAUTHENTICATED
    answered = gcs_nodes(address, token)
    assert len(answered.node_info_list) >= 2  # both nodes: the token is the cluster's


def test_status_lists_each_node_with_its_address_resources_and_liveness(nodes: Nodes) -> None:
    found = nodes.cluster.status()
    assert found.up
    by_address = {n["address"]: n for n in found.nodes}
    assert set(by_address) == {nodes.head.address, nodes.worker.address}
    assert by_address[nodes.head.address]["head"] and not by_address[nodes.worker.address]["head"]
    assert all(n["alive"] and n["resources"]["CPU"] >= 1 for n in found.nodes)
    assert found.resources["CPU"] == sum(n["resources"]["CPU"] for n in found.nodes)


def test_a_map_runs_on_both_nodes_each_in_its_own_copy_and_logs_reach_the_heads_run_log(
    nodes: Nodes, project: Path
) -> None:
    fn = _fn(nodes, project)
    started = time.monotonic()
    results = fn.map(range(16), delay=0.3)
    FIGURES["16-item map of 0.3 s sleeps over 2 nodes"] = f"{time.monotonic() - started:.2f} s"
    assert [r["x"] for r in results] == list(range(16))
    by_node = {r["node"] for r in results}
    assert len(by_node) == 2, f"every item ran on one node: {by_node}"
    head_id = _head_node_id(nodes)
    # Each node imported the code from its own copy, under its own root.
    for r in results:
        root = nodes.roots[0] if r["node"] == head_id else nodes.roots[1]
        assert r["cwd"].startswith(str(root / "work")), r
    lines = _log_lines(nodes, fn.last_map_id)
    for r in results:
        assert f"item {r['x']} on {r['node']}" in lines
    # The worker wrote nothing on its own disk: its records travelled to the head.
    assert not (nodes.roots[1] / "runs").exists()


def test_a_function_asking_for_a_whole_node_gets_one_worker_on_each_node(
    nodes: Nodes, project: Path
) -> None:
    per_node = min(n["resources"]["CPU"] for n in nodes.cluster.status().nodes)
    fn = _fn(nodes, project, resources={"num_cpus": per_node})
    results = fn.map(range(6), delay=0.5)
    assert len({r["node"] for r in results}) == 2


def test_losing_the_worker_node_mid_map_reruns_its_items_and_up_brings_it_back(
    nodes: Nodes, project: Path
) -> None:
    fn = _fn(nodes, project)
    worker_address = nodes.worker.address
    outcome: dict[str, Any] = {}

    def run_map() -> None:
        try:
            outcome["results"] = fn.map(range(24), delay=1.0)
        except BaseException as exc:
            outcome["error"] = exc

    mapping = threading.Thread(target=run_map)
    mapping.start()
    head_id = _head_node_id(nodes)
    # Wait until the worker node has printed a line of this map, then kill that "host":
    # its Ray processes and its sshd, every process in its namespace.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        map_id = getattr(fn, "last_map_id", None)
        if map_id and any(
            line.startswith("item ") and not line.endswith(head_id)
            for line in _log_lines(nodes, map_id)
        ):
            break
        time.sleep(0.2)
    else:
        raise AssertionError("no item of the map ran on the worker node")
    killed_at = time.monotonic()
    nodes.sshds[1].process.kill()
    nodes.worker.kill_all()
    mapping.join(timeout=120)
    assert not mapping.is_alive(), "the map did not complete after the node was lost"
    assert "error" not in outcome, outcome.get("error")
    results = outcome["results"]
    assert [r["x"] for r in results] == list(range(24))
    FIGURES["map completion after losing a node"] = f"{time.monotonic() - killed_at:.1f} s"

    lost_deadline = time.monotonic() + 60
    while time.monotonic() < lost_deadline:
        worker = [n for n in nodes.cluster.status().nodes if n["address"] == worker_address]
        if worker and not any(n["alive"] for n in worker):
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"status does not show {worker_address} as lost: {worker}")

    # Calls go on, on the node that is left.
    assert fn(99)["node"] == head_id

    # The host comes back (its sshd, no Ray): `up` joins it again, and maps use it.
    nodes.sshds[1].start_again()
    nodes.cluster.up()
    alive = [n for n in nodes.cluster.status().nodes if n["alive"]]
    assert {n["address"] for n in alive} == {nodes.head.address, worker_address}
    again = fn.map(range(8), delay=0.3)
    assert len({r["node"] for r in again}) == 2
    json.dumps(FIGURES)


def test_lines_a_worker_node_cannot_forward_are_kept_there_and_noted_in_the_runs_log(
    nodes: Nodes, project: Path
) -> None:
    """The head's log writer is killed (by the function itself, on the worker node): the
    worker's lines that could not reach the run's log are not lost without a word."""
    head_id = _head_node_id(nodes)
    fn = Function(from_entrypoint("tasks:cut_the_log", root=project), system=nodes.cluster)
    try:
        ran_on = fn.map(range(8), head=head_id)
        assert len(set(ran_on)) == 2, "no item ran on the worker node"
        lines = _log_lines(nodes, fn.last_map_id)
        notes = [line for line in lines if "could not be forwarded" in line]
        assert notes, lines
        assert all(f"from node {nodes.worker.address} to this log" in n for n in notes)
        assert all("they are in the worker's log on that node (" in n for n in notes)
        daemon_log = (nodes.roots[0] / "daemon.log").read_text()
        assert "could not be forwarded" in daemon_log
        # Lines of the head's items are in the log as always.
        assert any(line.endswith(f"on {head_id}") for line in lines)
    finally:
        nodes.cluster.restart_server()  # a daemon with a log writer again
    again = _fn(nodes, project)
    results = again.map(range(8), delay=0.3)
    lines = _log_lines(nodes, again.last_map_id)
    assert all(f"item {r['x']} on {r['node']}" in lines for r in results), lines
