"""The Nodes RPC's answer: every Ray node, what it uses now, and the runs running on it.

The daemon samples its own node (rhcli.server.node_usage). On a multi-node cluster each
other node gets a probe: a small Ray actor pinned to it (no CPU reserved), made on the
first Nodes call and kept, which samples its node the same way. Why an actor: it rides
Ray's authenticated connections and opens no port, like the log writer; and a probe
keeps its CPU meter running, so its answer is the last second's figure, not a wait.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from rhcli.protocol import daemon_pb2 as pb
from rhcli.server.node_usage import NodeSampler
from rhcli.server.placement import Placements

log = logging.getLogger(__name__)

# How long a Nodes call waits for the probes' answers: a new probe has a process to
# start (about a second), a warm one answers in about a millisecond.
NEW_PROBE_WAIT_S = 15.0
PROBE_WAIT_S = 2.0


class NodeProbe:
    """Runs on one node (a Ray actor) and samples it."""

    def __init__(self) -> None:
        self._sampler = NodeSampler()

    def sample(self) -> dict[str, Any]:
        return self._sampler.sample().as_dict()


class NodeView:
    """Builds NodeInfo messages; safe to call from many gRPC threads."""

    def __init__(self, placements: Placements) -> None:
        self._placements = placements
        self._sampler = NodeSampler()  # starts this node's CPU meter now
        self._probes: dict[str, Any] = {}  # node id -> probe actor
        self._lock = threading.Lock()

    def nodes(self) -> list[pb.NodeInfo]:
        from rhcli.server.ray_runtime import cluster_nodes

        found = cluster_nodes()
        others = [n["node_id"] for n in found if n["alive"] and not n["head"]]
        usage = self._sample_others(others)
        runs = self._placements.runs_by_node()
        replies = []
        for node in found:
            info = pb.NodeInfo(**node)
            if node["head"]:
                _set_usage(info, self._sampler.sample().as_dict())
            elif not node["alive"]:
                info.usage_error = "the node is lost: no figures"
            else:
                _set_usage(info, usage[node["node_id"]])
            info.runs.extend(runs.get(node["node_id"], []))
            replies.append(info)
        return replies

    def _sample_others(self, node_ids: list[str]) -> dict[str, dict[str, Any]]:
        """node id -> its probe's figures, or {"usage_error": why there are none}."""
        if not node_ids:
            return {}
        import ray

        with self._lock:
            new = [n for n in node_ids if n not in self._probes]
            for node_id in new:
                self._probes[node_id] = _start_probe(ray, node_id)
            probes = {n: self._probes[n] for n in node_ids}
        refs = {node_id: probe.sample.remote() for node_id, probe in probes.items()}
        ready, _ = ray.wait(
            list(refs.values()),
            num_returns=len(refs),
            timeout=NEW_PROBE_WAIT_S if new else PROBE_WAIT_S,
        )
        done = set(ready)
        found: dict[str, dict[str, Any]] = {}
        for node_id, ref in refs.items():
            if ref not in done:
                found[node_id] = {"usage_error": "the node's probe did not answer in time"}
                continue
            try:
                found[node_id] = ray.get(ref)
            except Exception as exc:  # the probe died (its node going away): make anew
                log.warning("node probe on %s failed: %s", node_id, exc)
                with self._lock:
                    self._probes.pop(node_id, None)
                found[node_id] = {"usage_error": f"the node's probe failed: {exc}"}
        return found


def _start_probe(ray: Any, node_id: str) -> Any:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return (
        ray.remote(NodeProbe)
        .options(
            num_cpus=0,
            max_restarts=0,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
        )
        .remote()
    )


def _set_usage(info: pb.NodeInfo, usage: dict[str, Any]) -> None:
    if "cpu_percent" in usage:
        info.cpu_percent = usage["cpu_percent"]
    info.memory_used = usage.get("memory_used", 0)
    info.memory_total = usage.get("memory_total", 0)
    info.gpus.extend(pb.GpuInfo(**gpu) for gpu in usage.get("gpus", []))
    info.usage_error = usage.get("usage_error", "")
