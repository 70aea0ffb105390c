"""Ray's own ports refuse whoever lacks the token, whatever the daemon's environment says.

A real daemon is started with RAY_AUTH_MODE=disabled (and a token of the user's own in
RAY_AUTH_TOKEN) in its environment, which used to turn Ray's authentication off: its GCS
and raylet, listening on this machine's address, then served anyone. Clients speak to
them with Ray's own gRPC stubs: without a token, with a wrong one, with the user's, and
(the control that the address is right) with the root's ray_token.
"""

from __future__ import annotations

import os
import socket
import stat
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from rhcli.clusters.local_daemon import LocalDaemon
from rhcli.server.ray_runtime import (
    RayAuthError,
    apply_ray_env,
    check_ray_version,
    prepare_token,
)
from tests.server.test_daemon import _env, _stop_and_check
from tests.support.ray_ports import bearer, gcs_nodes

USER_TOKEN = "a-token-of-the-users-own-environment"


@dataclass
class RayPorts:
    daemon: LocalDaemon
    address: str  # this machine's address (not loopback), as another host reaches it
    gcs_port: int

    @property
    def token(self) -> str:
        return self.daemon.paths.ray_token.read_text().strip()


def _node_address() -> str:
    """The address this machine reaches the outside with (loopback when it has none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: picks the route's source
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


@pytest.fixture(scope="module")
def ray_ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayPorts]:
    daemon = LocalDaemon(tmp_path_factory.mktemp("ray-auth") / "home")
    try:
        with _env(RAY_AUTH_MODE="disabled", RAY_AUTH_TOKEN=USER_TOKEN):
            daemon.start()
        session = daemon.paths.ray_temp_dir / "session_latest"
        port_file = next(session.glob("gcs_server_port_*"))
        yield RayPorts(daemon, _node_address(), int(port_file.read_text().strip()))
    finally:
        _stop_and_check(daemon)


@pytest.mark.parametrize(
    "token", [None, "wrong", USER_TOKEN], ids=["no_token", "wrong_token", "users_env_token"]
)
def test_the_gcs_refuses_a_client_without_the_token_despite_auth_disabled_in_the_env(
    ray_ports: RayPorts, token: str | None
) -> None:
    answer = gcs_nodes(f"{ray_ports.address}:{ray_ports.gcs_port}", token)
    assert isinstance(answer, grpc.RpcError), "the GCS answered a client without the token"
    assert answer.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "InvalidAuthToken" in (answer.details() or "")


def test_the_gcs_answers_with_the_roots_ray_token(ray_ports: RayPorts) -> None:
    reply = gcs_nodes(f"{ray_ports.address}:{ray_ports.gcs_port}", ray_ports.token)
    assert not isinstance(reply, grpc.RpcError), reply
    assert len(reply.node_info_list) == 1


def test_the_raylet_refuses_a_client_without_the_token(ray_ports: RayPorts) -> None:
    from ray.core.generated import node_manager_pb2 as nm
    from ray.core.generated import node_manager_pb2_grpc as nm_grpc

    node = gcs_nodes(f"{ray_ports.address}:{ray_ports.gcs_port}", ray_ports.token).node_info_list[0]
    address = f"{ray_ports.address}:{node.node_manager_port}"
    with grpc.insecure_channel(address) as channel:
        stub = nm_grpc.NodeManagerServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetNodeStats(nm.GetNodeStatsRequest(), timeout=20)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert stub.GetNodeStats(
            nm.GetNodeStatsRequest(), metadata=bearer(ray_ports.token), timeout=20
        )


def test_the_runtime_env_agents_http_port_refuses_a_client_without_the_token(
    ray_ports: RayPorts,
) -> None:
    session = ray_ports.daemon.paths.ray_temp_dir / "session_latest"
    port = int(next(session.glob("runtime_env_agent_port_*")).read_text().strip())
    url = f"http://{ray_ports.address}:{port}/get_or_create_runtime_env"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(url, data=b"{}"), timeout=20)
    assert refused.value.code == 401
    with_token = urllib.request.Request(
        url, data=b"{}", headers={"Authorization": f"Bearer {ray_ports.token}"}
    )
    with pytest.raises(urllib.error.HTTPError) as answered:  # past auth: a bad request
        urllib.request.urlopen(with_token, timeout=20)
    assert answered.value.code != 401


def test_the_ray_token_is_the_roots_own_file_readable_by_its_owner_only(
    ray_ports: RayPorts,
) -> None:
    path = ray_ports.daemon.paths.ray_token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(ray_ports.token) >= 40
    assert ray_ports.token != USER_TOKEN


def test_every_process_of_the_daemons_ray_runs_in_token_mode_with_that_file(
    ray_ports: RayPorts,
) -> None:
    marker = f"RHCLI_RAY_OWNER={ray_ports.daemon.paths.owner_marker}".encode()
    seen = 0
    for entry in Path("/proc").iterdir():
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in environ:
            seen += 1
            assert b"RAY_AUTH_MODE=token" in environ
            assert f"RAY_AUTH_TOKEN_PATH={ray_ports.daemon.paths.ray_token}".encode() in environ
            assert not any(v.startswith(b"RAY_AUTH_TOKEN=") for v in environ)
    assert seen >= 3  # the daemon, its GCS and raylet at least


def test_apply_ray_env_overrides_what_the_environment_says() -> None:
    env = {"RAY_AUTH_MODE": "disabled", "RAY_AUTH_TOKEN": USER_TOKEN, "PATH": "/bin"}
    apply_ray_env(env, Path("/root/x/ray_token"))
    assert env == {
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": "/root/x/ray_token",
        "RAY_USAGE_STATS_ENABLED": "0",
        "SPT_NOENV": "1",
        "PATH": "/bin",
    }


@pytest.mark.parametrize("version", ["2.40.0", "2.52.1", "2.58.1"])
def test_a_ray_older_than_2_59_is_refused_with_the_install_command(version: str) -> None:
    with pytest.raises(
        RayAuthError, match=r"Ray 2\.59 or newer.*pip install 'ray\[default\]>=2\.59'"
    ):
        check_ray_version(version)


@pytest.mark.parametrize("version", ["2.59.0", "2.60.0", "3.0.0"])
def test_ray_2_59_and_newer_are_accepted(version: str) -> None:
    check_ray_version(version)


def test_a_daemon_attached_to_a_cluster_refuses_a_missing_or_loose_token(tmp_path: Path) -> None:
    token = tmp_path / "ray_token"
    with pytest.raises(RayAuthError, match="no Ray token"):
        prepare_token(token, new=False)
    token.write_text("t")
    os.chmod(token, 0o644)
    with pytest.raises(RayAuthError, match="mode 0644"):
        prepare_token(token, new=False)
