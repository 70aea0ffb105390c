"""The dashboard's web app (Starlette): the page, its assets, and the JSON it reads.

Every live view is a server-sent event stream (``text/event-stream``): the app reads the
cluster through the library in a worker thread about once a second and sends the view
again only when it changed. A run's log is a stream too, following the daemon's own log
stream line by line. Errors from the cluster (down, unknown run) are sent as a
``failure`` event the page shows, and the stream keeps trying; anything else is a bug
and ends the stream loudly (uvicorn logs it, the browser reconnects).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from anyio import to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from rhcli.dashboard import views
from rhcli.dashboard.sources import Clusters, MapWatches
from rhcli.errors import RhcliError

STATIC = Path(__file__).parent / "static"
POLL_S = 1.0
NODES_POLL_S = 2.0
RUNS_LIMIT = 200
STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "timed_out")
_HEARTBEAT_S = 15.0


def make_app(clusters: Clusters) -> Starlette:
    """The app for clusters (its default shown first); wrap it in auth.TokenGate."""
    maps = MapWatches()

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def cluster_names(request: Request) -> Response:
        return JSONResponse({"clusters": clusters.names(), "default": clusters.default})

    async def runs_events(request: Request) -> Response:
        name = request.query_params.get("cluster") or None
        function = request.query_params.get("function", "")
        status = request.query_params.get("status", "")
        if status and status not in STATUSES:
            return JSONResponse({"error": f"status: one of {', '.join(STATUSES)}"}, 400)

        def fetch() -> Any:
            from rhcli.runs_api import runs

            found = runs(
                cluster=clusters.get(name),
                limit=RUNS_LIMIT,
                function=function,
                statuses=(status,) if status else (),  # type: ignore[arg-type]
            )
            return [views.run_summary(info) for info in found]

        return _events(request, "runs", fetch, POLL_S)

    async def run_events(request: Request) -> Response:
        name = request.query_params.get("cluster") or None
        run_id = request.path_params["run_id"]

        def fetch() -> Any:
            from rhcli.runs_api import info, outcome

            cluster = clusters.get(name)
            record = info(run_id, cluster=cluster)
            ended = None
            if record.status not in ("queued", "running"):  # answers at once
                ended = outcome(run_id, cluster=cluster, fetch=False)
            return views.run_detail(record, ended, cluster=name or clusters.default)

        return _events(request, "run", fetch, POLL_S)

    async def map_events(request: Request) -> Response:
        name = request.query_params.get("cluster") or clusters.default
        watch = maps.get(name, request.path_params["run_id"])

        def fetch() -> Any:
            return watch.state(clusters.get(name), cluster_name=name)

        return _events(request, "map", fetch, POLL_S)

    async def node_events(request: Request) -> Response:
        name = request.query_params.get("cluster") or None

        def fetch() -> Any:
            return [views.node_view(node) for node in clusters.get(name).nodes()]

        return _events(request, "nodes", fetch, NODES_POLL_S)

    async def log_events(request: Request) -> Response:
        name = request.query_params.get("cluster") or None
        run_id = request.path_params["run_id"]
        parent = request.query_params.get("parent") or None
        after = _int(request.headers.get("last-event-id"), default=-1)
        return StreamingResponse(
            _log_stream(clusters, name, run_id, parent, after),
            media_type="text/event-stream",
            headers={"cache-control": "no-store"},
        )

    async def endpoint_list(request: Request) -> Response:
        from rhcli.dashboard.endpoints import endpoint_rows

        name = request.query_params.get("cluster") or None
        try:
            rows = await to_thread.run_sync(lambda: endpoint_rows(clusters.get(name)))
        except RhcliError as exc:
            return JSONResponse({"error": str(exc)}, 503)
        return JSONResponse(rows)

    routes = [
        Route("/", index),
        Route("/api/clusters", cluster_names),
        Route("/api/runs/events", runs_events),
        Route("/api/runs/{run_id}/events", run_events),
        Route("/api/runs/{run_id}/log", log_events),
        Route("/api/maps/{run_id}/events", map_events),
        Route("/api/nodes/events", node_events),
        Route("/api/endpoints", endpoint_list),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes)


def _int(text: str | None, *, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def _event(name: str, data: Any, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data)}\n\n"


def _events(request: Request, name: str, fetch: Callable[[], Any], period: float) -> Response:
    """A stream that sends fetch()'s value (as event name) whenever it changes."""

    async def stream() -> AsyncIterator[str]:
        last = ""
        quiet = 0.0
        while True:
            try:
                value = await to_thread.run_sync(fetch)
                payload = _event(name, value)
            except RhcliError as exc:  # the cluster's answer, for the page to show
                payload = _event("failure", {"message": str(exc)})
            if payload != last:
                last, quiet = payload, 0.0
                yield payload
            elif quiet >= _HEARTBEAT_S:  # a comment keeps proxies from closing it
                quiet = 0.0
                yield ": still here\n\n"
            await asyncio.sleep(period)
            quiet += period

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"cache-control": "no-store"}
    )


async def _log_stream(
    clusters: Clusters, name: str | None, run_id: str, parent: str | None, after: int
) -> AsyncIterator[str]:
    """A run's log as events: "lines" (each event's id is its last line's seq, so a
    browser that reconnects gets only what it has not seen), then "end" with the run's
    status. A map item's lines come from its map's log (views.log_target)."""
    from rhcli.log_follower import LogStream

    loop = asyncio.get_running_loop()
    parts: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    gone = threading.Event()
    holder: dict[str, LogStream] = {}

    def put(kind: str, value: Any) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(parts.put_nowait, (kind, value))

    def pump() -> None:
        try:
            source, item = views.log_target(run_id, parent)
            stream = LogStream(source, cluster=clusters.get(name), follow=True, item=item)
            holder["stream"] = stream
            if gone.is_set():  # the page went away while we connected
                stream.cancel()
            for part in stream:
                put("part", part)
            put("done", None)
        except RhcliError as exc:
            put("failure", str(exc))
        except BaseException as exc:
            put("failure", f"the dashboard failed reading the log: {exc!r}")
            raise

    threading.Thread(target=pump, name=f"log:{run_id}", daemon=True).start()
    try:
        while True:
            try:
                kind, value = await asyncio.wait_for(parts.get(), _HEARTBEAT_S)
            except asyncio.TimeoutError:  # a quiet run: a comment, which also tells
                yield ": still here\n\n"  # us (the send fails) when the page left
                continue
            if kind == "failure":
                yield _event("failure", {"message": value})
                return
            if kind == "done":
                return
            lines = [vars(line) for line in value.lines if line.seq > after]
            if lines:
                yield _event("lines", lines, lines[-1]["seq"])
            if value.end:
                yield _event("end", {"status": value.status})
                return
    finally:
        gone.set()
        if "stream" in holder:
            holder["stream"].cancel()
