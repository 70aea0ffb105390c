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


class HostSetupError(UnreachableError):
    """A host lacks something rhcli needs there (rsync, Python 3.10+, a writable root,
    free disk, port forwarding...): a condition of the user's environment, never an
    internal error. Carries the host, what is missing and the fix."""

    def __init__(self, *, host: str, missing: str, fix: str) -> None:
        self.host = host
        self.missing = missing
        self.fix = fix
        super().__init__(f"{host}: {missing}. {fix}")


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
    When that teardown fails too, `leftover` says so (a VM may still be running and
    billing) with the SkyPilot commands to check, and the message ends with it.
    """

    def __init__(self, *, cluster: str, reason: str, leftover: str = "") -> None:
        self.cluster = cluster
        self.reason = reason
        self.leftover = leftover
        message = (
            f"launching cluster {cluster!r} through SkyPilot failed: {reason}. Check your "
            "cloud credentials and quota (`sky check`), or pick another instance_type, "
            "provider or region; then run `rhcli up " + cluster + "` again"
        )
        super().__init__(f"{message}. WARNING: {leftover}" if leftover else message)


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


class ResultLostError(RunError):
    """The run succeeded, but its stored result is gone or cut (the cluster's machine lost
    power before the result file reached its disk): never read as a value."""


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


# --- maps ---------------------------------------------------------------------------------


class MapStoppedError(UnreachableError):
    """The daemon stopped a map itself (a failure of its own, a full disk); the map's
    record says why. Raised by the transport; the library turns it into
    MapIncompleteError."""


class MapIncompleteError(UnreachableError):
    """A map ended with items that have no result, because the cluster or its daemon
    failed (a lost connection, a full disk, a failure of the daemon's own): exit 3.

    Never a None in a result's place: the items that have a result keep it (in the
    map's journal and on the cluster), and a resume runs only the others. Carries
    map_id, missing (items without a result), total, reason (the first cause),
    cluster_lost (the cluster or its connection went away, rather than the daemon
    stopping the map) and resume_hint (how to run the rest).
    """

    def __init__(
        self,
        *,
        map_id: str,
        missing: int,
        total: int,
        reason: str,
        cluster_lost: bool,
        resume_hint: str = "",
    ) -> None:
        self.map_id = map_id
        self.missing = missing
        self.total = total
        self.reason = reason
        self.cluster_lost = cluster_lost
        self.resume_hint = resume_hint or f"fn.map(<the same inputs>, resume={map_id!r})"
        super().__init__(
            f"map {map_id}: {missing} of {total} items have no result ({reason.rstrip('.')}). "
            f"Resume it with `{self.resume_hint}`: it runs only the items without a result"
        )

    def with_hint(self, resume_hint: str) -> MapIncompleteError:
        """The same error, naming another way to resume (the CLI's command)."""
        return MapIncompleteError(
            map_id=self.map_id,
            missing=self.missing,
            total=self.total,
            reason=self.reason,
            cluster_lost=self.cluster_lost,
            resume_hint=resume_hint,
        )


class ChangedInputError(UsageError):
    """A resume was given other inputs than the map ran; names the first that differs."""

    def __init__(self, *, map_id: str, index: int, why: str = "") -> None:
        self.map_id = map_id
        self.index = index
        super().__init__(
            f"input item {index} is not the item {index} map {map_id} ran"
            f"{' (' + why + ')' if why else ''}: a resume needs the same inputs in the same "
            "order. Start a new map (without resume) for changed inputs; nothing was sent"
        )


class MapJournalError(UsageError):
    """The client could not write a map's journal (its own disk is full, or the folder is
    not writable): the map stops here, its results so far kept on the cluster."""


# --- HTTP endpoints -------------------------------------------------------------------------


class EndpointFailedError(RhcliError):
    """An endpoint's deploy failed: its replicas could not start (the module raised on
    import, the entrypoint is missing, ...); carries Ray Serve's reason."""

    exit_code = ExitCode.FUNCTION_RAISED

    def __init__(self, *, name: str, cluster: str, reason: str) -> None:
        self.name = name
        self.cluster = cluster
        self.reason = reason
        super().__init__(
            f"endpoint {name!r} on {cluster} failed to start: {reason}\n"
            f"Fix the code and serve it again; `rhcli logs --endpoint {name}` shows what "
            "its replicas printed"
        )


class EndpointNotReadyError(RhcliError, TimeoutError):
    """An endpoint's replicas were not running when the wait ended; the deploy goes on."""

    exit_code = ExitCode.TIMED_OUT

    def __init__(self, *, name: str, cluster: str, status: str, message: str, waited: float):
        self.name = name
        self.cluster = cluster
        super().__init__(
            f"endpoint {name!r} on {cluster} is still {status} after {waited:.0f} s"
            + (f" ({message})" if message else "")
            + ". The deploy goes on: `rhcli endpoints` shows when it runs (its replicas may "
            "be waiting for room on the cluster)"
        )
