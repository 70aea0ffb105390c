"""Where the dashboard listens, and when it opens a browser."""

from __future__ import annotations

import pytest

from rhcli.dashboard import server
from rhcli.errors import UsageError


def test_without_a_port_it_takes_8899_or_the_next_free_one() -> None:
    first = server.bind(None)
    try:
        second = server.bind(None)  # the first holds its port: the next one is taken
        try:
            ports = [s.getsockname()[1] for s in (first, second)]
            assert all(
                server.DEFAULT_PORT <= p < server.DEFAULT_PORT + server.PORT_TRIES for p in ports
            )
            assert ports[0] != ports[1]
            assert {s.getsockname()[0] for s in (first, second)} == {"127.0.0.1"}
        finally:
            second.close()
    finally:
        first.close()


def test_a_port_in_use_is_refused_with_what_to_do() -> None:
    taken = server.bind(0)
    try:
        port = taken.getsockname()[1]
        with pytest.raises(UsageError, match=f"port {port} on 127.0.0.1 is in use.*--port"):
            server.bind(port)
    finally:
        taken.close()


def test_no_browser_is_opened_without_a_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server.sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert not server.can_open_browser()
    monkeypatch.setenv("DISPLAY", ":0")
    assert server.can_open_browser()
    monkeypatch.delenv("DISPLAY")
    monkeypatch.setattr(server.sys, "platform", "darwin")
    assert server.can_open_browser()
