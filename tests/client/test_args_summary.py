"""A call's arguments summarised for people (the dashboard's run page)."""

from __future__ import annotations

from rhcli.args import SUMMARY_CHARS, summarize_args


class Broken:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def test_positional_then_keyword_arguments() -> None:
    assert summarize_args(("A dog.", 1), {"steps": 50}) == "'A dog.', 1, steps=50"


def test_large_values_are_cut_short() -> None:
    text = summarize_args((list(range(1000)), "x" * 10_000), {})
    assert len(text) <= SUMMARY_CHARS
    assert text.startswith("[0, 1, 2, 3, 4, 5, ...]")


def test_large_bytes_show_their_start_and_size() -> None:
    # Made without the whole value's repr (a 10 MB argument's took longer than its upload).
    text = summarize_args((b"x" * 10_000_000,), {"mask": bytearray(b"y" * 100)})
    assert text.startswith("b'" + "x" * 30 + "'... (10,000,000 bytes), mask=bytearray(")
    assert text.endswith(", mask=bytearray(b'" + "y" * 30 + "')... (100 bytes)")
    assert summarize_args((b"short",), {}) == "b'short'"


def test_a_repr_that_raises_shows_the_type() -> None:
    text = summarize_args((Broken(),), {"b": Broken()})
    assert text.startswith("<Broken ") and ", b=<Broken " in text
