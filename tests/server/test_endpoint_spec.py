"""What an endpoint spec may say: defaults filled in, malformed specs refused unsent to
Serve, a replica's resources as Serve's actor options."""

from __future__ import annotations

import pytest

from rhcli.protocol import daemon_pb2 as pb
from rhcli.server.endpoint_spec import EndpointRefused, actor_options, checked


def _spec(**fields: object) -> pb.EndpointSpec:
    return pb.EndpointSpec(
        function=pb.FunctionRef(entrypoint="tasks:square", code_root="/r"),
        **{"name": "square", **fields},  # type: ignore[arg-type]
    )


def test_a_bare_spec_gets_the_route_of_its_name_and_one_replica() -> None:
    spec = checked(_spec())
    assert (spec.route, spec.replicas, spec.max_replicas) == ("/square", 1, 0)
    assert checked(_spec(route="/v1/sq/")).route == "/v1/sq"
    assert checked(_spec(route="/")).route == "/"


def test_autoscaling_keeps_its_bounds_and_may_start_from_zero() -> None:
    spec = checked(_spec(min_replicas=0, max_replicas=4))
    assert (spec.replicas, spec.min_replicas, spec.max_replicas) == (0, 0, 4)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"name": "1st"}, "endpoint name '1st'"),
        ({"route": "sq"}, "route 'sq'"),
        ({"route": "/a//b"}, "route '/a//b'"),
        ({"route": "/-/healthz"}, "Serve keeps /-/ for itself"),
        ({"route": "/a b"}, "route '/a b'"),
        ({"replicas": 2, "max_replicas": 3}, "not both"),
        ({"min_replicas": 3, "max_replicas": 2}, "need 0 <= min <= max"),
        ({"min_replicas": 1}, "min_replicas needs max_replicas"),
        ({"replicas": -1}, "at least 1"),
    ],
)
def test_a_malformed_spec_is_refused_saying_what_is_wrong(
    fields: dict[str, object], reason: str
) -> None:
    with pytest.raises(EndpointRefused, match=reason) as info:
        checked(_spec(**fields))
    assert info.value.kind == "invalid"


def test_an_asgi_app_is_named_by_an_entrypoint_not_sent_by_value() -> None:
    spec = pb.EndpointSpec(name="api", asgi=True, function=pb.FunctionRef(pickled=b"x"))
    with pytest.raises(EndpointRefused, match="module:app"):
        checked(spec)


def test_a_replica_asks_for_one_cpu_unless_told_and_custom_resources_pass_through() -> None:
    assert actor_options(pb.Resources()) == {"num_cpus": 1.0, "num_gpus": 0.0}
    resources = pb.Resources(num_cpus=0.5, num_gpus=1, memory=2**30, custom={"tpu": 2})
    assert actor_options(resources) == {
        "num_cpus": 0.5,
        "num_gpus": 1.0,
        "memory": float(2**30),
        "resources": {"tpu": 2.0},
    }
