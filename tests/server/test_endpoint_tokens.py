"""Endpoint tokens: one per name, kept until unserved, in an owner-only file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rhcli.config.token_file import InsecureTokenFileError
from rhcli.server.endpoint_tokens import EndpointTokens


def test_a_token_is_made_once_per_name_and_outlives_the_daemon(tmp_path: Path) -> None:
    path = tmp_path / "endpoint_tokens.json"
    tokens = EndpointTokens(path)
    first = tokens.get_or_create("square")
    assert len(first) >= 32 and tokens.get_or_create("square") == first
    assert tokens.get_or_create("cube") != first
    assert EndpointTokens(path).get("square") == first  # a restarted daemon reads it back
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_dropping_a_token_forgets_it_for_good(tmp_path: Path) -> None:
    path = tmp_path / "endpoint_tokens.json"
    tokens = EndpointTokens(path)
    old = tokens.get_or_create("square")
    tokens.drop("square")
    tokens.drop("square")  # idempotent
    assert EndpointTokens(path).get("square") == ""
    assert tokens.get_or_create("square") != old


def test_a_token_file_others_may_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "endpoint_tokens.json"
    EndpointTokens(path).get_or_create("square")
    os.chmod(path, 0o644)
    with pytest.raises(InsecureTokenFileError, match="chmod 600"):
        EndpointTokens(path)
