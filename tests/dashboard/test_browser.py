"""The dashboard in a real browser (headless chromium driven by Selenium), against the
session's real daemon: what a person watching a cluster sees."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import browser as browsers
from tests.support.dashboard import Dashboard

WAIT_S = 30.0


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    why = browsers.missing()
    if why:
        pytest.fail(f"no browser for the dashboard tests: {why} (scripts/test.sh installs it)")
    with browsers.browser() as found:
        yield found


def wait(driver: Any, condition: Any, timeout: float = WAIT_S) -> Any:
    """condition's first true value; live pages redraw what they show, so an element a
    condition found may be replaced before it reads it: that try counts as not yet."""
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
    )
    from selenium.webdriver.support.ui import WebDriverWait

    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(driver, timeout, poll_frequency=0.1, ignored_exceptions=ignored).until(
        condition
    )


def css(driver: Any, selector: str) -> list[Any]:
    return list(driver.find_elements("css selector", selector))


def click(driver: Any, selector: str) -> None:
    """Click the element at selector; live pages redraw their tables as data changes, so
    an element found a moment ago may be gone: find it again until the click lands."""
    from selenium.common.exceptions import StaleElementReferenceException

    def landed(d: Any) -> bool:
        try:
            d.find_element("css selector", selector).click()
        except StaleElementReferenceException:
            return False
        return True

    wait(driver, landed)


def open_signed_in(driver: Any, dashboard: Dashboard, fragment: str = "") -> None:
    driver.get(dashboard.url)  # the token sets the cookie, the page opens without it
    wait(driver, lambda d: "token=" not in d.current_url)
    if fragment:
        driver.get(f"{dashboard.base}/#{fragment}")
    wait(driver, lambda d: css(d, "#live.on"))


def test_a_page_opened_without_the_token_shows_nothing_of_the_cluster(
    dashboard: Dashboard,
) -> None:
    with browsers.browser() as fresh:  # a browser without the cookie
        fresh.get(dashboard.base + "/#/runs")
        body = fresh.find_element("tag name", "body").text
    assert "needs the address" in body
    assert "Runs" not in body


def test_a_new_run_appears_without_reloading_and_its_log_arrives_live(
    dashboard: Dashboard, driver: Any, local: Any, tmp_path: Path
) -> None:
    import rhcli as rh

    open_signed_in(driver, dashboard, "/runs")
    driver.execute_script("window.stillTheSamePage = true")
    gate = tmp_path / "gate"  # the run prints until the test opens it
    ref = rh.function("tests.fixtures.funcs:tick_until", system=local).remote(str(gate))

    wait(driver, lambda d: css(d, f'tr[data-run-id="{ref}"]'))
    assert driver.execute_script("return window.stillTheSamePage") is True  # no reload
    click(driver, f'tr[data-run-id="{ref}"] a')

    wait(driver, lambda d: css(d, "#log div[data-seq]"))
    first = len(css(driver, "#log div[data-seq]"))
    wait(driver, lambda d: len(css(d, "#log div[data-seq]")) > first)  # more, as printed
    assert "running" in driver.find_element("id", "run-status").text
    gate.touch()
    wait(driver, lambda d: css(d, "#log-end"))
    lines = [el.text for el in css(driver, "#log div[data-seq]")]
    assert lines == [f"tick {i}" for i in range(len(lines))]  # each once, in order
    assert "succeeded" in driver.find_element("id", "log-end").text
    wait(driver, lambda d: "succeeded" in d.find_element("id", "run-status").text)
    assert driver.find_element("id", "run-result").text == str(len(lines))
    assert "tick_until" in driver.find_element("id", "run-facts").text
    commands = driver.find_element("id", "run-commands").text
    assert f"rhcli -c local get {ref}" in commands


def test_a_failed_run_shows_its_exception_and_remote_traceback(
    dashboard: Dashboard, driver: Any, local: Any
) -> None:
    import rhcli as rh

    fail = rh.function("tests.fixtures.funcs:fail", system=local)
    ref = fail.remote("the disk is on fire")
    open_signed_in(driver, dashboard, f"/run/{ref}?cluster=local")
    error = wait(driver, lambda d: css(d, "#run-error"))[0]
    assert "the disk is on fire" in error.text
    traceback = driver.find_element("id", "run-traceback").text
    assert "Traceback" in traceback and "funcs.py" in traceback
    assert "'the disk is on fire'" in driver.find_element("id", "run-facts").text  # arguments


def test_a_map_lists_its_failed_items_with_reasons_and_their_logs(
    dashboard: Dashboard, driver: Any, local: Any
) -> None:
    import rhcli as rh

    fn = rh.function("tests.fixtures.funcs:say_then_fail_on", system=local)
    results = fn.map(range(30), bad=frozenset({4, 17, 25}), return_exceptions=True)
    assert sum(isinstance(r, Exception) for r in results) == 3
    map_id = fn.last_map_id

    open_signed_in(driver, dashboard, f"/map/{map_id}?cluster=local")
    wait(driver, lambda d: len(css(d, "#failed-body tr[data-index]")) == 3)
    rows = css(driver, "#failed-body tr[data-index]")
    assert [r.get_attribute("data-index") for r in rows] == ["4", "17", "25"]
    assert "item 17 is bad" in rows[1].find_element("css selector", ".reason").text
    progress = driver.find_element("id", "map-progress-text").text
    assert progress.startswith("30 of 30 items ended")
    assert "failed" in driver.find_element("id", "map-status").text
    assert css(driver, "#map-grid") and css(driver, "#map-throughput .uplot")

    click(driver, '#failed-body tr[data-index="17"] td:last-child a')  # item 17's log
    wait(driver, lambda d: css(d, "#log-end"))
    assert [el.text for el in css(driver, "#log div[data-seq]")] == ["working on 17"]
    assert "item 17 is bad" in driver.find_element("id", "run-error").text


def test_the_runs_page_filters_by_status_and_function(
    dashboard: Dashboard, driver: Any, local: Any
) -> None:
    import rhcli as rh

    rh.function("tests.fixtures.funcs:add", system=local)(1, 2)
    rh.function("tests.fixtures.funcs:fail_value", system=local).remote()
    open_signed_in(driver, dashboard, "/runs?cluster=local&status=failed")
    wait(driver, lambda d: css(d, "#runs-body tr"))
    statuses = {el.text for el in css(driver, "#runs-body .status")}
    assert statuses == {"failed"}
    driver.get(f"{dashboard.base}/#/runs?cluster=local&function=add")
    wait(
        driver,
        lambda d: (
            css(d, "#runs-body tr")
            and all(
                r.find_elements("css selector", "td")[1].text == "add"
                for r in css(d, "#runs-body tr")
            )
        ),
    )


def test_the_nodes_page_shows_use_and_what_runs_where(
    dashboard: Dashboard, driver: Any, local: Any
) -> None:
    import rhcli as rh

    ref = rh.function("tests.fixtures.funcs:sleep_then", system=local).remote(8, "done")
    open_signed_in(driver, dashboard, "/nodes?cluster=local")
    card = wait(driver, lambda d: css(d, ".node"))[0]
    wait(driver, lambda d: ref in d.find_element("css selector", ".node-runs").text)
    assert "%" in card.find_element("css selector", ".cpu").text
    assert "GiB of" in card.find_element("css selector", ".memory").text
    assert card.find_element("css selector", ".gpus").text == "none"  # no GPU here
    assert "(head)" in card.text
