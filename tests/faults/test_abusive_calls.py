"""Calls that try to break or abuse the daemon, on the session's daemon.

Each test: set-up, the fault, what must hold. Refusals happen before a run is made and
say why; the token never shows up anywhere but its own file and the RPC metadata.
"""

from __future__ import annotations

import pickle
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import message_factory

import rhcli as rh
from rhcli.errors import ArgumentTooLargeError, UsageError
from rhcli.protocol import daemon_pb2 as pb
from rhcli.protocol.wire import TOKEN_METADATA_KEY
from tests.conftest import REPO, run_cli
from tests.fixtures import funcs


def _request(run_id: str, *args: Any) -> pb.CallRequest:
    return pb.CallRequest(
        run_id=run_id,
        function=pb.FunctionRef(
            name="add", entrypoint="tests.fixtures.funcs:add", code_root=str(REPO)
        ),
        args=pickle.dumps((args, {})),
    )


def _runs_named(local: Any, name: str) -> list[Any]:
    return [r for r in local.client().list_runs(limit=1000) if r.function == name]


# --- 2. retried submissions ----------------------------------------------------------------


def test_a_retry_with_the_same_run_id_and_another_payload_is_refused_saying_so(
    local: Any,
) -> None:
    run_id = f"retried-{secrets.token_hex(4)}"
    client = local.client()
    assert client.call(_request(run_id, 1, 2), timeout=60).outcome.status == pb.SUCCEEDED

    with pytest.raises(UsageError) as caught:
        client.submit(_request(run_id, 1, 3))  # same id, other arguments

    assert run_id in str(caught.value)
    assert "different function or arguments" in str(caught.value)
    again = client.call(_request(run_id, 1, 2), timeout=60)  # the same payload: answered
    assert pickle.loads(again.outcome.result) == 3
    runs = [r for r in client.list_runs(limit=1000) if r.run_id == run_id]
    assert len(runs) == 1


# --- 5. argument size limit ----------------------------------------------------------------


def test_an_argument_over_the_limit_is_refused_before_a_run_is_made_naming_it_and_the_limit(
    local: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RHCLI_MAX_ARG_BYTES", str(1024 * 1024))
    length = rh.function(funcs.length, system=local, name=f"length_limited_{secrets.token_hex(3)}")

    with pytest.raises(ArgumentTooLargeError) as caught:
        length(value=b"x" * (2 * 1024 * 1024))

    message = str(caught.value)
    assert "value=" in message and "1,048,576 bytes" in message
    assert caught.value.exit_code == 2
    assert _runs_named(local, length.name) == []  # nothing was sent
    assert length(b"x" * 1000) == 1000  # under the limit: runs


def test_rhcli_run_with_an_argument_over_the_limit_exits_2_naming_it(local: Any) -> None:
    done = run_cli(
        "run", "tests.fixtures.funcs:length", "x" * 5000, env={"RHCLI_MAX_ARG_BYTES": "4096"}
    )

    assert done.returncode == 2, done.stderr
    assert "argument #1 (str)" in done.stderr and "4,096 bytes" in done.stderr


# --- 9. the token ----------------------------------------------------------------------


def _every_rpc() -> list[str]:
    return list(pb.DESCRIPTOR.services_by_name["Daemon"].methods_by_name)


def _invoke(channel: grpc.Channel, rpc: str, metadata: Any) -> None:
    method = pb.DESCRIPTOR.services_by_name["Daemon"].methods_by_name[rpc]
    path = f"/{method.containing_service.full_name}/{rpc}"
    request_type = message_factory.GetMessageClass(method.input_type)
    reply_type = message_factory.GetMessageClass(method.output_type)
    kind = (method.client_streaming, method.server_streaming)
    make = {
        (False, False): channel.unary_unary,
        (False, True): channel.unary_stream,
        (True, False): channel.stream_unary,
        (True, True): channel.stream_stream,
    }[kind]
    call = make(
        path,
        request_serializer=request_type.SerializeToString,
        response_deserializer=reply_type.FromString,
    )
    request: Any = request_type()
    if rpc in ("Call", "Submit"):
        request = _request(f"unauthenticated-{rpc}-{secrets.token_hex(4)}", 1, 2)
    if method.client_streaming:
        request = iter([request])
    answer = call(request, metadata=metadata, timeout=10)
    if method.server_streaming:
        list(answer)


@pytest.mark.parametrize("rpc", _every_rpc())
def test_every_rpc_refuses_no_token_a_wrong_one_and_one_differing_in_its_last_character(
    local: Any, rpc: str
) -> None:
    token = local.daemon.read_token()
    bad = {
        "none": (),
        "wrong": ((TOKEN_METADATA_KEY, secrets.token_urlsafe(32)),),
        "last character": ((TOKEN_METADATA_KEY, token[:-1] + ("A" if token[-1] != "A" else "B")),),
    }
    address = local.client().address
    before = len(local.client().list_runs(limit=100000))

    for name, metadata in bad.items():
        with grpc.insecure_channel(address) as channel, pytest.raises(grpc.RpcError) as caught:
            _invoke(channel, rpc, metadata)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, name

    assert len(local.client().list_runs(limit=100000)) == before


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def test_the_token_appears_in_no_process_list_environment_log_or_debug_output(local: Any) -> None:
    token = local.daemon.read_token()
    # Some output to look through: a failing call's traceback and debug logs.
    failed = run_cli("--debug", "run", "tests.fixtures.funcs:fail", "leak check")
    status = run_cli("--debug", "--json", "status")
    assert failed.returncode == 1 and status.returncode == 0

    pid = local.daemon.state().pid
    processes = _descendants(pid)
    assert len(processes) > 3  # the daemon, Ray's own processes, the warm workers
    for proc in processes:
        for part in ("cmdline", "environ"):
            try:
                data = Path(f"/proc/{proc}/{part}").read_bytes()
            except OSError:
                continue  # ended meanwhile
            assert token.encode() not in data, f"the token is in /proc/{proc}/{part}"
    root = local.daemon.paths.root
    logs = [root / "daemon.log", *root.glob("runs/*/log*")]
    assert len(logs) > 1
    for path in logs:
        assert token not in path.read_text(errors="replace"), f"the token is in {path}"
    for done in (failed, status):
        assert token not in done.stdout + done.stderr
    assert "Traceback" in failed.stderr  # --debug did print a traceback, without the token


def test_a_daemon_refuses_to_start_over_a_token_file_others_can_read(tmp_path: Path) -> None:
    root = tmp_path / "home"
    root.mkdir(mode=0o700)
    token = root / "token"
    token.write_text("a token someone else may have read")
    token.chmod(0o644)

    done = subprocess.run(
        [sys.executable, "-m", "rhcli.server", "--home", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2
    assert f"token file {token} has mode 0644" in done.stderr
    assert f"rm {token}" in done.stderr
    assert not (root / "daemon.json").exists() and not (root / "daemon.pid").exists()
    assert token.read_text() == "a token someone else may have read"  # left for the owner
