"""HTTP endpoints on the local cluster: real Ray Serve in the session's daemon, real HTTP.

Replicas ask for a fraction of a CPU, so the session's other tests keep room for their
calls while these endpoints are up.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import rhcli as rh
from rhcli.endpoint_api import Endpoint
from rhcli.errors import EndpointFailedError, UsageError
from rhcli.function_ref import from_entrypoint
from rhcli.functions import Function
from tests.conftest import run_cli
from tests.fixtures import endpoints as funcs
from tests.support.http import answers, request

SMALL = {"num_cpus": 0.25}


@pytest.fixture(scope="module")
def square(local: Any) -> Iterator[Endpoint]:
    endpoint = rh.function(funcs.square, system=local, reqs=[], resources=SMALL).serve()
    yield endpoint
    rh.unserve("square", cluster=local)


def test_a_served_function_answers_over_http_with_its_json_result(square: Endpoint) -> None:
    assert square.status == "running" and square.replicas_running == 1
    assert square.url.startswith("http://127.0.0.1:") and square.url.endswith("/square")
    assert request(square.url, {"x": 3}, token=square.token) == (200, 9)
    assert request(square.url, [4], token=square.token) == (200, 16)
    assert request(square.url, {"args": [5]}, token=square.token) == (200, 25)


def test_without_the_token_or_with_a_wrong_one_the_answer_is_401(square: Endpoint) -> None:
    assert request(square.url, {"x": 3})[0] == 401
    status, body = request(square.url, {"x": 3}, token=square.token + "x")
    assert status == 401 and body["error"]["type"] == "Unauthorized"


def test_a_body_that_does_not_fit_the_signature_gets_422_with_the_reason(
    square: Endpoint,
) -> None:
    status, body = request(square.url, {"y": 3}, token=square.token)
    assert status == 422 and "missing a required argument: 'x'" in body["error"]["message"]


def test_the_token_is_in_the_listing_only_when_asked_for(local: Any, square: Endpoint) -> None:
    listed = {e.name: e for e in rh.endpoints(cluster=local)}
    assert listed["square"].url == square.url and listed["square"].token == ""
    shown = {e.name: e for e in rh.endpoints(cluster=local, show_token=True)}
    assert shown["square"].token == square.token
    assert square.token not in repr(shown["square"])


def test_a_raising_function_gets_500_naming_the_exception_type(local: Any) -> None:
    endpoint = rh.function(funcs.boom, system=local, reqs=[], resources=SMALL).serve()
    try:
        status, body = request(endpoint.url, {"message": "bad input"}, token=endpoint.token)
        assert status == 500
        assert body == {"error": {"type": "builtins.ValueError", "message": "bad input"}}
    finally:
        endpoint.unserve()


def test_an_asgi_app_from_the_sample_repo_answers_under_its_route(local: Any) -> None:
    app = rh.function("examples.web_app:app", system=local, reqs=[], resources=SMALL)
    endpoint = app.serve(route="/api", name="web", asgi=True)
    try:
        status, body = request(endpoint.url + "/health", token=endpoint.token)
        assert status == 200 and body["ok"] is True
        assert request(endpoint.url + "/square", {"x": 7}, token=endpoint.token) == (
            200,
            {"y": 49},
        )
        assert request(endpoint.url + "/health")[0] == 401  # the gate comes before the app
    finally:
        endpoint.unserve()


def _versioned(project: Path, version: int) -> None:
    (project / "svc.py").write_text(
        textwrap.dedent(
            f"""\
            import os

            def version():
                return [{version}, os.getpid()]
            """
        )
    )
    subprocess.run(["git", "-C", str(project), "add", "svc.py"], check=True)


def test_serving_again_rolls_the_replicas_to_new_code_and_keeps_them_when_unchanged(
    local: Any, project: Path
) -> None:
    _versioned(project, 1)
    fn = Function(from_entrypoint("svc:version", root=project), system=local, reqs=[])
    first = fn.serve(resources=SMALL)
    try:
        status, (version, pid) = request(first.url, {}, token=first.token)
        assert (status, version) == (200, 1)
        again = fn.serve(resources=SMALL)
        assert request(again.url, {}, token=again.token) == (200, [1, pid])  # not redeployed
        assert again.token == first.token and again.url == first.url
        time.sleep(0.01)
        _versioned(project, 2)
        os.utime(project / "svc.py")  # a new mtime even on a coarse clock
        rolled = fn.serve(resources=SMALL)
        status, (version, new_pid) = request(rolled.url, {}, token=rolled.token)
        assert (status, version) == (200, 2) and new_pid != pid
        assert rolled.token == first.token  # clients keep their token across a roll
    finally:
        assert rh.unserve("version", cluster=local) is True
    assert not answers(first.url)
    assert rh.unserve("version", cluster=local) is False  # gone: nothing to do


def test_a_replica_whose_module_raises_on_import_fails_the_deploy_and_leaves_nothing_served(
    local: Any, project: Path
) -> None:
    (project / "broken.py").write_text(
        "print('loading the weights', flush=True)\nraise RuntimeError('no model weights here')\n"
    )
    subprocess.run(["git", "-C", str(project), "add", "broken.py"], check=True)
    fn = Function(from_entrypoint("broken:predict", root=project), system=local, reqs=[])
    try:
        with pytest.raises(EndpointFailedError) as info:
            fn.serve(resources=SMALL)
        reason = info.value.reason
        assert "RuntimeError: no model weights here" in reason and "not served" in reason
        assert "ray/serve" not in reason  # Serve's frames stay out of the message
        assert info.value.exit_code == 1
        assert "predict" not in {e.name for e in rh.endpoints(cluster=local)}
        # What it printed and the whole traceback stay readable in its log.
        logs = run_cli("-c", "local", "logs", "--endpoint", "predict", cwd=project)
        assert logs.returncode == 0, logs.stderr
        assert "loading the weights" in logs.stdout
        assert 'broken.py", line 2' in logs.stdout + logs.stderr
    finally:
        rh.unserve("predict", cluster=local)


def test_a_listed_endpoint_is_plain_data_its_cluster_kept_beside(
    local: Any, square: Endpoint
) -> None:
    # What the dashboard does with rh.endpoints(): dataclasses.asdict, then JSON.
    (listed,) = [e for e in rh.endpoints(cluster=local) if e.name == "square"]
    fields = dataclasses.asdict(listed)
    assert fields["url"] == square.url and fields["status"] == "running"
    assert all(isinstance(value, (str, int, float, bool)) for value in fields.values())
    assert json.loads(json.dumps(fields))["route"] == "/square"
    assert listed.system is local


def test_an_endpoint_the_cluster_could_never_hold_is_refused_before_anything_runs(
    local: Any,
) -> None:
    fn = rh.function(funcs.add, system=local, reqs=[])
    with pytest.raises(UsageError, match=r"needs at most 64 replicas of CPU=1: CPU=64"):
        fn.serve(replicas=64)
    if "GPU" not in local.status().resources:  # `--gpus 1` where no node has a GPU
        with pytest.raises(UsageError, match=r"GPU=1 \(the cluster has 0"):
            fn.serve(resources={"num_cpus": 0.25, "num_gpus": 1})
    assert "add" not in {e.name for e in rh.endpoints(cluster=local)}


def test_a_malformed_spec_is_refused_with_what_is_wrong(local: Any) -> None:
    fn = rh.function(funcs.add, system=local, reqs=[])
    with pytest.raises(UsageError, match="route 'no-slash'"):
        fn.serve(route="no-slash", resources=SMALL)
    with pytest.raises(UsageError, match="not both"):
        fn.serve(replicas=2, min_replicas=1, max_replicas=3)


def test_a_call_still_runs_beside_an_endpoint_and_one_needing_its_room_is_refused(
    local: Any, square: Endpoint
) -> None:
    add = rh.function(funcs.add, system=local, reqs=[])
    assert add(2, 3) == 5
    total = local.status().resources["CPU"]
    # Everything but the endpoint's quarter CPU: a call asking for the whole cluster would
    # wait forever for a worker Ray cannot place; it is refused at once instead.
    greedy = rh.function(funcs.add, system=local, reqs=[], resources={"num_cpus": total})
    with pytest.raises(rh.RhcliError, match="CPU"):
        greedy(1, 1)
