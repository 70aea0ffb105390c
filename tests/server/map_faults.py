"""The daemon's test hook for the map fault tests (RHCLI_DAEMON_TEST_HOOK names
`tests.server.map_faults:install`): the first run of any map raises inside the daemon's
map machinery, in the worker thread about to run the chunk that holds item FAULTY_ITEM.
A resume (MapStart.resume) runs untouched."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

FAULTY_ITEM = 5
MESSAGE = "injected fault in the daemon's map machinery"


def install(mapper: Any) -> None:
    def before_chunk(start: Any, indices: Sequence[int]) -> None:
        if not start.resume and FAULTY_ITEM in indices:
            raise RuntimeError(f"{MESSAGE} (item {FAULTY_ITEM})")

    mapper.before_chunk = before_chunk
