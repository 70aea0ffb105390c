"""What runs in each Ray Serve replica of an endpoint.

Serve builds the replica in two steps (``serve.ingress(build_app)(EndpointReplica)``):
first ``EndpointReplica(config)``, which captures the process's output into the
endpoint's log and imports the user's function or ASGI app from the code root, so an
import error fails the replica with its own traceback (Serve reports it and the deploy
fails); then ``build_app()``, which returns the ASGI app Serve hands every request to:
the token gate in front of the user's app, or of the function adapter. Serve runs each
replica in a process of its own, so one module-level slot carries the app between the
two steps.

config (plain values, made by rhcli.server.serving): name, entrypoint, pickled, asgi,
code_root and head_root (the code root on the daemon's node, mapped onto this node's
root), log_path and head_node_id (where the output goes), token_sha256, public,
code_version (only there to make a new deploy when the code changed).
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

from rhcli.server.endpoint_http import ASGIApp, FunctionApp, Gate
from rhcli.server.loader import FunctionLoader
from rhcli.server.log_forwarding import open_sink
from rhcli.server.output_capture import OutputCapture
from rhcli.server.worker import node_path

_app: ASGIApp | None = None


class EndpointReplica:
    """The replica's constructor; the requests go to the app build_app() returns."""

    def __init__(self, config: dict[str, Any]) -> None:
        global _app
        # Everything the replica prints from here on (the user's module at import, their
        # function, Serve's own lines) lands in the endpoint's log.
        self._capture = OutputCapture()
        self._capture.install()
        self._capture.start(
            open_sink(
                config["log_path"],
                None,
                head_node_id=config["head_node_id"],
                # Where a lost forwarder's note goes: the process's real stderr, not fd 2,
                # which the capture now owns.
                fallback_fd=self._capture.original_stderr,
            )
        )
        code_root = node_path(config["code_root"], config["head_root"])
        if code_root not in sys.path:
            sys.path.insert(0, code_root)
        os.chdir(code_root)
        try:
            loaded = FunctionLoader(code_root).load(
                entrypoint=config["entrypoint"], pickled=config["pickled"]
            )
        except BaseException:
            # Serve reports only the exception; the endpoint's log keeps the traceback
            # (stop() returns once it is written: the replica is ended right after).
            traceback.print_exc()
            self._capture.stop()
            raise
        inner: ASGIApp = loaded if config["asgi"] else FunctionApp(loaded)
        _app = Gate(inner, token_sha256=config["token_sha256"], public=config["public"])


def build_app() -> ASGIApp:
    """The app of this replica (Serve calls it right after the constructor)."""
    if _app is None:
        raise RuntimeError("the endpoint replica was not constructed before its app")
    return _app
