"""The SkyPilot boundary: the translation checked on real SkyPilot objects, SkyPilot kept
out of `import rhcli`, the install hint without SkyPilot, and a launch that really fails
inside SkyPilot (no cloud reachable from here) ending in one message and exit code 3."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from rhcli.clusters.sky_launcher import (
    SkyPilotLauncher,
    node_addresses,
    resources_for,
    split_instance_type,
    task_for,
)
from rhcli.config.schema import ClusterSpec
from rhcli.errors import (
    ExitCode,
    LaunchError,
    NotSupportedError,
    SkyPilotMissingError,
    UsageError,
)
from tests.conftest import REPO


@pytest.fixture
def sky() -> Any:
    """SkyPilot itself (installed by scripts/test.sh: the `sky` extra), imported under the
    tests' HOME (see conftest)."""
    import sky

    return sky


def spec(**fields: object) -> ClusterSpec:
    return ClusterSpec(name="gpu", type="sky", **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A100:4", {"accelerators": "A100:4"}),
        ("T4:0.5", {"accelerators": "T4:0.5"}),
        ("CPU:8", {"cpus": "8"}),
        ("cpu:4+", {"cpus": "4+"}),
        ("g5.xlarge", {"instance_type": "g5.xlarge"}),
        ("n1-standard-8", {"instance_type": "n1-standard-8"}),
    ],
)
def test_instance_type_reads_as_skypilot_users_expect(text: str, expected: dict[str, str]) -> None:
    assert split_instance_type(text) == expected


def test_an_accelerator_request_becomes_skypilot_accelerators(sky: Any) -> None:
    resources = resources_for(spec(instance_type="A100:4"))
    assert isinstance(resources, sky.Resources)
    assert resources.accelerators == {"A100": 4}
    assert resources.instance_type is None
    assert resources.cloud is None  # no provider: SkyPilot picks the cheapest


def test_a_cpu_count_becomes_skypilot_cpus() -> None:
    resources = resources_for(spec(instance_type="CPU:8"))
    assert resources.cpus == "8"
    assert resources.accelerators is None


def test_anything_else_is_an_instance_type_on_the_named_cloud(sky: Any) -> None:
    resources = resources_for(spec(instance_type="g5.xlarge", provider="aws"))
    assert resources.instance_type == "g5.xlarge"
    assert isinstance(resources.cloud, sky.clouds.AWS)


def test_every_option_reaches_the_skypilot_objects(sky: Any) -> None:
    task = task_for(
        spec(
            instance_type="A10G:1",
            provider="gcp",
            region="us-central1",
            use_spot=True,
            num_nodes=2,
            image_id="projects/deeplearning-platform-release/global/images/x",
            disk_size=200,
        )
    )
    assert isinstance(task, sky.Task)
    assert task.num_nodes == 2
    (resources,) = task.resources
    assert isinstance(resources.cloud, sky.clouds.GCP)
    assert resources.region == "us-central1"
    assert resources.use_spot is True
    assert resources.disk_size == 200
    assert resources.image_id == {
        "us-central1": "projects/deeplearning-platform-release/global/images/x"
    }
    assert resources.accelerators == {"A10G": 1}


def test_on_demand_is_the_default_and_an_image_without_region_applies_everywhere() -> None:
    resources = resources_for(spec(instance_type="CPU:2", image_id="ami-0123"))
    assert resources.use_spot is False
    assert resources.image_id == {None: "ami-0123"}


def test_an_unknown_provider_is_a_usage_error_listing_the_clouds() -> None:
    with pytest.raises(UsageError, match=r"cluster 'gpu': provider: .*'aws'"):
        resources_for(spec(provider="awz"))


def test_a_refused_spec_leaves_the_processes_own_tracebacks_whole() -> None:
    # SkyPilot raises inside print_exception_no_traceback(), which leaves
    # sys.tracebacklimit = 0 behind: every later traceback of the user's process, a
    # notebook's or a script's, would print as its last line only.
    before = getattr(sys, "tracebacklimit", None)
    with pytest.raises(UsageError):
        resources_for(spec(provider="awz"))
    assert getattr(sys, "tracebacklimit", None) == before


def test_a_container_image_is_refused_with_the_reason() -> None:
    with pytest.raises(NotSupportedError, match="container image"):
        resources_for(spec(image_id="docker:python:3.11"))


def _python(code: str, *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_importing_rhcli_and_its_cli_never_imports_skypilot() -> None:
    done = _python(
        "import sys, rhcli, rhcli.cli.main, rhcli.clusters.sky, rhcli.clusters.sky_launcher\n"
        "print(sorted(m for m in sys.modules if m == 'sky' or m.startswith('sky.')))"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# Runs the real CLI in a process where `import sky` fails, as without the extra.
_WITHOUT_SKY = (
    "import sys; sys.modules['sky'] = None\nfrom rhcli.cli.main import main; main(sys.argv[1:])\n"
)


def _cli_without_sky(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_SKY, *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO), "RHCLI_SKY_LAUNCHER": ""},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _manifest(project: Path) -> Path:
    path = project / "runhouse.yaml"
    path.write_text(
        "default_cluster: gpu\n"
        "clusters:\n"
        '  gpu: {type: sky, instance_type: "A100:1", provider: aws, autostop_mins: 10}\n'
    )
    return path


def test_without_skypilot_a_sky_cluster_fails_with_exactly_the_install_hint(
    project: Path,
) -> None:
    _manifest(project)
    done = _cli_without_sky("up", "gpu", cwd=project)
    assert done.returncode == ExitCode.USAGE
    assert done.stderr == (
        "error: cluster 'gpu' is a sky cluster. SkyPilot is not installed: "
        "pip install 'rhcli[sky]'\n"
    )
    assert done.stdout == ""
    # Everything else still works: the same manifest, another cluster.
    other = _cli_without_sky("sync", "local", cwd=project)
    assert other.returncode == 0, other.stderr
    assert "nothing to sync" in other.stdout
    # And from Python, at the moment the cluster is made.
    python = _python(
        "import sys; sys.modules['sky'] = None\n"
        "import rhcli as rh\n"
        "try:\n    rh.ondemand_cluster('a10', instance_type='A10G:1')\n"
        "except rh.UsageError as e:\n    print(type(e).__name__, e)\n",
        env={"RHCLI_SKY_LAUNCHER": ""},
    )
    assert python.stdout.strip() == (
        f"{SkyPilotMissingError.__name__} cluster 'a10' is a sky cluster. "
        "SkyPilot is not installed: pip install 'rhcli[sky]'"
    )


def _processes_with_home(home: Path) -> list[int]:
    """Live pids whose environment has HOME=home: the SkyPilot API server and its
    executors (which keep a readable environment: the suite sets SPT_NOENV)."""
    needle = f"HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid() and _running(int(entry.name)):
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie has ended; init reaps it when it can


def _stop_skypilot(env: dict[str, str], home: Path) -> list[int]:
    """Stop the API server this test started, and its executors, with SkyPilot's own
    `sky api stop` (it ends the server's whole process tree; killing the server by pid
    orphans the executors, ~170 MB each). The env's private port keeps it to this
    test's server. Then whatever of that HOME still runs is killed by process group;
    returns the pids that were left after `sky api stop`."""
    sky_cli = Path(sys.executable).parent / "sky"
    subprocess.run(
        [str(sky_cli), "api", "stop"], env=env, capture_output=True, timeout=120, check=False
    )
    deadline = time.monotonic() + 10
    while (left := _processes_with_home(home)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left


def test_a_launch_that_fails_inside_skypilot_ends_in_one_message_exit_3_and_no_record(
    project: Path, tmp_path: Path
) -> None:
    """Real SkyPilot, real API server (on a HOME and a port of the test's): with no cloud
    reachable from here, SkyPilot fails the launch (CloudError: it cannot fetch its
    catalog). Afterwards nothing of that API server is left running."""
    from tests.support.sshd import free_port

    home = tmp_path / "home"
    home.mkdir()
    _manifest(project)
    env = {
        **os.environ,
        "HOME": str(home),
        "RHCLI_SKY_LAUNCHER": "",
        # Its own API server, never another test session's on SkyPilot's default port.
        "SKYPILOT_API_SERVER_LOCAL_PORT": str(free_port()),
    }
    rhcli = Path(sys.executable).parent / "rhcli"
    try:
        done = subprocess.run(
            [str(rhcli), "up", "gpu"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert done.returncode == ExitCode.UNREACHABLE, done.stderr
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1
        assert errors[0].startswith(
            "error: launching cluster 'gpu' through SkyPilot failed: CloudError: "
        )
        assert errors[0].endswith("then run `rhcli up gpu` again")
        assert "Traceback" not in done.stderr
        assert done.stdout == ""
        # Nothing half-registered: SkyPilot itself has no record of the cluster.
        records = subprocess.run(
            [sys.executable, "-c", "import sky; print(len(sky.get(sky.status())))"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert records.stdout.strip().splitlines()[-1] == "0", records.stderr
        assert _processes_with_home(home), "no SkyPilot API server ran: nothing was tested"
    finally:
        left = _stop_skypilot(env, home)
    assert not left, f"SkyPilot processes left after `sky api stop`: {left}"


def test_a_teardown_that_fails_after_a_failed_launch_says_a_vm_may_still_be_billing(
    tmp_path: Path,
) -> None:
    """Real SkyPilot whose API server cannot be reached: both `sky down` and `sky down
    --purge` fail for real, and the user is told what that may mean and what to run."""
    from tests.support.sshd import free_port

    script = (
        "from pathlib import Path\n"
        "from rhcli.clusters.sky_launcher import SkyPilotLauncher\n"
        "launcher = SkyPilotLauncher(cluster='gpu', state_dir=Path('state'))\n"
        "print(launcher.forget_failed_launch('gpu'))\n"
    )
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "SKYPILOT_API_SERVER_ENDPOINT": f"http://127.0.0.1:{free_port()}",  # nobody there
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    said = done.stdout.strip().splitlines()[-1]
    assert said.startswith("tearing down what the failed launch made failed too (`sky down gpu`: ")
    assert "`sky down --purge gpu`: ApiServerConnectionError" in said
    assert "a VM of cluster 'gpu' may still be running and billing" in said
    assert "Check with `sky status gpu`" in said and "end it with `sky down gpu`" in said


def test_a_launch_error_ends_with_the_warning_when_a_vm_may_be_left() -> None:
    error = LaunchError(cluster="gpu", reason="CloudError: no quota", leftover="a VM may bill")
    assert str(error).endswith("then run `rhcli up gpu` again. WARNING: a VM may bill")
    assert error.exit_code == ExitCode.UNREACHABLE
    assert "WARNING" not in str(LaunchError(cluster="gpu", reason="CloudError: no quota"))


def test_read_only_commands_never_start_skypilots_api_server(project: Path, tmp_path: Path) -> None:
    """Real SkyPilot on a HOME of the test's where no API server runs: `status` and `runs`
    of a sky cluster say what they cannot know, exit 3, and leave no server behind (any
    other SkyPilot call would have started one, about 5 s and several processes)."""
    from tests.support.sshd import free_port

    home = tmp_path / "home"
    home.mkdir()
    _manifest(project)
    server = f"http://127.0.0.1:{free_port()}"  # this test's own, where nothing answers
    env = {
        **os.environ,
        "HOME": str(home),
        "RHCLI_SKY_LAUNCHER": "",
        "SKYPILOT_API_SERVER_ENDPOINT": server,
    }
    rhcli = Path(sys.executable).parent / "rhcli"
    try:
        for args in (["status", "gpu"], ["runs", "-c", "gpu"], ["--json", "status", "gpu"]):
            done = subprocess.run(
                [str(rhcli), *args],
                cwd=project,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == ExitCode.UNREACHABLE, done.stderr
            assert "Traceback" not in done.stderr
            said = done.stdout + done.stderr
            assert f"SkyPilot's API server at {server} is not answering" in said
            assert "`sky api start` starts it" in said
        assert _processes_with_home(home) == []
    finally:
        left = _stop_skypilot(env, home)
    assert not left, f"SkyPilot processes left behind: {left}"


def test_the_designs_ondemand_cluster_example_holds(
    sky: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rhcli as rh
    from rhcli.clusters.sky import OnDemandCluster
    from rhcli.clusters.sky_launcher import SkyPilotLauncher

    monkeypatch.delenv("RHCLI_SKY_LAUNCHER", raising=False)
    a10 = rh.ondemand_cluster(
        name="a10", instance_type="A10G:1", provider="aws", autostop_mins=30, use_spot=False
    )
    assert isinstance(a10, OnDemandCluster) and a10.type == "sky"
    assert isinstance(a10.launcher, SkyPilotLauncher)  # SkyPilot's own, nothing launched
    assert (
        rh.ondemand_cluster(
            name="a10", instance_type="A10G:1", provider="aws", autostop_mins=30, use_spot=False
        )
        is a10
    )
    (resources,) = task_for(a10.spec).resources
    assert resources.accelerators == {"A10G": 1}
    assert isinstance(resources.cloud, sky.clouds.AWS)
    assert resources.use_spot is False
    with pytest.raises(UsageError, match="num_nodes must be 1 or more"):
        rh.ondemand_cluster(name="bad", num_nodes=0)


# --- node addresses from SkyPilot's cluster handle ---------------------------------------


def _handle(sky: Any, instances: dict[str, tuple[str, str | None, int]], head: str) -> Any:
    """A real CloudVmRayResourceHandle whose addresses SkyPilot's own code filled in from
    a ClusterInfo, as it does after provisioning (instance id -> internal, external, port)."""
    from sky.backends.cloud_vm_ray_backend import CloudVmRayResourceHandle
    from sky.provision import common

    info = common.ClusterInfo(
        instances={
            name: [common.InstanceInfo(name, internal, external, {}, ssh_port=port)]
            for name, (internal, external, port) in instances.items()
        },
        head_instance_id=head,
        provider_name="aws",
    )
    handle = CloudVmRayResourceHandle(
        cluster_name="gpu",
        cluster_name_on_cloud="gpu-2ea4",
        cluster_yaml=None,
        launched_nodes=len(instances),
        launched_resources=sky.Resources(),
    )
    handle.update_cluster_ips(cluster_info=info)
    handle.update_ssh_ports()
    return handle


def test_every_nodes_external_address_and_port_come_from_the_handle_head_first(
    sky: Any, tmp_path: Path
) -> None:
    handle = _handle(
        sky,
        {
            "i-w2": ("10.0.0.9", "3.0.0.9", 2202),
            "i-head": ("10.0.0.5", "3.0.0.5", 22),
            "i-w1": ("10.0.0.7", "3.0.0.1", 2201),
        },
        head="i-head",
    )
    # SkyPilot puts the head first and sorts the workers by address...
    assert handle.cached_external_ips == ["3.0.0.5", "3.0.0.1", "3.0.0.9"]
    # ...but keeps the ports in instance order; each node keeps its own port here.
    assert node_addresses(handle) == (("3.0.0.5", "3.0.0.1", "3.0.0.9"), (22, 2201, 2202))

    record = SkyPilotLauncher(cluster="gpu", state_dir=tmp_path)._to_record(
        {
            "name": "gpu",
            "status": sky.ClusterStatus.UP,
            "handle": handle,
            "nodes": 3,
            "credentials": {"ssh_user": "ubuntu", "ssh_private_key_content": "KEY"},
        }
    )
    assert (record.head_ip, record.ssh_port, record.nodes) == ("3.0.0.5", 22, 3)
    assert record.node_ips == ("3.0.0.5", "3.0.0.1", "3.0.0.9")
    assert record.node_ports == (22, 2201, 2202)
    assert record.ssh_user == "ubuntu"
    assert Path(record.key_path or "").read_text() == "KEY"


def test_a_handle_read_back_from_the_api_server_gives_the_same_addresses(sky: Any) -> None:
    from sky.backends.cloud_vm_ray_backend import CloudVmRayResourceHandle

    handle = _handle(
        sky, {"i-h": ("10.0.0.5", "3.0.0.5", 22), "i-w": ("10.0.0.6", "3.0.0.6", 22)}, "i-h"
    )
    # The client gets the handle as to_dict() over the wire: no ClusterInfo any more.
    decoded = CloudVmRayResourceHandle.from_dict(handle.to_dict())
    assert decoded.cached_cluster_info is None
    assert node_addresses(decoded) == (("3.0.0.5", "3.0.0.6"), (22, 22))


def test_nodes_without_a_public_ip_are_given_as_unreachable_not_by_private_address(
    sky: Any,
) -> None:
    handle = _handle(
        sky, {"i-h": ("10.0.0.5", None, 22), "i-w": ("10.0.0.6", None, 22)}, head="i-h"
    )
    assert handle.cached_external_ips == ["10.0.0.5", "10.0.0.6"]  # SkyPilot's fallback
    assert node_addresses(handle) == (("", ""), (22, 22))


def test_a_handle_without_addresses_gives_no_nodes(sky: Any) -> None:
    from sky.backends.cloud_vm_ray_backend import CloudVmRayResourceHandle

    handle = CloudVmRayResourceHandle(
        cluster_name="gpu",
        cluster_name_on_cloud="gpu-2ea4",
        cluster_yaml=None,
        launched_nodes=2,
        launched_resources=sky.Resources(),
    )
    assert node_addresses(handle) == ((), ())
    assert node_addresses(None) == ((), ())
