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
    __slots__ = ("version", "pid", "started_at", "uptime_s", "home", "python", "resources", "available", "runs_running", "workers", "runs_queued", "queue_depths", "ray_version", "endpoints")
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
    class QueueDepthsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
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
    RUNS_QUEUED_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEPTHS_FIELD_NUMBER: _ClassVar[int]
    RAY_VERSION_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
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
    runs_queued: int
    queue_depths: _containers.ScalarMap[str, int]
    ray_version: str
    endpoints: int
    def __init__(self, version: _Optional[str] = ..., pid: _Optional[int] = ..., started_at: _Optional[float] = ..., uptime_s: _Optional[float] = ..., home: _Optional[str] = ..., python: _Optional[str] = ..., resources: _Optional[_Mapping[str, float]] = ..., available: _Optional[_Mapping[str, float]] = ..., runs_running: _Optional[int] = ..., workers: _Optional[int] = ..., runs_queued: _Optional[int] = ..., queue_depths: _Optional[_Mapping[str, int]] = ..., ray_version: _Optional[str] = ..., endpoints: _Optional[int] = ...) -> None: ...

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
    __slots__ = ("run_id", "function", "args", "timeout_s", "resources", "want_json", "enqueue", "depends_on", "args_blob", "args_summary")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    WANT_JSON_FIELD_NUMBER: _ClassVar[int]
    ENQUEUE_FIELD_NUMBER: _ClassVar[int]
    DEPENDS_ON_FIELD_NUMBER: _ClassVar[int]
    ARGS_BLOB_FIELD_NUMBER: _ClassVar[int]
    ARGS_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    function: FunctionRef
    args: bytes
    timeout_s: float
    resources: Resources
    want_json: bool
    enqueue: bool
    depends_on: _containers.RepeatedScalarFieldContainer[str]
    args_blob: str
    args_summary: str
    def __init__(self, run_id: _Optional[str] = ..., function: _Optional[_Union[FunctionRef, _Mapping]] = ..., args: _Optional[bytes] = ..., timeout_s: _Optional[float] = ..., resources: _Optional[_Union[Resources, _Mapping]] = ..., want_json: _Optional[bool] = ..., enqueue: _Optional[bool] = ..., depends_on: _Optional[_Iterable[str]] = ..., args_blob: _Optional[str] = ..., args_summary: _Optional[str] = ...) -> None: ...

class WaitRequest(_message.Message):
    __slots__ = ("run_id", "timeout_s")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    timeout_s: float
    def __init__(self, run_id: _Optional[str] = ..., timeout_s: _Optional[float] = ...) -> None: ...

class RunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class RunInfo(_message.Message):
    __slots__ = ("run_id", "function", "status", "failure", "reason", "created_at", "started_at", "ended_at", "parent", "items", "items_failed", "worker", "stored_at", "args_summary", "attempts", "items_succeeded")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FAILED_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    STORED_AT_FIELD_NUMBER: _ClassVar[int]
    ARGS_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    function: str
    status: RunStatus
    failure: FailureKind
    reason: str
    created_at: float
    started_at: float
    ended_at: float
    parent: str
    items: int
    items_failed: int
    worker: str
    stored_at: float
    args_summary: str
    attempts: int
    items_succeeded: int
    def __init__(self, run_id: _Optional[str] = ..., function: _Optional[str] = ..., status: _Optional[_Union[RunStatus, str]] = ..., failure: _Optional[_Union[FailureKind, str]] = ..., reason: _Optional[str] = ..., created_at: _Optional[float] = ..., started_at: _Optional[float] = ..., ended_at: _Optional[float] = ..., parent: _Optional[str] = ..., items: _Optional[int] = ..., items_failed: _Optional[int] = ..., worker: _Optional[str] = ..., stored_at: _Optional[float] = ..., args_summary: _Optional[str] = ..., attempts: _Optional[int] = ..., items_succeeded: _Optional[int] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ("limit", "function", "include_items", "statuses", "parent", "stored_after", "since")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ITEMS_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    STORED_AFTER_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    limit: int
    function: str
    include_items: bool
    statuses: _containers.RepeatedScalarFieldContainer[RunStatus]
    parent: str
    stored_after: float
    since: float
    def __init__(self, limit: _Optional[int] = ..., function: _Optional[str] = ..., include_items: _Optional[bool] = ..., statuses: _Optional[_Iterable[_Union[RunStatus, str]]] = ..., parent: _Optional[str] = ..., stored_after: _Optional[float] = ..., since: _Optional[float] = ...) -> None: ...

class ListRunsReply(_message.Message):
    __slots__ = ("runs",)
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[RunInfo]
    def __init__(self, runs: _Optional[_Iterable[_Union[RunInfo, _Mapping]]] = ...) -> None: ...

class Chunk(_message.Message):
    __slots__ = ("data", "total_size")
    DATA_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    total_size: int
    def __init__(self, data: _Optional[bytes] = ..., total_size: _Optional[int] = ...) -> None: ...

class BlobRef(_message.Message):
    __slots__ = ("blob_id", "size")
    BLOB_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    blob_id: str
    size: int
    def __init__(self, blob_id: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class MapStart(_message.Message):
    __slots__ = ("run_id", "function", "timeout_s", "resources", "want_json", "total", "resume", "attempt", "held_by_client")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    WANT_JSON_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    HELD_BY_CLIENT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    function: FunctionRef
    timeout_s: float
    resources: Resources
    want_json: bool
    total: int
    resume: bool
    attempt: int
    held_by_client: int
    def __init__(self, run_id: _Optional[str] = ..., function: _Optional[_Union[FunctionRef, _Mapping]] = ..., timeout_s: _Optional[float] = ..., resources: _Optional[_Union[Resources, _Mapping]] = ..., want_json: _Optional[bool] = ..., total: _Optional[int] = ..., resume: _Optional[bool] = ..., attempt: _Optional[int] = ..., held_by_client: _Optional[int] = ...) -> None: ...

class MapItems(_message.Message):
    __slots__ = ("first_index", "args", "indices")
    FIRST_INDEX_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    INDICES_FIELD_NUMBER: _ClassVar[int]
    first_index: int
    args: _containers.RepeatedScalarFieldContainer[bytes]
    indices: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, first_index: _Optional[int] = ..., args: _Optional[_Iterable[bytes]] = ..., indices: _Optional[_Iterable[int]] = ...) -> None: ...

class MapRequest(_message.Message):
    __slots__ = ("start", "items")
    START_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    start: MapStart
    items: MapItems
    def __init__(self, start: _Optional[_Union[MapStart, _Mapping]] = ..., items: _Optional[_Union[MapItems, _Mapping]] = ...) -> None: ...

class MapResult(_message.Message):
    __slots__ = ("index", "outcome")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    index: int
    outcome: RunOutcome
    def __init__(self, index: _Optional[int] = ..., outcome: _Optional[_Union[RunOutcome, _Mapping]] = ...) -> None: ...

class MapReply(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[MapResult]
    def __init__(self, results: _Optional[_Iterable[_Union[MapResult, _Mapping]]] = ...) -> None: ...

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
    __slots__ = ("status", "failure", "result", "result_json", "result_repr", "error", "reason", "started_at", "ended_at", "result_size", "worker")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    RESULT_REPR_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    RESULT_SIZE_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    status: RunStatus
    failure: FailureKind
    result: bytes
    result_json: str
    result_repr: str
    error: RemoteException
    reason: str
    started_at: float
    ended_at: float
    result_size: int
    worker: str
    def __init__(self, status: _Optional[_Union[RunStatus, str]] = ..., failure: _Optional[_Union[FailureKind, str]] = ..., result: _Optional[bytes] = ..., result_json: _Optional[str] = ..., result_repr: _Optional[str] = ..., error: _Optional[_Union[RemoteException, _Mapping]] = ..., reason: _Optional[str] = ..., started_at: _Optional[float] = ..., ended_at: _Optional[float] = ..., result_size: _Optional[int] = ..., worker: _Optional[str] = ...) -> None: ...

class CallReply(_message.Message):
    __slots__ = ("run_id", "outcome")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    outcome: RunOutcome
    def __init__(self, run_id: _Optional[str] = ..., outcome: _Optional[_Union[RunOutcome, _Mapping]] = ...) -> None: ...

class CallEvent(_message.Message):
    __slots__ = ("logs", "reply")
    LOGS_FIELD_NUMBER: _ClassVar[int]
    REPLY_FIELD_NUMBER: _ClassVar[int]
    logs: LogBatch
    reply: CallReply
    def __init__(self, logs: _Optional[_Union[LogBatch, _Mapping]] = ..., reply: _Optional[_Union[CallReply, _Mapping]] = ...) -> None: ...

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

class LogsRequest(_message.Message):
    __slots__ = ("run_id", "follow", "item", "tail", "since")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    TAIL_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    follow: bool
    item: int
    tail: int
    since: float
    def __init__(self, run_id: _Optional[str] = ..., follow: _Optional[bool] = ..., item: _Optional[int] = ..., tail: _Optional[int] = ..., since: _Optional[float] = ...) -> None: ...

class LogLine(_message.Message):
    __slots__ = ("seq", "stream", "t", "text", "item", "progress")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    T_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    seq: int
    stream: str
    t: float
    text: str
    item: int
    progress: bool
    def __init__(self, seq: _Optional[int] = ..., stream: _Optional[str] = ..., t: _Optional[float] = ..., text: _Optional[str] = ..., item: _Optional[int] = ..., progress: _Optional[bool] = ...) -> None: ...

class LogBatch(_message.Message):
    __slots__ = ("lines", "end", "status")
    LINES_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[LogLine]
    end: bool
    status: str
    def __init__(self, lines: _Optional[_Iterable[_Union[LogLine, _Mapping]]] = ..., end: _Optional[bool] = ..., status: _Optional[str] = ...) -> None: ...

class DaemonLogRequest(_message.Message):
    __slots__ = ("lines",)
    LINES_FIELD_NUMBER: _ClassVar[int]
    lines: int
    def __init__(self, lines: _Optional[int] = ...) -> None: ...

class DaemonLogReply(_message.Message):
    __slots__ = ("text", "path")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    text: str
    path: str
    def __init__(self, text: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...

class NodesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NodeInfo(_message.Message):
    __slots__ = ("node_id", "address", "alive", "head", "resources", "cpu_percent", "memory_used", "memory_total", "gpus", "usage_error", "runs")
    class ResourcesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ALIVE_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    CPU_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_FIELD_NUMBER: _ClassVar[int]
    MEMORY_TOTAL_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    USAGE_ERROR_FIELD_NUMBER: _ClassVar[int]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    address: str
    alive: bool
    head: bool
    resources: _containers.ScalarMap[str, float]
    cpu_percent: float
    memory_used: int
    memory_total: int
    gpus: _containers.RepeatedCompositeFieldContainer[GpuInfo]
    usage_error: str
    runs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, node_id: _Optional[str] = ..., address: _Optional[str] = ..., alive: _Optional[bool] = ..., head: _Optional[bool] = ..., resources: _Optional[_Mapping[str, float]] = ..., cpu_percent: _Optional[float] = ..., memory_used: _Optional[int] = ..., memory_total: _Optional[int] = ..., gpus: _Optional[_Iterable[_Union[GpuInfo, _Mapping]]] = ..., usage_error: _Optional[str] = ..., runs: _Optional[_Iterable[str]] = ...) -> None: ...

class GpuInfo(_message.Message):
    __slots__ = ("index", "name", "utilization", "memory_used", "memory_total")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_FIELD_NUMBER: _ClassVar[int]
    MEMORY_TOTAL_FIELD_NUMBER: _ClassVar[int]
    index: int
    name: str
    utilization: float
    memory_used: int
    memory_total: int
    def __init__(self, index: _Optional[int] = ..., name: _Optional[str] = ..., utilization: _Optional[float] = ..., memory_used: _Optional[int] = ..., memory_total: _Optional[int] = ...) -> None: ...

class NodesReply(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[NodeInfo]
    def __init__(self, nodes: _Optional[_Iterable[_Union[NodeInfo, _Mapping]]] = ...) -> None: ...

class MapStateRequest(_message.Message):
    __slots__ = ("map_id", "have")
    MAP_ID_FIELD_NUMBER: _ClassVar[int]
    HAVE_FIELD_NUMBER: _ClassVar[int]
    map_id: str
    have: bytes
    def __init__(self, map_id: _Optional[str] = ..., have: _Optional[bytes] = ...) -> None: ...

class MapItemState(_message.Message):
    __slots__ = ("index", "args_digest", "outcome")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ARGS_DIGEST_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    index: int
    args_digest: str
    outcome: RunOutcome
    def __init__(self, index: _Optional[int] = ..., args_digest: _Optional[str] = ..., outcome: _Optional[_Union[RunOutcome, _Mapping]] = ...) -> None: ...

class MapStateBatch(_message.Message):
    __slots__ = ("map", "items")
    MAP_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    map: RunInfo
    items: _containers.RepeatedCompositeFieldContainer[MapItemState]
    def __init__(self, map: _Optional[_Union[RunInfo, _Mapping]] = ..., items: _Optional[_Iterable[_Union[MapItemState, _Mapping]]] = ...) -> None: ...

class EndpointSpec(_message.Message):
    __slots__ = ("name", "function", "asgi", "route", "replicas", "min_replicas", "max_replicas", "resources", "public", "code_version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    ASGI_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    MIN_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    MAX_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_FIELD_NUMBER: _ClassVar[int]
    CODE_VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    function: FunctionRef
    asgi: bool
    route: str
    replicas: int
    min_replicas: int
    max_replicas: int
    resources: Resources
    public: bool
    code_version: str
    def __init__(self, name: _Optional[str] = ..., function: _Optional[_Union[FunctionRef, _Mapping]] = ..., asgi: _Optional[bool] = ..., route: _Optional[str] = ..., replicas: _Optional[int] = ..., min_replicas: _Optional[int] = ..., max_replicas: _Optional[int] = ..., resources: _Optional[_Union[Resources, _Mapping]] = ..., public: _Optional[bool] = ..., code_version: _Optional[str] = ...) -> None: ...

class ServeRequest(_message.Message):
    __slots__ = ("spec", "wait_s")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    WAIT_S_FIELD_NUMBER: _ClassVar[int]
    spec: EndpointSpec
    wait_s: float
    def __init__(self, spec: _Optional[_Union[EndpointSpec, _Mapping]] = ..., wait_s: _Optional[float] = ...) -> None: ...

class EndpointInfo(_message.Message):
    __slots__ = ("name", "route", "status", "message", "replicas_running", "replicas", "min_replicas", "max_replicas", "asgi", "public", "target", "port", "host", "token", "created_at", "updated_at", "resources")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_RUNNING_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    MIN_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    MAX_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    ASGI_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    name: str
    route: str
    status: str
    message: str
    replicas_running: int
    replicas: int
    min_replicas: int
    max_replicas: int
    asgi: bool
    public: bool
    target: str
    port: int
    host: str
    token: str
    created_at: float
    updated_at: float
    resources: Resources
    def __init__(self, name: _Optional[str] = ..., route: _Optional[str] = ..., status: _Optional[str] = ..., message: _Optional[str] = ..., replicas_running: _Optional[int] = ..., replicas: _Optional[int] = ..., min_replicas: _Optional[int] = ..., max_replicas: _Optional[int] = ..., asgi: _Optional[bool] = ..., public: _Optional[bool] = ..., target: _Optional[str] = ..., port: _Optional[int] = ..., host: _Optional[str] = ..., token: _Optional[str] = ..., created_at: _Optional[float] = ..., updated_at: _Optional[float] = ..., resources: _Optional[_Union[Resources, _Mapping]] = ...) -> None: ...

class ListEndpointsRequest(_message.Message):
    __slots__ = ("show_token",)
    SHOW_TOKEN_FIELD_NUMBER: _ClassVar[int]
    show_token: bool
    def __init__(self, show_token: _Optional[bool] = ...) -> None: ...

class ListEndpointsReply(_message.Message):
    __slots__ = ("endpoints",)
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    endpoints: _containers.RepeatedCompositeFieldContainer[EndpointInfo]
    def __init__(self, endpoints: _Optional[_Iterable[_Union[EndpointInfo, _Mapping]]] = ...) -> None: ...

class UnserveRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class UnserveReply(_message.Message):
    __slots__ = ("found",)
    FOUND_FIELD_NUMBER: _ClassVar[int]
    found: bool
    def __init__(self, found: _Optional[bool] = ...) -> None: ...

class EndpointLogsRequest(_message.Message):
    __slots__ = ("name", "follow")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    name: str
    follow: bool
    def __init__(self, name: _Optional[str] = ..., follow: _Optional[bool] = ...) -> None: ...
