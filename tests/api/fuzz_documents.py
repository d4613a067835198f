"""Hypothesis strategies for GraphQL documents over a schema: operations whose fields, aliases,
arguments and input values are drawn from the schema's own types, with values both plausible
(ids of the right shape, small page sizes, enum values) and hostile (control characters,
full-width digits, huge numbers, wrong shapes), so that what is sent both runs and fails."""

from __future__ import annotations

import json
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    get_named_type,
    is_leaf_type,
)
from hypothesis import strategies as st

HOSTILE_TEXT = st.sampled_from(
    [
        "",
        " ",
        "a\u202eb",
        "\x00",
        "x" * 300,
        "１２３",
        "'; DROP TABLE account; --",
        "\" OR Name LIKE '%",
        "%_\\",
        "Müller & Søn — 東京",
        "\ud83d\ude00",
    ]
)
IDS = st.sampled_from(
    [
        "cus:CUST-000001",
        "cus:CUST-000042",
        "cus:sf:001000000000001AAA",
        "cus:erp:101",
        "inv:1",
        "ord:1",
        "pay:1",
        "opp:006000000000001AAA",
        "wf:00000000-0000-0000-0000-000000000000",
        "001000000000001AAA",
        "101",
        "le:1",
        "nope",
    ]
)
DECIMALS = st.one_of(
    st.sampled_from(["0", "1.00", "100.00", "-5", "1_000", "+1", "1e9", "１", " 1", "NaN"]),
    st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
)
DATES = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(["2026-02-30", "20260101", "today", ""]),
)


def _literal(value: Any) -> str:
    """``value`` as a GraphQL literal (enum values are passed as `_Enum`)."""
    if isinstance(value, _Enum):
        return value.name
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


class _Enum:
    def __init__(self, name: str) -> None:
        self.name = name


def _scalar(named: GraphQLScalarType) -> st.SearchStrategy[Any]:
    name = named.name
    if name == "Int":
        return st.one_of(st.integers(-2, 60), st.sampled_from([500, 501, 2**31 - 1, -(2**31)]))
    if name == "Float":
        return st.floats(allow_nan=False, allow_infinity=False)
    if name == "Boolean":
        return st.booleans()
    if name == "ID":
        return st.one_of(IDS, HOSTILE_TEXT)
    if name == "Decimal":
        return DECIMALS
    if name in ("Date", "DateTime"):
        return DATES
    if name == "CurrencyCode":
        return st.sampled_from(["EUR", "USD", "JPY", "eur", "XXX", "EURO"])
    if name == "CountryCode":
        return st.sampled_from(["DE", "US", "FR", "de", "Germany"])
    return st.one_of(st.text(max_size=20), HOSTILE_TEXT)


def input_value(input_type: GraphQLInputType, depth: int = 0) -> st.SearchStrategy[Any]:
    """A value for ``input_type``, sometimes of the wrong shape."""
    if isinstance(input_type, GraphQLNonNull):
        return input_value(input_type.of_type, depth)
    if isinstance(input_type, GraphQLList):
        return st.lists(input_value(input_type.of_type, depth + 1), max_size=3)
    if isinstance(input_type, GraphQLEnumType):
        return st.sampled_from([_Enum(name) for name in input_type.values])
    if isinstance(input_type, GraphQLInputObjectType):
        if depth > 3:
            return st.just({})
        return _input_object(input_type, depth)
    assert isinstance(input_type, GraphQLScalarType)
    return _scalar(input_type)


def _input_object(input_type: GraphQLInputObjectType, depth: int) -> st.SearchStrategy[Any]:
    required = {
        name: input_value(f.type, depth + 1)
        for name, f in input_type.fields.items()
        if isinstance(f.type, GraphQLNonNull)
    }
    optional = {
        name: input_value(f.type, depth + 1)
        for name, f in input_type.fields.items()
        if not isinstance(f.type, GraphQLNonNull)
    }
    return st.fixed_dictionaries(required, optional=optional)


def _arguments(arguments: dict[str, GraphQLArgument]) -> st.SearchStrategy[str]:
    required = {
        name: input_value(a.type)
        for name, a in arguments.items()
        if isinstance(a.type, GraphQLNonNull)
    }
    optional = {
        name: input_value(a.type)
        for name, a in arguments.items()
        if not isinstance(a.type, GraphQLNonNull)
    }
    if not required and not optional:
        return st.just("")
    return st.fixed_dictionaries(required, optional=optional).map(
        lambda given: (
            "(" + ", ".join(f"{k}: {_literal(v)}" for k, v in given.items()) + ")" if given else ""
        )
    )


@st.composite
def selection_set(draw: st.DrawFn, parent: GraphQLNamedType, depth: int) -> str:
    assert isinstance(parent, GraphQLObjectType)
    names = sorted(parent.fields)
    if depth <= 0:
        names = [n for n in names if is_leaf_type(get_named_type(parent.fields[n].type))] or names
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=4, unique=True))
    parts = []
    for index, name in enumerate(chosen):
        parts.append(
            draw(field(name, parent.fields[name].type, parent.fields[name].args, depth, index))
        )
    return "{ " + " ".join(parts) + " }"


@st.composite
def field(
    draw: st.DrawFn,
    name: str,
    field_type: GraphQLOutputType,
    arguments: dict[str, GraphQLArgument],
    depth: int,
    index: int,
) -> str:
    alias = f"a{index}: " if draw(st.booleans()) and draw(st.booleans()) else ""
    text = alias + name + draw(_arguments(arguments))
    named = get_named_type(field_type)
    if is_leaf_type(named):
        return text
    return text + " " + draw(selection_set(named, depth - 1))


@st.composite
def operation(draw: st.DrawFn, schema: GraphQLSchema) -> str:
    """A query or a mutation of ``schema``."""
    root = schema.mutation_type if draw(st.integers(0, 3)) == 0 else schema.query_type
    assert root is not None
    keyword = "mutation" if root is schema.mutation_type else "query"
    return f"{keyword} {draw(selection_set(root, draw(st.integers(1, 4))))}"
