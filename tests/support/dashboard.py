"""A real `rhcli dashboard` process for tests, and a plain HTTP client of it.

The dashboard runs as the console script does (a separate process, `--no-open`, a free
port); its first stdout line is the address with the token. stop() sends SIGINT, as
Ctrl-C would, and returns the exit code and what it printed on stderr.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.support.processes import spawn_interruptible


@dataclass
class Dashboard:
    process: subprocess.Popen[str]
    url: str  # with the token
    printed: str  # the first line on stdout
    cookie: str = ""
    _stderr: list[str] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(urlsplit(self.url).port or 0)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        return self.url.split("token=", 1)[1]

    def request(
        self, path: str, *, method: str = "GET", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        """(status, headers in lower case, body) of one request, no redirect followed."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, headers=headers or {})
            answer = conn.getresponse()
            return (
                answer.status,
                {k.lower(): v for k, v in answer.getheaders()},
                answer.read().decode(),
            )
        finally:
            conn.close()

    def sign_in(self) -> str:
        """Open the address with the token; keep (and return) the session cookie."""
        status, headers, _ = self.request("/?token=" + self.token)
        assert status == 303, status
        self.cookie = headers["set-cookie"].split(";", 1)[0]
        return self.cookie

    def events(self, path: str, timeout: float = 60.0) -> Iterator[tuple[str, Any]]:
        """(event name, data) of the event stream at path, as they come, for at most
        timeout seconds (the stream is closed when the caller stops iterating)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        deadline = time.monotonic() + timeout
        try:
            conn.request("GET", path, headers={"Cookie": self.cookie})
            answer = conn.getresponse()
            assert answer.status == 200, (answer.status, answer.read())
            event = ""
            while time.monotonic() < deadline:
                line = answer.fp.readline().decode()
                if not line:
                    return
                if line.startswith("event: "):
                    event = line[7:].strip()
                elif line.startswith("data: "):
                    yield event, json.loads(line[6:])
        finally:
            conn.close()

    def first_event(
        self, path: str, name: str, until: Callable[[Any], bool], timeout: float = 60.0
    ) -> Any:
        """The data of the first event called name on path whose data satisfies
        until(data). Raises AssertionError when none comes within timeout."""
        seen = []
        for event, data in self.events(path, timeout):
            seen.append(event)
            if event == name and until(data):
                return data
        raise AssertionError(f"no matching {name!r} event on {path} in {timeout} s (saw {seen})")

    def log(self, path: str, timeout: float = 60.0) -> tuple[list[dict[str, Any]], str]:
        """Every line of a log stream (path: /api/runs/ID/log?...) until its end event:
        (the lines, the run's end status)."""
        lines: list[dict[str, Any]] = []
        for event, data in self.events(path, timeout):
            if event == "lines":
                lines.extend(data)
            elif event == "end":
                return lines, str(data["status"])
            else:
                raise AssertionError(f"{event}: {data}")
        raise AssertionError(f"the log at {path} did not end in {timeout} s ({len(lines)} lines)")

    def stop(self) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            _, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        return self.process.returncode, err


def start_dashboard(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60.0
) -> Dashboard:
    """Start `rhcli [ARGS...]` (e.g. "dashboard", "--no-open", "--port", "0") and wait
    for the address it prints."""
    rhcli = Path(sys.executable).parent / "rhcli"
    process = spawn_interruptible(
        [str(rhcli), *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout = process.stdout
    assert stdout is not None
    started = time.monotonic()
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    line = first[0] if first else ""
    found = re.search(r"http://127\.0\.0\.1:\d+/\?token=[\w-]+", line)
    if found is None:
        # Say everything there is to know: a start-up that fails once in a long suite
        # must be diagnosable from the CI log alone.
        code = process.poll()
        process.kill()
        reader.join()  # the kill ends its read; one reader of stdout at a time
        line = first[0] if first else ""
        out, err = process.communicate()
        state = f"exited with {code}" if code is not None else f"still running after {timeout} s"
        raise AssertionError(
            f"rhcli dashboard printed no address ({state}, {time.monotonic() - started:.1f} s "
            f"after start); stdout: {(line + out)!r}; stderr: {err!r}"
        )
    url = found.group(0)
    return Dashboard(process=process, url=url, printed=line.strip())


@contextmanager
def running_dashboard(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> Iterator[Dashboard]:
    """`rhcli dashboard --no-open --port 0 [ARGS...]`, signed in; stopped with Ctrl-C at
    the end, which must end it cleanly (exit 0, "dashboard stopped")."""
    found = start_dashboard("dashboard", "--no-open", "--port", "0", *args, cwd=cwd, env=env)
    try:
        found.sign_in()
        yield found
    finally:
        code, err = found.stop()
    assert code == 0, err
    assert "dashboard stopped" in err
