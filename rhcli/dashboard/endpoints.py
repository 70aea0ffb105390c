"""The endpoints page's rows: what ``rh.endpoints()`` says a cluster serves.

Serving (``fn.serve``, ``rh.endpoints``) is its own part of rhcli; the dashboard reads
it only through that public function, and says plainly when this rhcli has none.
Tokens are never shown: a field named like one is left out.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rhcli.clusters.base import Cluster

_SECRET_WORDS = ("token", "secret", "password", "key")


def endpoint_rows(cluster: Cluster) -> dict[str, Any]:
    """{"available": bool, "reason": why not, "endpoints": [one dict per endpoint]}."""
    import rhcli

    listing = getattr(rhcli, "endpoints", None)
    if listing is None:
        return {
            "available": False,
            "reason": "this rhcli cannot serve endpoints (it has no rh.endpoints)",
            "endpoints": [],
        }
    return {
        "available": True,
        "reason": "",
        "endpoints": [_row(endpoint) for endpoint in listing(cluster=cluster)],
    }


def _row(endpoint: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(endpoint) and not isinstance(endpoint, type):
        fields = dataclasses.asdict(endpoint)
    elif isinstance(endpoint, dict):
        fields = dict(endpoint)
    else:
        fields = {k: v for k, v in vars(endpoint).items() if not k.startswith("_")}
    return {
        name: value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        for name, value in fields.items()
        if not any(word in name.lower() for word in _SECRET_WORDS)
    }
