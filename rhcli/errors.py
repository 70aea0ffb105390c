"""Every error rhcli raises on purpose, in one flat module.

Each class carries the fields a caller needs (run id, path, line) and the CLI exit code it
maps to; the message always says what failed, where, and what to do next. The CLI's one
error boundary (``rhcli.cli.main``) turns these into one line on stderr and that exit code.

Exit codes (the public contract, also printed by ``rhcli --help``):
    0 ok; 1 the function raised; 2 usage or manifest error; 3 cluster or daemon unreachable
    or refused (auth, version); 4 timed out; 5 map finished with some items failed;
    130 interrupted (the run goes on).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FUNCTION_RAISED = 1
    USAGE = 2
    UNREACHABLE = 3
    TIMED_OUT = 4
    MAP_PARTIAL = 5
    INTERRUPTED = 130


class RhcliError(Exception):
    """Base of every error rhcli raises on purpose."""

    exit_code: ExitCode = ExitCode.USAGE


# --- usage and input -------------------------------------------------------------------


class UsageError(RhcliError):
    """The command or call was given something it cannot use."""

    exit_code = ExitCode.USAGE


class ManifestError(UsageError):
    """runhouse.yaml is malformed or invalid; names the file, line and column."""

    def __init__(
        self, message: str, *, path: str, line: int | None = None, column: int | None = None
    ) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.reason = message
        where = path if line is None else f"{path}:{line}:{column or 1}"
        super().__init__(f"{where}: {message}")


class UnknownFunctionError(UsageError):
    """A function name that the manifest does not define."""

    def __init__(self, name: str, known: list[str], *, manifest: str | None) -> None:
        self.name = name
        self.known = sorted(known)
        where = f" in {manifest}" if manifest else " (no runhouse.yaml was found)"
        listing = ", ".join(self.known) if self.known else "none"
        super().__init__(
            f"unknown function {name!r}{where}; known functions: {listing}. "
            "Name one of them, or give an entrypoint as module:function."
        )


class UnknownClusterError(UsageError):
    """A cluster name that the manifest does not define."""

    def __init__(self, name: str, known: list[str], *, manifest: str | None) -> None:
        self.name = name
        self.known = sorted(known)
        where = f" in {manifest}" if manifest else ""
        super().__init__(
            f"unknown cluster {name!r}{where}; known clusters: {', '.join(self.known)}."
        )


class EntrypointNotFoundError(UsageError):
    """The module or attribute named by an entrypoint does not exist on the cluster, or
    the module cannot be imported there because a package it imports is missing."""

    def __init__(
        self,
        message: str,
        *,
        entrypoint: str,
        run_id: str | None = None,
        remote_traceback: str = "",
    ) -> None:
        self.entrypoint = entrypoint
        self.run_id = run_id
        self.remote_traceback = remote_traceback
        super().__init__(message)


class ArgumentNotSerializableError(UsageError):
    """An argument could not be pickled; raised before anything is sent."""

    def __init__(self, argument: str, cause: BaseException) -> None:
        self.argument = argument
        super().__init__(
            f"argument {argument} cannot be sent to the cluster: "
            f"{type(cause).__name__}: {cause}. Pass a picklable value instead "
            "(for example a path, or the data rather than an open handle)."
        )


class ArgumentTooLargeError(UsageError):
    """The call's pickled arguments exceed the size limit; raised before a run is made."""

    def __init__(self, *, argument: str, size: int, limit: int) -> None:
        self.argument = argument
        self.size = size
        self.limit = limit
        super().__init__(
            f"argument {argument} is too large to send: the call's arguments pickle to "
            f"{size:,} bytes, over the limit of {limit:,} bytes (RHCLI_MAX_ARG_BYTES). "
            "Pass a path or URL the function can read on the cluster instead, or raise the "
            "limit on both the client and the daemon."
        )


class NotSupportedError(UsageError):
    """A feature that this kind of cluster does not offer."""


# --- cluster, daemon and transport --------------------------------------------------------


class UnreachableError(RhcliError):
    """The cluster or its daemon cannot be reached, or refused us.

    run_id is set when the connection was lost after a call was sent: the run may be
    recorded (and go on, or be marked failed by the next daemon), so it can be fetched
    by that id once the daemon is back.
    """

    exit_code = ExitCode.UNREACHABLE
    run_id: str | None = None


class DaemonNotRunningError(UnreachableError):
    """No daemon answers for this cluster."""


class DaemonStartError(UnreachableError):
    """The daemon was started but never answered; carries the tail of its log."""


class AuthError(UnreachableError):
    """The daemon refused our token."""


class VersionMismatchError(UnreachableError):
    """The daemon runs another rhcli version than this client."""

    def __init__(
        self,
        *,
        cluster: str,
        client_version: str,
        daemon_version: str,
        update_command: str | None = None,
    ) -> None:
        self.client_version = client_version
        self.daemon_version = daemon_version
        self.update_command = update_command or f"rhcli restart {cluster}"
        super().__init__(
            f"cluster {cluster!r} runs rhcli {daemon_version}, this client is {client_version}; "
            f"update it with `{self.update_command}`."
        )


class ResourcesUnavailableError(UnreachableError):
    """The cluster can never satisfy a function's resource request."""


class SkyPilotMissingError(UsageError):
    """A sky cluster was used without SkyPilot installed (the `sky` extra).

    Exit code 2: nothing was contacted; the client's own setup lacks a part, which the
    user fixes with one install, like any other configuration error.
    """

    HINT = "SkyPilot is not installed: pip install 'rhcli[sky]'"

    def __init__(self, cluster: str) -> None:
        self.cluster = cluster
        super().__init__(f"cluster {cluster!r} is a sky cluster. {self.HINT}")


class LaunchError(UnreachableError):
    """SkyPilot could not launch (or restart) an on-demand cluster; carries its reason.

    Nothing is left half-registered: a record the failed launch created is torn down.
    """

    def __init__(self, *, cluster: str, reason: str) -> None:
        self.cluster = cluster
        self.reason = reason
        super().__init__(
            f"launching cluster {cluster!r} through SkyPilot failed: {reason}. Check your "
            "cloud credentials and quota (`sky check`), or pick another instance_type, "
            "provider or region; then run `rhcli up " + cluster + "` again"
        )


# --- runs ---------------------------------------------------------------------------------


class RunError(RhcliError):
    """A run ended without a result for a reason other than the function raising."""

    exit_code = ExitCode.FUNCTION_RAISED

    def __init__(self, message: str, *, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(message)


class RunTimeoutError(RunError, TimeoutError):
    """The run outlived its timeout and was stopped."""

    exit_code = ExitCode.TIMED_OUT


class WaitTimeoutError(RunError, TimeoutError):
    """rh.get gave up waiting; the run itself goes on."""

    exit_code = ExitCode.TIMED_OUT


class RunCancelledError(RunError):
    """The run was cancelled before it ended."""


class UnknownRunError(UsageError):
    """No run of this id on the cluster (never made, or past its retention)."""


class WorkerDiedError(RunError):
    """The worker process running the call died (segfault, os._exit, out of memory)."""


class ResultNotSerializableError(RunError):
    """The function returned, but its result could not be pickled back."""


class RemoteError(RhcliError):
    """The function raised an exception that cannot be rebuilt here as its own type.

    Carries the remote type name, message and traceback; ``str()`` names the run id.
    """

    exit_code = ExitCode.FUNCTION_RAISED

    def __init__(self, *, type_name: str, message: str, remote_traceback: str, run_id: str) -> None:
        self.type_name = type_name
        self.message = message
        self.remote_traceback = remote_traceback
        self.run_id = run_id
        super().__init__(f"{type_name}: {message} (run {run_id})")
