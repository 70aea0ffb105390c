"""The daemon's endpoint manager where no cluster is needed: what a daemon without Ray
Serve answers (the rest runs against real Serve in tests/client/test_endpoints.py)."""

from __future__ import annotations

import sys

import pytest

from rhcli.server.serving import ServeMissing, import_serve


def test_a_daemon_without_ray_serve_says_what_to_install_and_where(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ray

    monkeypatch.delattr(ray, "serve", raising=False)
    monkeypatch.setitem(sys.modules, "ray.serve", None)  # `import ray.serve` now fails
    with pytest.raises(ServeMissing) as info:
        import_serve()
    message = str(info.value)
    assert sys.executable in message
    assert f"pip install 'ray[serve]=={ray.__version__}'" in message
    assert "pip install 'rhcli[serve]'" in message
