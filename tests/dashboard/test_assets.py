"""The page ships whole inside the package: nothing is fetched from elsewhere."""

from __future__ import annotations

import re

from rhcli.dashboard.app import STATIC


def test_every_asset_the_page_names_ships_in_the_package() -> None:
    page = (STATIC / "index.html").read_text()
    named = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert len(named) >= 4
    for path in named:
        assert (STATIC / path.removeprefix("/static/")).is_file(), path


def test_no_asset_loads_anything_from_another_host() -> None:
    for path in STATIC.rglob("*"):
        if not path.is_file() or path.name.endswith("LICENSE"):
            continue
        text = path.read_text()
        urls = set(re.findall(r"https?://[^\"' )]+", text))
        # uPlot's banner names its home page in a comment; nothing loads it.
        assert urls <= {"https://github.com/leeoniya/uPlot"}, (path, urls)
        assert "import(" not in text and 'fetch("http' not in text, path
