"""`rhcli dashboard` of an SSH cluster (the loopback sshd): the page reads the cluster
through the same tunnel as every call, and no port is opened on the cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import browser as browsers
from tests.support.dashboard import Dashboard, running_dashboard


@pytest.fixture
def box_dashboard(box: Any, git_project: Path) -> Iterator[Dashboard]:
    box.manifest(git_project)  # "box" is the project's default cluster
    with running_dashboard(cwd=git_project) as found:
        yield found


def test_the_dashboard_follows_a_run_on_the_ssh_cluster(box: Any, box_dashboard: Dashboard) -> None:
    import rhcli as rh

    assert box_dashboard.printed.startswith("Dashboard for box: http://127.0.0.1:")
    ticks = rh.function("tests.fixtures.funcs:ticks", system=box.cluster)
    ref = ticks.remote(12, 0.2)

    runs = box_dashboard.first_event(
        "/api/runs/events", "runs", lambda found: any(r["run_id"] == ref for r in found)
    )
    assert next(r for r in runs if r["run_id"] == ref)["function"] == "ticks"
    lines, status = box_dashboard.log(f"/api/runs/{ref}/log?cluster=box")
    assert [line["text"] for line in lines] == [f"tick {i}" for i in range(12)]
    assert status == "succeeded"
    nodes = box_dashboard.first_event("/api/nodes/events", "nodes", lambda found: bool(found))
    assert nodes[0]["head"] and nodes[0]["memory_total"] > 0
    assert nodes[0]["gpus"] == []


def test_the_page_works_through_the_tunnel_in_a_browser(box: Any, box_dashboard: Dashboard) -> None:
    import rhcli as rh

    why = browsers.missing()
    if why:
        pytest.fail(f"no browser: {why}")
    ref = rh.function("tests.fixtures.funcs:ticks", system=box.cluster).remote(5, 0.1)
    with browsers.browser() as driver:
        from selenium.webdriver.support.ui import WebDriverWait

        driver.get(box_dashboard.url)
        WebDriverWait(driver, 30).until(
            lambda d: d.find_elements("css selector", f'tr[data-run-id="{ref}"]')
        )
        driver.get(f"{box_dashboard.base}/#/run/{ref}?cluster=box")
        WebDriverWait(driver, 60).until(lambda d: d.find_elements("id", "log-end"))
        lines = [el.text for el in driver.find_elements("css selector", "#log div[data-seq]")]
    assert lines == [f"tick {i}" for i in range(5)]
