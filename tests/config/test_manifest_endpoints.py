"""The manifest's `endpoints:` section: what it may say, and errors with their place."""

from __future__ import annotations

from pathlib import Path

import pytest

from rhcli.config.manifest import EndpointSpec, load_manifest
from tests.config.test_manifest import error_of, write

FUNCTIONS = "functions:\n  square: {entrypoint: tasks:square, cluster: box}\n"
CLUSTERS = "clusters:\n  box: {type: ssh, host: h}\n"


def test_every_endpoint_key_is_read(tmp_path: Path) -> None:
    manifest = load_manifest(
        write(
            tmp_path,
            CLUSTERS + FUNCTIONS + "endpoints:\n"
            "  sq: {function: square, route: /v1/sq, replicas: 2, resources: {num_gpus: 1},"
            " public: true}\n"
            "  api: {asgi: app.main:app, min_replicas: 0, max_replicas: 4, cluster: local}\n"
            "  bare: {function: tasks:cube}\n",
        )
    )
    assert manifest.endpoints["sq"] == EndpointSpec(
        name="sq",
        function="square",
        route="/v1/sq",
        replicas=2,
        resources={"num_gpus": 1.0},
        public=True,
    )
    api = manifest.endpoints["api"]
    assert (api.asgi, api.function, api.min_replicas, api.max_replicas) == (
        True,
        "app.main:app",
        0,
        4,
    )
    bare = manifest.endpoints["bare"]
    assert (bare.route, bare.replicas, bare.resources, bare.public) == (None, None, None, False)


def test_an_endpoint_runs_on_its_cluster_else_its_functions_else_the_default(
    tmp_path: Path,
) -> None:
    manifest = load_manifest(
        write(
            tmp_path,
            CLUSTERS + FUNCTIONS + "endpoints:\n"
            "  a: {function: square}\n"
            "  b: {function: square, cluster: local}\n"
            "  c: {function: tasks:square}\n",
        )
    )
    clusters = {name: manifest.endpoint_cluster(e).name for name, e in manifest.endpoints.items()}
    assert clusters == {"a": "box", "b": "local", "c": "local"}


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        pytest.param(
            "endpoints: {e: {route: /e}}\n",
            (1, 16),
            "endpoints.e: give function (a function's name, or module:function) or asgi "
            "(module:app), one of the two",
            id="function or asgi is required",
        ),
        pytest.param(
            "endpoints: {e: {function: m:f, asgi: m:app}}\n",
            (1, 16),
            "endpoints.e: give function (a function's name, or module:function) or asgi "
            "(module:app), one of the two",
            id="function and asgi exclude each other",
        ),
        pytest.param(
            "endpoints: {e: {function: sqare}}\n",
            (1, 27),
            "endpoints.e.function: 'sqare' is neither a function of this manifest "
            "(defined: none) nor module:function",
            id="an unknown function name",
        ),
        pytest.param(
            "endpoints: {e: {asgi: app}}\n",
            (1, 23),
            "endpoints.e.asgi: expected module:app, got 'app'",
            id="asgi is an entrypoint",
        ),
        pytest.param(
            "endpoints: {e: {function: m:f, route: sq}}\n",
            (1, 39),
            "endpoints.e.route: expected a path like /e (letters, digits, . _ ~ - and /), got 'sq'",
            id="a route is a path",
        ),
        pytest.param(
            "endpoints: {e: {function: m:f, replicas: 2, max_replicas: 3, min_replicas: 1}}\n",
            (1, 16),
            "endpoints.e: give replicas (a fixed count) or min/max_replicas, not both",
            id="replicas and autoscaling exclude each other",
        ),
        pytest.param(
            "endpoints: {e: {function: m:f, max_replicas: 3}}\n",
            (1, 16),
            "endpoints.e: autoscaling needs both min_replicas and max_replicas",
            id="autoscaling needs both bounds",
        ),
        pytest.param(
            "endpoints: {e: {function: m:f, min_replicas: 4, max_replicas: 3}}\n",
            (1, 46),
            "endpoints.e.min_replicas: is over max_replicas",
            id="min is not over max",
        ),
        pytest.param(
            "endpoints: {e: {function: m:f, replicas: 0}}\n",
            (1, 42),
            "endpoints.e.replicas: expected an integer of at least 1, got 0",
            id="at least one replica",
        ),
        pytest.param(
            "endpoints: {e: {function: m:f, cluster: gpu}}\n",
            (1, 41),
            "endpoints.e.cluster: unknown cluster 'gpu'; defined: local",
            id="the cluster is defined",
        ),
        pytest.param(
            "endpoints: {e: {function: m:f, replica: 2}}\n",
            (1, 32),
            "endpoints.e.replica: unknown key 'replica' in endpoint 'e'; did you mean "
            "'replicas' or 'min_replicas'? expected one of: asgi, cluster, function, "
            "max_replicas, min_replicas, public, replicas, resources, route",
            id="unknown keys suggest the closest",
        ),
        pytest.param(
            "endpoints:\n  a: {function: m:f, route: /b}\n  b: {function: m:g}\n",
            (3, 6),
            "endpoints.b: route /b is endpoint 'a''s already; give each its own",
            id="routes are unique",
        ),
        pytest.param(
            "endpoints: {-e: {function: m:f}}\n",
            (1, 13),
            "endpoints.-e: an endpoint name is a letter or _, then letters, digits, _ -",
            id="endpoint names start with a letter or underscore",
        ),
    ],
)
def test_invalid_endpoints_are_refused_with_their_place(
    tmp_path: Path, text: str, where: tuple[int, int], reason: str
) -> None:
    error = error_of(tmp_path, text)
    assert error.reason == reason
    assert (error.line, error.column) == where
