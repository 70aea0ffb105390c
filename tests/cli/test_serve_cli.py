"""`rhcli serve`, `rhcli endpoints`, `rhcli unserve`, `rhcli logs --endpoint` and `rhcli up`
with declared endpoints, through the real console script against the session daemon."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import run_cli
from tests.support.http import answers, request

MANIFEST = """\
default_cluster: local
clusters:
  local: {type: local}
reqs: []
functions:
  square:
    entrypoint: jobs:square
    resources: {num_cpus: 0.25}
endpoints:
  sq:
    function: square
    route: /v1/sq
"""

JOBS = """\
def square(x):
    print(f"squaring {x}", flush=True)
    return x * x
"""


@pytest.fixture(scope="module")
def served_project(tmp_path_factory: pytest.TempPathFactory, local: Any) -> Iterator[Path]:
    """A project declaring endpoint `sq`, shared by the module (serving it again while it
    runs changes nothing, and costs no deploy); what the tests served is unserved after."""
    project = tmp_path_factory.mktemp("served")
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / "jobs.py").write_text(JOBS)
    (project / "runhouse.yaml").write_text(MANIFEST)
    yield project
    for name in ("sq", "square"):
        run_cli("unserve", name, cwd=project)


def test_serve_prints_the_url_and_json_adds_the_token_the_url_keeps_answering(
    served_project: Path,
) -> None:
    done = run_cli("--json", "serve", "sq", cwd=served_project, timeout=600)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["route"] == "/v1/sq" and document["status"] == "running"
    assert document["url"].endswith("/v1/sq") and len(document["token"]) >= 32
    # The command has exited; the URL it printed still answers.
    assert request(document["url"], {"x": 6}, token=document["token"]) == (200, 36)
    human = run_cli("serve", "sq", cwd=served_project, timeout=600)
    assert human.returncode == 0, human.stderr
    assert document["url"] in human.stdout and document["token"] not in human.stdout


def test_endpoints_lists_them_and_shows_tokens_only_with_json_and_show_token(
    served_project: Path,
) -> None:
    served = json.loads(run_cli("--json", "serve", "sq", cwd=served_project, timeout=600).stdout)
    table = run_cli("endpoints", cwd=served_project)
    assert table.returncode == 0
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["NAME", "ROUTE", "REPLICAS", "STATUS", "URL"]
    assert any(row.split()[:5] == ["sq", "/v1/sq", "1/1", "running", served["url"]] for row in rows)
    assert served["token"] not in table.stdout
    listed = json.loads(run_cli("--json", "endpoints", cwd=served_project).stdout)
    assert next(e for e in listed if e["name"] == "sq").get("token") is None
    shown = json.loads(run_cli("--json", "endpoints", "--show-token", cwd=served_project).stdout)
    assert next(e for e in shown if e["name"] == "sq")["token"] == served["token"]
    refused = run_cli("endpoints", "--show-token", cwd=served_project)
    assert refused.returncode == 2 and "add --json" in refused.stderr


def test_logs_of_an_endpoint_show_what_its_replicas_printed(served_project: Path) -> None:
    served = json.loads(run_cli("--json", "serve", "sq", cwd=served_project, timeout=600).stdout)
    assert request(served["url"], [11], token=served["token"]) == (200, 121)
    logs = run_cli("logs", "--endpoint", "sq", cwd=served_project)
    assert logs.returncode == 0, logs.stderr
    assert "squaring 11" in logs.stdout
    neither = run_cli("logs", cwd=served_project)
    assert neither.returncode == 2 and "RUN_ID or --endpoint" in neither.stderr


def test_serve_takes_a_function_name_with_flags_and_up_serves_declared_endpoints(
    served_project: Path,
) -> None:
    done = run_cli("--json", "serve", "square", "--route", "/sq2", cwd=served_project, timeout=600)
    assert done.returncode == 0, done.stderr
    ad_hoc = json.loads(done.stdout)
    assert (ad_hoc["name"], ad_hoc["route"]) == ("square", "/sq2")
    assert request(ad_hoc["url"], [2], token=ad_hoc["token"]) == (200, 4)
    up = run_cli("up", cwd=served_project, timeout=600)
    assert up.returncode == 0, up.stderr
    assert "endpoint   sq: running at http://127.0.0.1:" in up.stdout


def test_an_unknown_name_lists_the_known_ones_and_bad_flags_are_usage_errors(
    served_project: Path,
) -> None:
    missing = run_cli("serve", "nope", cwd=served_project)
    assert missing.returncode == 2, missing.stderr
    assert "unknown endpoint or function 'nope'" in missing.stderr
    assert "endpoints: sq; functions: square" in missing.stderr
    half = run_cli("serve", "square", "--max-replicas", "3", cwd=served_project)
    assert half.returncode == 2 and "--min-replicas and --max-replicas" in half.stderr


def test_unserve_stops_the_url_ends_a_log_follower_and_a_second_changes_nothing(
    served_project: Path,
) -> None:
    served = json.loads(run_cli("--json", "serve", "sq", cwd=served_project, timeout=600).stdout)
    rhcli = Path(sys.executable).parent / "rhcli"
    with subprocess.Popen(
        [str(rhcli), "logs", "--endpoint", "sq", "-f"],
        cwd=served_project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as follower:
        try:
            assert request(served["url"], [12], token=served["token"]) == (200, 144)
            assert _printed("squaring 12", follower, within_s=60)  # printed while served
            done = run_cli("unserve", "sq", cwd=served_project)
            assert done.returncode == 0 and "sq: unserved on local" in done.stdout
            assert follower.wait(timeout=60) == 0  # it ended with the endpoint
        finally:
            if follower.poll() is None:
                follower.kill()
    assert not answers(served["url"])
    again = run_cli("--json", "unserve", "sq", cwd=served_project)
    assert again.returncode == 0
    assert json.loads(again.stdout) == {"name": "sq", "cluster": "local", "unserved": False}


def test_a_public_endpoint_answers_off_the_loopback_and_down_ends_all_leaving_no_process(
    tmp_path: Path,
) -> None:
    """A daemon of its own (its own root): a public endpoint needs a Serve started for it,
    and down must not end the session's endpoints."""
    from tests.conftest import processes_of_root

    home, project = tmp_path / "home", tmp_path / "project"
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / "jobs.py").write_text(JOBS)
    (project / "runhouse.yaml").write_text(MANIFEST)
    env = {"RHCLI_HOME": str(home)}
    try:
        done = run_cli("--json", "serve", "sq", "--public", cwd=project, env=env, timeout=600)
        assert done.returncode == 0, done.stderr
        served = json.loads(done.stdout)
        assert request(served["url"], [3], token=served["token"]) == (200, 9)
        public = urlsplit(served["public_url"])
        assert public.hostname not in ("127.0.0.1", "localhost", None), served["public_url"]
        assert request(served["public_url"], [4], token=served["token"]) == (200, 16)
        assert request(served["public_url"], [4])[0] == 401
        # An endpoint that is not public stays loopback-only on the public proxy.
        done = run_cli("--json", "serve", "square", cwd=project, env=env, timeout=600)
        assert done.returncode == 0, done.stderr
        private = json.loads(done.stdout)
        assert private["public_url"] == ""
        assert request(private["url"], [5], token=private["token"]) == (200, 25)
        off_loopback = f"http://{public.netloc}{private['route']}"
        assert request(off_loopback, [5], token=private["token"])[0] == 403
        assert processes_of_root(home)  # the daemon, its Ray, Serve's proxy and replicas
    finally:
        down = run_cli("down", cwd=project, env=env, timeout=300)
    assert down.returncode == 0, down.stderr
    assert not answers(served["url"]) and not answers(served["public_url"])
    deadline = time.monotonic() + 20
    while processes_of_root(home) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_of_root(home) == []


def _printed(text: str, process: subprocess.Popen[str], *, within_s: float) -> bool:
    """Whether process prints text within within_s seconds (read unbuffered, so nothing
    waits in a buffer that select cannot see)."""
    assert process.stdout is not None
    fd, seen = process.stdout.fileno(), b""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                return False  # it ended
            seen += chunk
            if text.encode() in seen:
                return True
    return False
