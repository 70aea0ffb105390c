from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RunStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_STATUS_UNSPECIFIED: _ClassVar[RunStatus]
    QUEUED: _ClassVar[RunStatus]
    RUNNING: _ClassVar[RunStatus]
    SUCCEEDED: _ClassVar[RunStatus]
    FAILED: _ClassVar[RunStatus]
    CANCELLED: _ClassVar[RunStatus]
    TIMED_OUT: _ClassVar[RunStatus]

class FailureKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FAILURE_KIND_UNSPECIFIED: _ClassVar[FailureKind]
    RAISED: _ClassVar[FailureKind]
    ENTRYPOINT_NOT_FOUND: _ClassVar[FailureKind]
    WORKER_DIED: _ClassVar[FailureKind]
    RESULT_NOT_SERIALIZABLE: _ClassVar[FailureKind]
    TIMEOUT: _ClassVar[FailureKind]
    RESOURCES_UNAVAILABLE: _ClassVar[FailureKind]
    INTERNAL: _ClassVar[FailureKind]
RUN_STATUS_UNSPECIFIED: RunStatus
QUEUED: RunStatus
RUNNING: RunStatus
SUCCEEDED: RunStatus
FAILED: RunStatus
CANCELLED: RunStatus
TIMED_OUT: RunStatus
FAILURE_KIND_UNSPECIFIED: FailureKind
RAISED: FailureKind
ENTRYPOINT_NOT_FOUND: FailureKind
WORKER_DIED: FailureKind
RESULT_NOT_SERIALIZABLE: FailureKind
TIMEOUT: FailureKind
RESOURCES_UNAVAILABLE: FailureKind
INTERNAL: FailureKind

class HealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HealthReply(_message.Message):
    __slots__ = ("version", "pid", "started_at", "uptime_s", "home", "python", "resources", "available", "runs_running", "workers")
    class ResourcesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class AvailableEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    UPTIME_S_FIELD_NUMBER: _ClassVar[int]
    HOME_FIELD_NUMBER: _ClassVar[int]
    PYTHON_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    RUNS_RUNNING_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    version: str
    pid: int
    started_at: float
    uptime_s: float
    home: str
    python: str
    resources: _containers.ScalarMap[str, float]
    available: _containers.ScalarMap[str, float]
    runs_running: int
    workers: int
    def __init__(self, version: _Optional[str] = ..., pid: _Optional[int] = ..., started_at: _Optional[float] = ..., uptime_s: _Optional[float] = ..., home: _Optional[str] = ..., python: _Optional[str] = ..., resources: _Optional[_Mapping[str, float]] = ..., available: _Optional[_Mapping[str, float]] = ..., runs_running: _Optional[int] = ..., workers: _Optional[int] = ...) -> None: ...

class FunctionRef(_message.Message):
    __slots__ = ("name", "entrypoint", "pickled", "code_root")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENTRYPOINT_FIELD_NUMBER: _ClassVar[int]
    PICKLED_FIELD_NUMBER: _ClassVar[int]
    CODE_ROOT_FIELD_NUMBER: _ClassVar[int]
    name: str
    entrypoint: str
    pickled: bytes
    code_root: str
    def __init__(self, name: _Optional[str] = ..., entrypoint: _Optional[str] = ..., pickled: _Optional[bytes] = ..., code_root: _Optional[str] = ...) -> None: ...

class Resources(_message.Message):
    __slots__ = ("num_cpus", "num_gpus", "memory", "custom")
    class CustomEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NUM_CPUS_FIELD_NUMBER: _ClassVar[int]
    NUM_GPUS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_FIELD_NUMBER: _ClassVar[int]
    num_cpus: float
    num_gpus: float
    memory: float
    custom: _containers.ScalarMap[str, float]
    def __init__(self, num_cpus: _Optional[float] = ..., num_gpus: _Optional[float] = ..., memory: _Optional[float] = ..., custom: _Optional[_Mapping[str, float]] = ...) -> None: ...

class CallRequest(_message.Message):
    __slots__ = ("run_id", "function", "args", "timeout_s", "resources", "want_json")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    WANT_JSON_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    function: FunctionRef
    args: bytes
    timeout_s: float
    resources: Resources
    want_json: bool
    def __init__(self, run_id: _Optional[str] = ..., function: _Optional[_Union[FunctionRef, _Mapping]] = ..., args: _Optional[bytes] = ..., timeout_s: _Optional[float] = ..., resources: _Optional[_Union[Resources, _Mapping]] = ..., want_json: _Optional[bool] = ...) -> None: ...

class RemoteException(_message.Message):
    __slots__ = ("type_name", "message", "traceback", "pickled")
    TYPE_NAME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRACEBACK_FIELD_NUMBER: _ClassVar[int]
    PICKLED_FIELD_NUMBER: _ClassVar[int]
    type_name: str
    message: str
    traceback: str
    pickled: bytes
    def __init__(self, type_name: _Optional[str] = ..., message: _Optional[str] = ..., traceback: _Optional[str] = ..., pickled: _Optional[bytes] = ...) -> None: ...

class RunOutcome(_message.Message):
    __slots__ = ("status", "failure", "result", "result_json", "result_repr", "error", "reason", "started_at", "ended_at")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    RESULT_REPR_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    status: RunStatus
    failure: FailureKind
    result: bytes
    result_json: str
    result_repr: str
    error: RemoteException
    reason: str
    started_at: float
    ended_at: float
    def __init__(self, status: _Optional[_Union[RunStatus, str]] = ..., failure: _Optional[_Union[FailureKind, str]] = ..., result: _Optional[bytes] = ..., result_json: _Optional[str] = ..., result_repr: _Optional[str] = ..., error: _Optional[_Union[RemoteException, _Mapping]] = ..., reason: _Optional[str] = ..., started_at: _Optional[float] = ..., ended_at: _Optional[float] = ...) -> None: ...

class CallReply(_message.Message):
    __slots__ = ("run_id", "outcome")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    outcome: RunOutcome
    def __init__(self, run_id: _Optional[str] = ..., outcome: _Optional[_Union[RunOutcome, _Mapping]] = ...) -> None: ...

class InstallRequest(_message.Message):
    __slots__ = ("reqs", "code_root")
    REQS_FIELD_NUMBER: _ClassVar[int]
    CODE_ROOT_FIELD_NUMBER: _ClassVar[int]
    reqs: _containers.RepeatedScalarFieldContainer[str]
    code_root: str
    def __init__(self, reqs: _Optional[_Iterable[str]] = ..., code_root: _Optional[str] = ...) -> None: ...

class InstallEvent(_message.Message):
    __slots__ = ("line", "done")
    LINE_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    line: str
    done: InstallDone
    def __init__(self, line: _Optional[str] = ..., done: _Optional[_Union[InstallDone, _Mapping]] = ...) -> None: ...

class InstallDone(_message.Message):
    __slots__ = ("ok", "skipped", "fingerprint", "reason")
    OK_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    skipped: bool
    fingerprint: str
    reason: str
    def __init__(self, ok: _Optional[bool] = ..., skipped: _Optional[bool] = ..., fingerprint: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...
