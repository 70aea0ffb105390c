"""What a client and its daemon agree on besides the messages themselves.

Plain constants and one environment reader: importing this module costs nothing, so both
the CLI's fast paths and the daemon read their limits from here, and each number is
spelled once.
"""

from __future__ import annotations

import os

# Every RPC carries the daemon's token under this metadata key.
TOKEN_METADATA_KEY = "rhcli-token"  # noqa: S105 - the metadata key, not a secret

# Pickled payloads (arguments, results, exceptions, functions by value) use this protocol
# on both ends: 5 carries large buffers out of band, and every supported Python reads it.
PICKLE_PROTOCOL = 5

# The largest single gRPC message either end accepts. Nothing large travels as one
# message (see the chunk sizes below); this only lifts gRPC's 4 MiB default.
MAX_MESSAGE_BYTES = 1024 * 1024 * 1024

# Large values travel in chunks of this size (PutBlob up, ReadResult down).
CHUNK_BYTES = 1024 * 1024

# Arguments larger than this go up with PutBlob ahead of their call; results larger than
# this are left out of a reply (result_size says how large) and streamed by ReadResult.
INLINE_ARGS_LIMIT = 4 * 1024 * 1024
INLINE_REPLY_LIMIT = 4 * 1024 * 1024

# Extra seconds a client waits past a timeout the daemon enforces itself: the daemon
# answers first; this only bounds waiting on a daemon that stopped answering.
DEADLINE_GRACE_S = 30.0

# A map's id names folders on both ends (runs/<id>, maps/<id>) and, with ".<index>", its
# items: letters, digits, '-' and '_', no dots, no slashes.
MAP_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}"

MAX_ARG_BYTES_ENV = "RHCLI_MAX_ARG_BYTES"
# The default stays above what the daemon's messages and blobs carry well (results and
# arguments of 500 MB are tested) and below what would take a small cluster's memory.
DEFAULT_MAX_ARG_BYTES = 1024 * 1024 * 1024


class BadLimitError(ValueError):
    """$RHCLI_MAX_ARG_BYTES is set to something that is not a whole number of bytes."""


def max_arg_bytes() -> int:
    """The largest pickled (args, kwargs) a call may send: $RHCLI_MAX_ARG_BYTES or 1 GiB.

    The client refuses larger calls before sending anything; the daemon reads the same
    variable (or its --max-arg-bytes) and refuses larger uploads. Raises BadLimitError
    naming the variable when it is not a whole number.
    """
    raw = os.environ.get(MAX_ARG_BYTES_ENV, "")
    try:
        return int(raw) if raw else DEFAULT_MAX_ARG_BYTES
    except ValueError:
        raise BadLimitError(
            f"{MAX_ARG_BYTES_ENV}={raw!r} is not a whole number of bytes; unset it or set "
            "it to one (for example 104857600 for 100 MiB)"
        ) from None
