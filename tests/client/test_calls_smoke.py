"""Blocking calls through the local cluster's real daemon."""

from __future__ import annotations

import rhcli as rh
from tests.fixtures import funcs


def test_call_by_reference_returns_the_result(local) -> None:
    add = rh.function(funcs.add, system=local)
    assert add.source.entrypoint == "tests.fixtures.funcs:add"
    assert add(2, 3) == 5


def test_lambda_travels_by_value(local) -> None:
    double = rh.function(lambda x: x * 2, system=local)
    assert double.source.by_value
    assert double(21) == 42
