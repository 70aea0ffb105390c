"""What Ray Serve says of an application, in the words rhcli's endpoints use: a status
(deploying, running, failed, unhealthy, deleting) and a message fit to show a user."""

from __future__ import annotations

import re
from typing import Any

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TRIES = re.compile(r"failed to start (\d+) times in a row")
_STATUS = {
    "NOT_STARTED": "deploying",
    "DEPLOYING": "deploying",
    "DEPLOY_FAILED": "failed",
    "RUNNING": "running",
    "UNHEALTHY": "unhealthy",
    "DELETING": "deleting",
}


def app_status(app: Any) -> tuple[str, str]:
    """(status, message) from Serve's overview of an application (None: it is gone).

    A deploy sets its application DEPLOYING before run_many returns, so a status read
    after a deploy is never the previous deploy's RUNNING."""
    if app is None:
        return "failed", "its Serve application is gone; serve it again"
    status = _STATUS.get(str(app.status.value), str(app.status.value).lower())
    messages = [app.message, *(d.message for d in app.deployments.values())]
    return status, _clean(" ".join(m for m in messages if m))


def _clean(message: str) -> str:
    """Serve's message without terminal colours, cut to what tells the error: a replica's
    traceback (Serve's frames, then the user's) to the exception it ends with; the whole
    traceback is in the endpoint's log."""
    text = _ANSI.sub("", message).strip()
    if "Traceback (most recent call last)" in text:
        tries = _TRIES.search(text)
        said = f"Ray Serve tried {tries.group(1)} times" if tries else "a replica raised"
        return f"{said}: {_raised(text)}"
    return text if len(text) <= 4000 else text[:1000] + "\n...\n" + text[-3000:]


def _raised(traceback_text: str) -> str:
    """The exception a traceback ends with: the lines after its last frame (the frame's
    indented source and caret lines skipped)."""
    lines = traceback_text.splitlines()
    frames = [i for i, line in enumerate(lines) if line.startswith("  File ")]
    rest = lines[frames[-1] + 1 :] if frames else lines
    while rest and (not rest[0].strip() or rest[0][0].isspace()):
        rest = rest[1:]
    return "\n".join(rest).strip()[-2000:] or traceback_text[-2000:]
