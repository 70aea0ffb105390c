"""The daemon's token file: created 0600, read only when nobody else can read it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rhcli.config.token_file import (
    InsecureTokenFileError,
    check_token_file,
    create_token,
    read_token,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_create_token_writes_a_random_token_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "token"
    token = create_token(path)
    assert _mode(path) == 0o600
    assert path.read_text() == token
    assert len(token) >= 40  # 32 random bytes, url-safe base64


def test_create_token_leaves_no_temporary_file(tmp_path: Path) -> None:
    create_token(tmp_path / "token")
    assert [p.name for p in tmp_path.iterdir()] == ["token"]


def test_every_token_is_new(tmp_path: Path) -> None:
    path = tmp_path / "token"
    tokens = {create_token(path) for _ in range(5)}
    assert len(tokens) == 5
    assert read_token(path) in tokens


def test_create_token_replaces_a_loose_token_file_with_an_owner_only_one(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("old")
    path.chmod(0o644)
    token = create_token(path)
    assert _mode(path) == 0o600
    assert read_token(path) == token


def test_create_token_is_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        create_token(tmp_path / "token")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "token") == 0o600


def test_read_token_returns_the_token_without_surrounding_whitespace(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("s3cret\n")
    path.chmod(0o600)
    assert read_token(path) == "s3cret"


def test_read_token_accepts_a_read_only_owner_file(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("s3cret")
    path.chmod(0o400)
    assert read_token(path) == "s3cret"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602])
def test_read_token_refuses_a_file_others_can_read_or_write(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "token"
    path.write_text("s3cret")
    path.chmod(mode)
    with pytest.raises(InsecureTokenFileError) as caught:
        read_token(path)
    message = str(caught.value)
    assert str(path) in message
    assert f"{mode:04o}" in message
    assert f"chmod 600 {path}" in message
    assert "s3cret" not in message


def test_check_token_file_of_a_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    # LocalDaemon.read_token turns exactly this into "the daemon is not running".
    with pytest.raises(FileNotFoundError):
        check_token_file(tmp_path / "token")
