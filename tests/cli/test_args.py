"""Call arguments on the command line: name=value keywords, JSON-or-string values."""

from __future__ import annotations

import pytest

from rhcli.cli.args import parse_args_document, parse_call_args, parse_value
from rhcli.errors import ExitCode, UsageError


def test_name_value_is_a_keyword_and_anything_else_positional() -> None:
    assert parse_call_args(["A dog.", "steps=50"]) == (["A dog."], {"steps": 50})


def test_no_tokens_is_no_arguments() -> None:
    assert parse_call_args([]) == ([], {})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("50", 50),
        ("-3", -3),
        ("2.5", 2.5),
        ("true", True),
        ("false", False),
        ("null", None),
        ("[1, 2]", [1, 2]),
        ('{"a": 1}', {"a": 1}),
        ('"50"', "50"),
        ("A dog.", "A dog."),
        ("True", "True"),  # Python's spelling is not JSON: it stays a string
        ("", ""),
        ("[1, 2", "[1, 2"),
        ("007", "007"),  # not a JSON number (leading zero): kept as typed
    ],
)
def test_value_is_json_when_it_parses_else_the_string(text: str, value: object) -> None:
    assert parse_value(text) == value
    assert type(parse_value(text)) is type(value)


def test_keyword_values_are_read_the_same_way() -> None:
    args, kwargs = parse_call_args(["n=3", "name=A dog.", "tags=[1, 2]", 'quoted="3"'])
    assert args == []
    assert kwargs == {"n": 3, "name": "A dog.", "tags": [1, 2], "quoted": "3"}


def test_only_the_first_equals_sign_splits_a_keyword() -> None:
    assert parse_call_args(["query=a=b"]) == ([], {"query": "a=b"})


def test_keyword_value_may_be_empty_or_span_lines() -> None:
    assert parse_call_args(["empty=", "text=one\ntwo"]) == ([], {"empty": "", "text": "one\ntwo"})


@pytest.mark.parametrize("token", ["=5", "1x=5", "a-b=5", "a b=5", "https://x.org/?q=1"])
def test_token_whose_name_is_not_an_identifier_is_positional(token: str) -> None:
    assert parse_call_args([token]) == ([token], {})


def test_repeated_keyword_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="keyword argument 'steps' is given twice"):
        parse_call_args(["steps=1", "steps=2"])


def test_positional_after_keyword_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"positional argument 'A dog\.' follows a keyword"):
        parse_call_args(["steps=1", "A dog."])


def test_usage_errors_exit_with_code_2() -> None:
    assert UsageError.exit_code == ExitCode.USAGE == 2


# --- --args-json ---------------------------------------------------------------------------


def test_args_json_gives_exact_types() -> None:
    document = '{"args": ["007", "true"], "kwargs": {"steps": "50", "n": 1.0}}'
    args, kwargs = parse_call_args([], document)
    assert args == ["007", "true"]
    assert kwargs == {"steps": "50", "n": 1.0}
    assert isinstance(kwargs["n"], float)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("{}", ([], {})),
        ('{"args": [1]}', ([1], {})),
        ('{"kwargs": {"a": 1}}', ([], {"a": 1})),
    ],
)
def test_args_json_keys_are_optional(document: str, expected: object) -> None:
    assert parse_call_args([], document) == expected


def test_args_json_with_args_too_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="either as ARGS or as --args-json, not both"):
        parse_call_args(["1"], '{"args": [1]}')


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{args: [1]}", "--args-json is not valid JSON"),
        ("[1, 2]", "must be an object"),
        ('{"args": [1], "extra": 2}', "must be an object"),
        ('{"args": 1}', '"args" must be a JSON array'),
        ('{"kwargs": [1]}', '"kwargs" must be a JSON object'),
    ],
)
def test_malformed_args_json_is_a_usage_error(document: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("[", r"\[")):
        parse_call_args([], document)


def test_args_document_errors_say_where_the_document_came_from() -> None:
    with pytest.raises(UsageError, match=r"^input line 3 is not valid JSON"):
        parse_args_document("nope", where="input line 3")
