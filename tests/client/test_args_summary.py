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


def test_a_repr_that_raises_shows_the_type() -> None:
    text = summarize_args((Broken(),), {"b": Broken()})
    assert text.startswith("<Broken ") and ", b=<Broken " in text
