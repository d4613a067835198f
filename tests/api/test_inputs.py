"""Free text and variables checked before anything runs (pure logic)."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse

from api.inputs import (
    MAX_VARIABLE_DEPTH,
    MAX_VARIABLE_VALUES,
    document_problems,
    text_problem,
    variables_problem,
)


@pytest.mark.parametrize(
    ("text", "code_point"),
    [
        ("a\u202eb", "U+202E"),
        ("\u2067x", "U+2067"),
        ("\x00", "U+0000"),
        ("\x9b", "U+009B"),
        ("\u200f", "U+200F"),
    ],
)
def test_control_and_bidi_characters_are_named(text: str, code_point: str) -> None:
    assert text_problem(text) == f"contains the control character {code_point}"


def test_line_breaks_tabs_and_every_script_are_text() -> None:
    assert text_problem("Zeile 1\r\nZeile 2\tEnde — 東京 شركة") is None


def test_a_literal_string_anywhere_in_the_document_is_checked() -> None:
    document = parse(
        'query { a: customers(filter: {nameContains: "ok"}) { totalCount } } '
        'fragment F on Customer { orders(status: OPEN, after: "x\\u202ey") { totalCount } }'
    )

    [problem] = document_problems(document)

    assert problem.extensions == {"code": "BAD_USER_INPUT"}
    assert problem.locations is not None


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth - 1):
        value = {"v": value}
    return value


def test_variables_are_bounded_in_depth_and_size_and_checked_as_text() -> None:
    assert variables_problem(None) is None
    assert variables_problem({"a": nested(MAX_VARIABLE_DEPTH)}) is None
    deep = variables_problem({"a": nested(MAX_VARIABLE_DEPTH + 1)})
    assert deep is not None
    assert "nested more than" in deep.message
    wide = variables_problem({"a": list(range(MAX_VARIABLE_VALUES + 1))})
    assert wide is not None
    assert "more than 5000 values" in wide.message
    text = variables_problem({"input": {"memo": ["fine", "not\u202efine"]}})
    assert text is not None
    assert text.extensions == {"code": "BAD_USER_INPUT", "variable": "input.memo.1"}
    assert variables_problem([1]) is not None
