"""Who may read the dashboard: the token's holder, on 127.0.0.1, and only by reading."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.dashboard import Dashboard, start_dashboard


def test_the_address_printed_is_loopback_with_a_token(dashboard: Dashboard) -> None:
    assert re.fullmatch(
        r"Dashboard for local: http://127\.0\.0\.1:\d+/\?token=[\w-]{40,}   \(Ctrl-C to stop\)",
        dashboard.printed,
    )
    assert dashboard.process.poll() is None


def test_a_request_without_the_token_is_refused(dashboard: Dashboard) -> None:
    for path in ("/", "/api/clusters", "/api/runs/events", "/static/app.js"):
        status, _, body = dashboard.request(path)
        assert status == 401, path
        assert "token" in body and "local" not in body


def test_a_wrong_token_is_refused_and_sets_no_cookie(dashboard: Dashboard) -> None:
    status, headers, _ = dashboard.request("/?token=" + "x" * len(dashboard.token))
    assert status == 401
    assert "set-cookie" not in headers


def test_the_token_sets_a_strict_cookie_and_leaves_the_address(dashboard: Dashboard) -> None:
    status, headers, _ = dashboard.request("/?token=" + dashboard.token)
    assert status == 303
    assert headers["location"] == "/"
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"rhcli_dashboard_{dashboard.port}=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert dashboard.token not in cookie  # the cookie holds a session, not the token


def test_the_cookie_opens_every_page_with_strict_headers(dashboard: Dashboard) -> None:
    status, headers, body = dashboard.request("/", headers={"Cookie": dashboard.cookie})
    assert status == 200 and "<title>rhcli dashboard</title>" in body
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    status, _, body = dashboard.request("/api/clusters", headers={"Cookie": dashboard.cookie})
    assert status == 200 and '"default": "local"' in body.replace('":"', '": "')


def test_another_host_name_is_refused_even_with_the_cookie(dashboard: Dashboard) -> None:
    # A page elsewhere that points its own DNS name at 127.0.0.1 (DNS rebinding).
    status, _, _ = dashboard.request(
        "/api/clusters", headers={"Cookie": dashboard.cookie, "Host": "evil.example:80"}
    )
    assert status == 403


def test_the_dashboard_only_reads(dashboard: Dashboard) -> None:
    status, headers, _ = dashboard.request(
        "/api/clusters", method="POST", headers={"Cookie": dashboard.cookie}
    )
    assert status == 405 and headers["allow"] == "GET, HEAD"


def test_an_unknown_cluster_is_refused_before_serving(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    done = run_cli("dashboard", "nosuch", "--no-open", "--port", "0", cwd=tmp_path)
    assert done.returncode == 2
    assert "nosuch" in done.stderr and done.stdout == ""


def test_a_port_in_use_is_refused_with_what_to_do(dashboard: Dashboard, tmp_path: Path) -> None:
    from tests.conftest import run_cli

    done = run_cli("dashboard", "--no-open", "--port", str(dashboard.port), cwd=tmp_path)
    assert done.returncode == 2
    assert f"port {dashboard.port}" in done.stderr and "--port" in done.stderr


def test_json_prints_the_address_as_one_document(local: object, tmp_path: Path) -> None:
    import json

    second = start_dashboard("--json", "dashboard", "--no-open", "--port", "0", cwd=tmp_path)
    try:
        document = json.loads(second.printed)
        assert document["cluster"] == "local"
        assert document["url"].startswith(f"http://127.0.0.1:{document['port']}/?token=")
    finally:
        code, err = second.stop()
    assert code == 0, repr(err)
