"""The endpoints page's rows: what rh.endpoints() lists, tokens left out; or, where this
rhcli has no serving, a plain statement of that (never an empty list passed off as
"nothing served")."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import rhcli
from rhcli.dashboard.endpoints import endpoint_rows


@dataclass
class Served:
    name: str
    route: str
    replicas: int
    status: str
    url: str
    token: str


def test_without_serving_the_page_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(rhcli, "endpoints", raising=False)
    found = endpoint_rows(cluster=None)  # type: ignore[arg-type]
    assert found["available"] is False
    assert "rh.endpoints" in found["reason"]


def test_each_endpoint_is_a_row_and_its_token_is_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = []

    def endpoints(*, cluster: object) -> list[Served]:
        asked.append(cluster)
        return [Served("square", "/sq", 2, "running", "http://127.0.0.1:41000/sq", "s3cret")]

    monkeypatch.setattr(rhcli, "endpoints", endpoints, raising=False)
    found = endpoint_rows(cluster="the cluster")  # type: ignore[arg-type]
    assert asked == ["the cluster"]
    assert found == {
        "available": True,
        "reason": "",
        "endpoints": [
            {
                "name": "square",
                "route": "/sq",
                "replicas": 2,
                "status": "running",
                "url": "http://127.0.0.1:41000/sq",
            }
        ],
    }
