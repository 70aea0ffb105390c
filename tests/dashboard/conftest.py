"""One real `rhcli dashboard` of the session's local cluster, shared by these tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dashboard import Dashboard, start_dashboard


@pytest.fixture(scope="session")
def dashboard(local: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """`rhcli dashboard --no-open --port 0` from a folder without a manifest (so it
    shows the local cluster), signed in; stopped with Ctrl-C at the end."""
    where: Path = tmp_path_factory.mktemp("dashboard-cwd")
    found = start_dashboard("dashboard", "--no-open", "--port", "0", cwd=where)
    found.sign_in()
    try:
        yield found
    finally:
        code, err = found.stop()
        assert code == 0, err
        assert "dashboard stopped" in err
