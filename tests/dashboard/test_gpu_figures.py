"""GPU figures per node in `rhcli status` and on the nodes page, from a real daemon whose
NVML is the stand-in of tests/support/fake_nvml (no GPU can exist here): the one
boundary replaced, everything else (daemon, Ray, Nodes RPC, CLI, dashboard) real."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import processes_of_root, run_cli
from tests.support import browser as browsers
from tests.support.dashboard import Dashboard, running_dashboard

FAKE_NVML = Path(__file__).resolve().parent.parent / "support" / "fake_nvml"
DEVICES = "NVIDIA H100 80GB HBM3:40960:81559:73,NVIDIA H100 80GB HBM3:1024:81559:5"


@pytest.fixture(scope="module")
def gpu_env() -> Iterator[dict[str, str]]:
    """The environment of a daemon on its own root that "has" two GPUs; up for the
    module, down (and checked) after."""
    root = Path(tempfile.mkdtemp(prefix="rhcli-test-gpu-home-"))
    env = {
        "RHCLI_HOME": str(root),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(FAKE_NVML), os.environ.get("PYTHONPATH")])),
        "FAKE_NVML_DEVICES": DEVICES,
    }
    where = Path(tempfile.mkdtemp(prefix="rhcli-test-gpu-cwd-"))
    env["_CWD"] = str(where)
    up = run_cli("up", "local", cwd=where, env=env, timeout=180)
    assert up.returncode == 0, up.stderr
    try:
        yield env
    finally:
        run_cli("down", "local", cwd=where, env=env)
        left = processes_of_root(root)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(where, ignore_errors=True)
        assert not left, left


def test_status_shows_each_gpu_of_the_node(gpu_env: dict[str, str]) -> None:
    done = run_cli("status", "local", cwd=Path(gpu_env["_CWD"]), env=gpu_env)
    assert done.returncode == 0, done.stderr
    gpu_lines = [
        line.strip() for line in done.stdout.splitlines() if line.strip().startswith("gpu")
    ]
    assert gpu_lines == [
        "gpu 0    NVIDIA H100 80GB HBM3: 73% busy, memory 40.0 of 79.6 GiB",
        "gpu 1    NVIDIA H100 80GB HBM3: 5% busy, memory 1.0 of 79.6 GiB",
    ]
    assert "in use   CPU" in done.stdout


def test_status_json_carries_the_figures(gpu_env: dict[str, str]) -> None:
    done = run_cli("--json", "status", "local", cwd=Path(gpu_env["_CWD"]), env=gpu_env)
    (node,) = json.loads(done.stdout)["nodes"]
    assert [g["utilization"] for g in node["gpus"]] == [73.0, 5.0]
    assert node["gpus"][0]["memory_total"] == 81559 << 20
    assert node["usage_error"] == ""


def test_the_nodes_page_gets_the_same_figures(gpu_env: dict[str, str]) -> None:
    with running_dashboard(cwd=Path(gpu_env["_CWD"]), env=gpu_env) as dashboard:
        nodes = dashboard.first_event(
            "/api/nodes/events", "nodes", lambda found: bool(found and found[0]["gpus"])
        )
        cards = _gpu_cards_in_a_browser(dashboard)
    assert [card.splitlines() for card in cards] == [
        ["NVIDIA H100 80GB HBM3", "73% busy", "40.0 GiB of 79.6 GiB"],
        ["NVIDIA H100 80GB HBM3", "5% busy", "1.0 GiB of 79.6 GiB"],
    ]
    gpus = nodes[0]["gpus"]
    assert [(g["name"], g["utilization"]) for g in gpus] == [
        ("NVIDIA H100 80GB HBM3", 73.0),
        ("NVIDIA H100 80GB HBM3", 5.0),
    ]
    assert gpus[0]["memory_percent"] == round(100 * 40960 / 81559, 1)


def test_without_a_gpu_status_shows_none(local: object, tmp_path: Path) -> None:
    done = run_cli("status", "local", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "in use   CPU" in done.stdout
    assert not [line for line in done.stdout.splitlines() if line.strip().startswith("gpu")]
    assert "figures" not in done.stdout  # nothing missing, nothing wrong


def _gpu_cards_in_a_browser(dashboard: Dashboard) -> list[str]:
    """The text of each GPU on the nodes page, as a headless chromium shows it."""
    from selenium.webdriver.support.ui import WebDriverWait

    why = browsers.missing()
    if why:
        pytest.fail(f"no browser: {why}")
    with browsers.browser() as driver:
        driver.get(dashboard.url)
        driver.get(f"{dashboard.base}/#/nodes?cluster=local")
        found = WebDriverWait(driver, 30).until(
            lambda d: d.find_elements("css selector", ".node .gpu")
        )
        return [element.text for element in found]
