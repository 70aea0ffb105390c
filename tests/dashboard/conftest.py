"""One real `rhcli dashboard` of the session's local cluster, shared by these tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.dashboard import Dashboard, running_dashboard


@pytest.fixture(scope="session")
def dashboard(local: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """The dashboard, started from a folder without a manifest (so it shows the local
    cluster), signed in; stopped with Ctrl-C at the end."""
    with running_dashboard(cwd=tmp_path_factory.mktemp("dashboard-cwd")) as found:
        yield found
