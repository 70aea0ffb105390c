"""Forwarding a run's log records from a worker on another node to the daemon's node.

The run's log file lives on the daemon's disk. A worker on another node of a multi-node
cluster sends its records to the LogWriter actor on the daemon's node (ForwardingLogSink),
which appends them: same records, same order.

A record that cannot be forwarded (the writer is gone, or refuses) never vanishes: its
line goes to the worker's own stderr (Ray's worker log on that node) at once, and when the
run ends the sink hands the worker a note record (how many lines, why, where they are),
which the daemon appends to the run's log before its end marker and writes to daemon.log
(rhcli.server.run_logs.append_note). The same note covers lines still unsent when close()
gives up waiting for the head.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from rhcli.server.output_capture import LogSink

CLOSE_WAIT_S = 30.0


class ForwardingLogSink(LogSink):
    """A LogSink whose records travel to the head's LogWriter (over Ray's own token-
    authenticated channel) instead of into a local file.

    One sender thread ships whatever has accumulated in one call of deliver(path, data)
    and waits for it, so records arrive in order, batches grow by themselves under load,
    and a quiet run costs one round trip per line. The thread starts with the first
    record (a run that prints nothing costs nothing here). close() returns once
    everything written is on the head's disk (or, at most CLOSE_WAIT_S later, reported
    as not), so the end marker the daemon appends afterwards comes last.
    """

    def __init__(
        self,
        deliver: Callable[[str, bytes], None],
        path: str,
        item: int | None = None,
        *,
        fallback_fd: int = 2,
        node: str = "",
    ) -> None:
        super().__init__(path, item)
        self._deliver = deliver
        self._fallback_fd = fallback_fd  # the worker's own stderr, before the capture
        self._node = node
        self._pending: list[bytes] = []
        self._wake = threading.Condition()
        self._closing = False
        self._error = ""  # the first failure, as text
        self._lost = 0  # lines that did not reach the log
        self._in_flight: list[bytes] = []  # the batch being delivered
        self._sender: threading.Thread | None = None

    def _emit(self, line: bytes) -> None:
        with self._wake:
            self._pending.append(line)
            if self._sender is None:
                self._sender = threading.Thread(
                    target=self._send_loop, name="log-forward", daemon=True
                )
                self._sender.start()
            self._wake.notify()

    def _send_loop(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closing:
                    self._wake.wait()
                batch, self._pending = self._pending, []
                if not batch and self._closing:
                    return
            with self._wake:
                self._in_flight = batch
            try:
                self._deliver(self._path, b"".join(batch))
            except Exception as exc:  # the writer is gone or refused: keep the lines here
                self._keep_here(batch, f"{type(exc).__name__}: {exc}")
            with self._wake:
                self._in_flight = []

    def _keep_here(self, batch: list[bytes], why: str) -> None:
        """Write the records' lines to the worker's own stderr, and count them lost."""
        with self._wake:
            self._lost += len(batch)
            self._error = self._error or why
        note = f"rhcli: could not forward to the run's log ({why}); the lines were:\n"
        os.write(self._fallback_fd, note.encode() + b"".join(batch))

    def close(self) -> str:
        with self._wake:
            self._closing = True
            self._wake.notify()
            sender = self._sender
        if sender is not None:
            sender.join(timeout=CLOSE_WAIT_S)
            if sender.is_alive():  # the head does not answer: what is left stays here
                with self._wake:  # (the batch in flight too: it may never arrive)
                    left, self._pending = self._in_flight + self._pending, []
                    self._in_flight = []
                self._keep_here(left, f"no answer from the log writer in {CLOSE_WAIT_S:g} s")
        if not self._lost:
            return ""
        where = _fd_path(self._fallback_fd)
        return self.note(
            f"rhcli: {self._lost} line(s) of this run's output could not be forwarded from "
            f"node {self._node or '?'} to this log ({self._error}); they are in the worker's "
            f"log on that node{f' ({where})' if where else ''}"
        )


def _fd_path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


class LogWriter:
    """Ray actor pinned to the daemon's node: appends forwarded records to run logs.

    Only paths under the daemon's runs folder are accepted, so a caller that holds the
    cluster's Ray token still cannot make it write anywhere else.
    """

    def __init__(self, runs_dir: str) -> None:
        self._runs_dir = os.path.realpath(runs_dir) + os.sep

    def append(self, path: str, data: bytes) -> None:
        real = os.path.realpath(path)
        if not real.startswith(self._runs_dir):
            raise ValueError(f"refusing to write a log outside {self._runs_dir}: {path}")
        os.makedirs(os.path.dirname(real), exist_ok=True)
        fd = os.open(real, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, data)  # whole records only: a tailing reader never sees half a line
        finally:
            os.close(fd)


LOG_WRITER_NAME = "rhcli-log-writer"


def start_log_writer(runs_dir: str, node_id: str) -> Any:
    """Start the LogWriter actor on node_id (the daemon's own node); returns its handle.

    Named, so workers find it with ray.get_actor; it lives as long as the daemon (its
    owner), takes no CPU, and is never restarted elsewhere: a log written on another
    node's disk would be lost to the daemon.
    """
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    actor = ray.remote(LogWriter).options(
        name=LOG_WRITER_NAME,
        namespace="rhcli",
        num_cpus=0,
        max_restarts=0,
        scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node_id, soft=False),
    )
    handle: Any = actor.remote(runs_dir)
    ray.get(handle.__ray_ready__.remote())
    return handle


def open_sink(path: str, item: int | None, *, head_node_id: str, fallback_fd: int = 2) -> LogSink:
    """The sink for a run's log at path: the file itself on the daemon's node (no extra
    hop, so the latency of a single node stays as it was), the LogWriter elsewhere.
    fallback_fd: the worker's own stderr, where lines that cannot be forwarded go."""
    if head_node_id and _node_id() != head_node_id:
        import ray

        global _writer
        if _writer is None:
            _writer = ray.get_actor(LOG_WRITER_NAME, namespace="rhcli")
        writer = _writer

        def deliver(log: str, data: bytes) -> None:
            ray.get(writer.append.remote(log, data))

        node = str(ray.util.get_node_ip_address())
        return ForwardingLogSink(deliver, path, item, fallback_fd=fallback_fd, node=node)
    return LogSink(path, item)


def _node_id() -> str:
    global _this_node
    if _this_node is None:
        import ray

        _this_node = str(ray.get_runtime_context().get_node_id())
    return _this_node


_this_node: str | None = None
_writer: Any = None
