"""Running the dashboard: a uvicorn server on 127.0.0.1, in this process, until Ctrl-C.

Only ever loopback: the dashboard shows what runs on your clusters and reads them with
your credentials, so nothing off this machine may reach it (a tunnel of your own is the
way to look from elsewhere). The socket is bound before the address is printed, so the
address works the moment it is shown.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from rhcli.errors import UsageError

DEFAULT_PORT = 8899
# Without --port, the next free one of these is taken (another dashboard may run).
PORT_TRIES = 20
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Started:
    """What `rhcli dashboard` prints: the cluster shown first and the address to open."""

    cluster: str
    url: str
    port: int


def bind(port: int | None) -> socket.socket:
    """A listening socket on 127.0.0.1: port (0: any free one), or without one the first
    free of DEFAULT_PORT and the next few. Raises UsageError when it is taken."""
    candidates = (
        [port] if port is not None else list(range(DEFAULT_PORT, DEFAULT_PORT + PORT_TRIES))
    )
    for candidate in candidates:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((HOST, candidate))
        except OSError as exc:
            sock.close()
            if exc.errno != errno.EADDRINUSE:
                raise UsageError(f"cannot listen on {HOST}:{candidate}: {exc.strerror}") from exc
            continue
        sock.listen(128)
        sock.set_inheritable(True)
        return sock
    if port is not None:
        raise UsageError(f"port {port} on {HOST} is in use: pass another with --port (0: any)")
    raise UsageError(
        f"ports {DEFAULT_PORT}-{DEFAULT_PORT + PORT_TRIES - 1} on {HOST} are all in use: "
        "pass a free one with --port (0: any)"
    )


def can_open_browser() -> bool:
    """Whether a browser can be shown here: macOS and Windows always, elsewhere only
    with a display (an SSH session to a server has none)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def serve(
    cluster: str | None,
    *,
    port: int | None,
    manifest: str | None,
    on_start: Callable[[Started], None],
    open_browser: bool,
) -> None:
    """Serve the dashboard until interrupted (Ctrl-C, SIGTERM); on_start(Started) is
    called once the address works. Raises UsageError for an unknown cluster or a port
    in use; never starts a cluster."""
    try:
        import starlette  # noqa: F401
        import uvicorn
    except ImportError as exc:
        raise UsageError(
            f"rhcli dashboard needs its web server ({exc.name} is missing): "
            "pip install 'rhcli[dashboard]'"
        ) from exc

    from rhcli.dashboard.app import make_app
    from rhcli.dashboard.auth import TokenGate, new_token
    from rhcli.dashboard.sources import Clusters

    clusters = Clusters(cluster, manifest=manifest)
    sock = bind(port)
    bound = sock.getsockname()[1]
    token = new_token()
    app = TokenGate(make_app(clusters), token=token, port=bound)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,  # its lines would carry the token of the first request
        timeout_graceful_shutdown=1,  # live streams never end by themselves
        lifespan="off",
    )
    server = uvicorn.Server(config)
    started = Started(
        cluster=clusters.default, url=f"http://{HOST}:{bound}/?token={token}", port=bound
    )

    # Ctrl-C (or SIGTERM) is how a dashboard ends, at any moment: from here on it asks
    # the server to stop (uvicorn's own flag, which it checks before serving too).
    # Why not KeyboardInterrupt: raised in the middle of start-up it can land where
    # Python swallows it (a weakref callback), and the dashboard would not stop.
    def stop(signum: int, frame: object) -> None:
        server.should_exit = True

    before = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        on_start(started)
        if open_browser and can_open_browser():
            threading.Thread(target=_open_when_up, args=(server, started.url), daemon=True).start()
        server.run(sockets=[sock])
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
        sock.close()


def _open_when_up(server: object, url: str) -> None:
    import webbrowser

    deadline = time.monotonic() + 30
    while not getattr(server, "started", False) and time.monotonic() < deadline:
        time.sleep(0.05)
    webbrowser.open(url)
