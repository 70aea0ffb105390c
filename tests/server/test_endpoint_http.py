"""The HTTP contract of an endpoint, called as the ASGI app a replica runs (no Serve).

Serve hands each request to this app unchanged (scope, receive, send), so calling it
directly exercises exactly what a request over HTTP does, at unit-test speed; the tests
of tests/client/test_endpoints.py go through real Ray Serve and real HTTP.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from rhcli.server.endpoint_http import FunctionApp, Gate, parse_arguments, token_digest
from tests.fixtures import endpoints as funcs

TOKEN = "s3cret-token"


def _request(
    app: Any,
    body: bytes = b"",
    *,
    method: str = "POST",
    path: str = "/fn",
    token: str | None = TOKEN,
    client: str = "127.0.0.1",
    scheme: str = "Bearer",
) -> tuple[int, dict[bytes, bytes], bytes]:
    """(status, headers, body) of one request to app at route /fn."""
    headers = [(b"content-type", b"application/json")]
    if token is not None:
        headers.append((b"authorization", f"{scheme} {token}".encode()))
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "/fn",
        "headers": headers,
        "client": (client, 50000),
    }
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    data = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), data


def _gated(fn: Any, *, public: bool = False) -> Gate:
    return Gate(FunctionApp(fn), token_sha256=token_digest(TOKEN), public=public)


def test_a_json_object_is_the_keyword_arguments_and_the_answer_is_the_json_result() -> None:
    status, headers, body = _request(_gated(funcs.add), b'{"a": 2, "b": 5}')
    assert (status, json.loads(body)) == (200, 7)
    assert headers[b"content-type"] == b"application/json"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"[2, 5]", 7),
        (b'{"args": [2], "kwargs": {"b": 3}}', 5),
        (b'{"args": [4]}', 4),
        (b'{"kwargs": {"a": 1}}', 1),
    ],
)
def test_an_array_is_the_positional_arguments_and_args_kwargs_gives_both(
    body: bytes, expected: int
) -> None:
    status, _, answer = _request(_gated(funcs.add), body)
    assert (status, json.loads(answer)) == (200, expected)


def test_an_empty_body_calls_with_no_arguments() -> None:
    status, _, body = _request(_gated(funcs.boom), b"")
    assert status == 500 and json.loads(body)["error"]["message"] == "no"


def test_no_token_a_wrong_one_or_another_scheme_gets_401_with_a_bearer_challenge() -> None:
    for token, scheme in ((None, "Bearer"), ("wrong", "Bearer"), (TOKEN, "Basic"), ("", "Bearer")):
        status, headers, body = _request(_gated(funcs.add), b"[1, 2]", token=token, scheme=scheme)
        assert status == 401, (token, scheme)
        assert headers[b"www-authenticate"] == b"Bearer"
        assert json.loads(body)["error"]["type"] == "Unauthorized"


def test_the_token_is_checked_before_the_body_is_read_or_the_function_runs() -> None:
    calls: list[int] = []
    status, _, _ = _request(_gated(lambda: calls.append(1)), b"not json", token="wrong")
    assert status == 401 and calls == []


def test_a_private_endpoint_refuses_a_client_off_the_loopback_even_with_the_token() -> None:
    status, _, body = _request(_gated(funcs.add), b"[1]", client="10.1.2.3")
    assert status == 403 and "loopback" in json.loads(body)["error"]["message"]
    assert _request(_gated(funcs.add, public=True), b"[1]", client="10.1.2.3")[0] == 200
    assert _request(_gated(funcs.add), b"[1]", client="::1")[0] == 200


def test_a_body_that_does_not_fit_the_signature_gets_422_with_the_reason() -> None:
    status, _, body = _request(_gated(funcs.add), b'{"c": 1}')
    assert status == 422
    assert "missing a required argument: 'a'" in json.loads(body)["error"]["message"]
    status, _, body = _request(_gated(funcs.add), b"[1, 2, 3]")
    assert status == 422 and "too many positional" in json.loads(body)["error"]["message"]


def test_a_json_value_that_cannot_be_arguments_gets_422_and_non_json_gets_400() -> None:
    assert _request(_gated(funcs.add), b"3")[0] == 422
    assert _request(_gated(funcs.add), b'{"args": 3}')[0] == 422
    status, _, body = _request(_gated(funcs.add), b"{nope")
    assert status == 400 and "not JSON" in json.loads(body)["error"]["message"]


def test_a_raising_function_gets_500_naming_the_exception_type_and_message(
    capfd: pytest.CaptureFixture[str],
) -> None:
    status, _, body = _request(_gated(funcs.boom), b'{"message": "bad input"}')
    assert status == 500
    assert json.loads(body) == {"error": {"type": "builtins.ValueError", "message": "bad input"}}
    assert "Traceback" in capfd.readouterr().err  # the endpoint's log gets the whole story


def test_a_result_without_a_json_form_gets_500_saying_so() -> None:
    status, _, body = _request(_gated(funcs.not_json))
    error = json.loads(body)["error"]
    assert status == 500 and error["type"] == "ResultNotJSON" and "set" in error["message"]


def test_bytes_come_back_as_they_are() -> None:
    status, headers, body = _request(_gated(funcs.raw), b"[5]")
    assert (status, body) == (200, bytes(range(5)))
    assert headers[b"content-type"] == b"application/octet-stream"


def test_an_async_function_is_awaited() -> None:
    status, _, body = _request(_gated(funcs.echo_later), b'{"value": [1, "a"]}')
    assert (status, json.loads(body)) == (200, [1, "a"])


def test_other_methods_get_405_and_paths_below_the_route_404() -> None:
    status, headers, _ = _request(_gated(funcs.add), method="GET")
    assert status == 405 and headers[b"allow"] == b"POST"
    assert _request(_gated(funcs.add), b"[1]", path="/fn/")[0] == 200
    assert _request(_gated(funcs.add), b"[1]", path="/fn/other")[0] == 404


def test_parse_arguments_keeps_an_object_with_other_keys_as_keywords() -> None:
    assert parse_arguments(b'{"args": 1, "x": 2}') == ([], {"args": 1, "x": 2})
    assert parse_arguments(b"  ") == ([], {})


def _lifespan(app: Any) -> list[str]:
    """The lifespan messages app (behind a Gate) answers a startup then a shutdown with."""
    sent: list[str] = []
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    gate = Gate(app, token_sha256=token_digest(TOKEN), public=False)
    asyncio.run(gate({"type": "lifespan"}, receive, send))
    return sent


def test_an_asgi_app_without_lifespan_support_is_started_all_the_same() -> None:
    async def bare(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http", "this app knows HTTP only"

    assert _lifespan(bare) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_an_asgi_app_whose_startup_fails_fails_the_replica() -> None:
    async def failing(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no model"})
        raise RuntimeError("no model")

    with pytest.raises(RuntimeError, match="no model"):
        _lifespan(failing)
