#!/usr/bin/env python3
"""Regenerate the dashboard's screenshots in docs/img/ (docs/dashboard.md shows them).

    .venv/bin/python scripts/dashboard_screenshots.py

Real parts: a local daemon on a temporary root (stopped and removed at the end), a few
runs and a map with failed items made through the library, `rhcli dashboard`, and
headless chromium (Debian's chromium and chromium-driver, driven by Selenium) taking
each page. Then one more picture of the nodes page from a second daemon whose NVML is
the tests' stand-in (tests/support/fake_nvml: two made-up GPUs), since no machine here
has a GPU; docs/dashboard.md says so under it. Check the pictures after: they are what
the docs promise.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "img"


def main() -> None:
    sys.path.insert(0, str(REPO))
    os.chdir(REPO)  # the sample functions live in tests/fixtures
    os.environ.pop("RHCLI_FILE", None)
    from tests.support import browser as browsers

    why = browsers.missing()
    if why:
        raise SystemExit(why)
    OUT.mkdir(parents=True, exist_ok=True)
    main_pages()
    gpu_nodes_page()


def main_pages() -> None:
    import rhcli as rh
    from tests.support import browser as browsers
    from tests.support.dashboard import start_dashboard

    home = Path(tempfile.mkdtemp(prefix="rhcli-shots-home-"))
    os.environ["RHCLI_HOME"] = str(home)
    local = rh.cluster("local")
    local.up()
    dashboard = None
    try:
        add = rh.function("tests.fixtures.funcs:add", system=local)
        add(2, 3)
        fail = rh.function("tests.fixtures.funcs:fail", system=local)
        fail_ref = fail.remote("the checkpoint is missing")
        items = rh.function("tests.fixtures.funcs:say_then_fail_on", system=local)
        items.map(
            range(240), bad=frozenset({17, 61, 62, 150, 203}), pause=0.04, return_exceptions=True
        )
        map_id = items.last_map_id
        ticks = rh.function("tests.fixtures.funcs:ticks", system=local)
        ticking = ticks.remote(400, 0.1)
        dashboard = start_dashboard("dashboard", "--no-open", "--port", "0", cwd=REPO)
        with browsers.browser(width=1280, height=860) as driver:
            driver.get(dashboard.url)
            time.sleep(2)
            shoot(driver, "dashboard-runs.png")
            driver.get(f"{dashboard.base}/#/run/{ticking}?cluster=local")
            time.sleep(4)
            shoot(driver, "dashboard-run.png")
            driver.get(f"{dashboard.base}/#/run/{fail_ref}?cluster=local")
            time.sleep(2)
            shoot(driver, "dashboard-run-failed.png")
            driver.get(f"{dashboard.base}/#/map/{map_id}?cluster=local")
            time.sleep(3)
            shoot(driver, "dashboard-map.png", full=True)
            driver.get(f"{dashboard.base}/#/nodes?cluster=local")
            time.sleep(12)  # a few samples for the chart
            shoot(driver, "dashboard-nodes.png")
        rh.cancel(ticking, cluster=local)
    finally:
        if dashboard is not None:
            dashboard.stop()
        local.down()
        shutil.rmtree(home, ignore_errors=True)


def gpu_nodes_page() -> None:
    """The nodes page of a daemon that "has" two GPUs (the NVML stand-in)."""
    import subprocess

    from tests.support import browser as browsers
    from tests.support.dashboard import start_dashboard

    home = Path(tempfile.mkdtemp(prefix="rhcli-shots-gpu-home-"))
    env = {
        **os.environ,
        "RHCLI_HOME": str(home),
        "PYTHONPATH": str(REPO / "tests" / "support" / "fake_nvml"),
        "FAKE_NVML_DEVICES": "NVIDIA H100 80GB HBM3:61440:81559:87,"
        "NVIDIA H100 80GB HBM3:2048:81559:4",
    }
    rhcli = str(Path(sys.executable).parent / "rhcli")
    subprocess.run([rhcli, "up", "local"], env=env, check=True)
    dashboard = None
    try:
        dashboard = start_dashboard("dashboard", "--no-open", "--port", "0", cwd=REPO, env=env)
        with browsers.browser(width=1280, height=860) as driver:
            driver.get(dashboard.url)
            driver.get(f"{dashboard.base}/#/nodes?cluster=local")
            time.sleep(8)
            shoot(driver, "dashboard-nodes-gpus.png")
    finally:
        if dashboard is not None:
            dashboard.stop()
        subprocess.run([rhcli, "down", "local"], env=env, check=False)
        shutil.rmtree(home, ignore_errors=True)


def shoot(driver: object, name: str, *, full: bool = False) -> None:
    """Save the page (full: as tall as its content) to docs/img/name."""
    if full:
        height = driver.execute_script("return document.body.scrollHeight")  # type: ignore[attr-defined]
        driver.set_window_size(1280, min(int(height) + 40, 3000))  # type: ignore[attr-defined]
        time.sleep(1.5)  # the page redraws its charts to the new size on the next event
    driver.save_screenshot(str(OUT / name))  # type: ignore[attr-defined]
    if full:
        driver.set_window_size(1280, 860)  # type: ignore[attr-defined]
    print(f"wrote docs/img/{name}")


if __name__ == "__main__":
    main()
