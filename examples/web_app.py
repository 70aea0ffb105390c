"""An ASGI app (FastAPI) served by rhcli through Ray Serve.

    rhcli serve examples.web_app:app --asgi --route /api
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:PORT/api/health

rhcli checks the token before a request reaches the app; the routes below are the app's
own, under the endpoint's route. FastAPI comes with Ray Serve (`pip install 'rhcli[serve]'`).
"""

from __future__ import annotations

import os

from fastapi import FastAPI

app = FastAPI(title="rhcli example")


@app.get("/health")
def health() -> dict[str, object]:
    return {"ok": True, "pid": os.getpid()}


@app.post("/square")
def square(body: dict[str, int]) -> dict[str, int]:
    return {"y": body["x"] ** 2}
