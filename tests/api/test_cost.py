"""Operation costs on the IBM GraphQL Cost Directives: weights from the ownership registry,
list sizes from ``first``, the same in the built schema as in its printed SDL, computed in
one pass."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLObjectType, OperationDefinitionNode, parse

from api.cost import CostCalculator, Weights
from domain.ownership import REGISTRY, System
from schema.__main__ import SDL_FILE, SUBGRAPH_FILE
from schema.build import build_schema
from schema.federation import build_subgraph_schema


@pytest.fixture(scope="module")
def calculator() -> CostCalculator:
    schema = build_schema()
    return CostCalculator(schema._schema, Weights.from_sdl(SDL_FILE.read_text()))


def cost(calculator: CostCalculator, text: str, variables: dict[str, Any] | None = None) -> int:
    document = parse(text)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    return calculator.cost(document, operation, variables)


def test_a_field_read_from_a_source_weighs_more_than_a_derived_one() -> None:
    weights = Weights.from_sdl(SDL_FILE.read_text()).weights
    for entry in REGISTRY:
        key = (entry.type_name, entry.field_name)
        if entry.owner is System.ACCORD:
            assert key not in weights, entry.path  # the default: 0 for a scalar, 1 for an object
        else:
            assert weights[key] in (1, 2), entry.path
    assert weights[("Customer", "name")] == 1  # a CRM string
    assert weights[("Customer", "credit")] == 2  # an ERP object


def test_every_list_in_the_schema_has_a_size() -> None:
    schema = build_schema()._schema
    sizes = Weights.from_sdl(SDL_FILE.read_text()).sizes
    unsized = []
    for type_name, graphql_type in schema.type_map.items():
        if type_name.startswith("__") or not isinstance(graphql_type, GraphQLObjectType):
            continue
        for name, field in graphql_type.fields.items():
            listed = "[" in str(field.type)
            sized_by_parent = type_name.endswith(("Connection",)) and name in ("edges", "nodes")
            if listed and not sized_by_parent and (type_name, name) not in sizes:
                unsized.append(f"{type_name}.{name}")
    assert unsized == []


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        # a page of 20 customers: 1 + 20 × (Customer 1 + id 0 + name 1)
        ("{ customers(first: 20) { nodes { id name } } }", None, 41),
        # `first` from a variable, a variable's default, and the argument's default (50)
        ("query($n: Int) { customers(first: $n) { nodes { name } } }", {"n": 100}, 201),
        ("query($n: Int = 7) { customers(first: $n) { edges { node { name } } } }", None, 22),
        ("{ customers { nodes { name } } }", None, 101),
        # only the page's size is sized: totalCount alone costs the connection
        ("{ customers(first: 500) { totalCount } }", None, 1),
        # a connection's size reaches a fragment spread inside it
        (
            "{ customers(first: 3) { ...C } } fragment C on CustomerConnection { nodes { name } }",
            None,
            7,
        ),
        # nested pages multiply: 1 + 2 × (1 + 2 + 5 × (1 + 1))
        ("{ customers(first: 2) { nodes { invoices(first: 5) { nodes { number } } } } }", None, 27),
        # a list with an assumed size: Order 1 + 10 × (lines, an ERP list of objects, 2 + sku 0)
        ('{ order(id: "ord:1") { lines { sku } } }', None, 21),
        # a mutation's base cost is 10
        ("mutation { __typename }", None, 10),
        # introspection and __typename cost nothing
        ("{ __typename __schema { types { fields { name } } } }", None, 0),
    ],
)
def test_costs_follow_the_specification(
    calculator: CostCalculator, text: str, variables: dict[str, Any] | None, expected: int
) -> None:
    assert cost(calculator, text, variables) == expected


def test_a_fragment_spread_twice_is_costed_once_and_a_chain_in_linear_time(
    calculator: CostCalculator,
) -> None:
    # Given a chain of 500 fragments, each spreading the previous twice (2^500 paths)
    parts = ["fragment F0 on Customer { id name }"]
    parts += [f"fragment F{i} on Customer {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 501)]
    text = "{ customers(first: 1) { nodes { ...F500 } } } " + " ".join(parts)

    # then it costs what it runs: one customer's id and name
    assert cost(calculator, text) == 1 + 1 * (1 + 0 + 1)


def test_fields_under_different_aliases_cost_each_time(calculator: CostCalculator) -> None:
    text = "{ a: customers(first: 500) { nodes { name } } b: customers(first: 500) { nodes { name } } }"

    assert cost(calculator, text) == 2 * (1 + 500 * 2)


def test_a_cost_names_the_variables_it_depends_on(calculator: CostCalculator) -> None:
    text = (
        "query($n: Int, $after: String) { customers(first: $n, after: $after) { nodes { name } } }"
    )
    document = parse(text)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))

    assert calculator.cost_and_inputs(document, operation, {"n": 3, "after": "x"}) == (7, ("n",))
    fixed = parse("{ customers(first: 3) { nodes { name } } }")
    root = next(d for d in fixed.definitions if isinstance(d, OperationDefinitionNode))
    assert calculator.cost_and_inputs(fixed, root, {}) == (7, ())


def test_the_weights_enforced_are_the_ones_the_published_sdl_shows() -> None:
    # the pipeline reads the directives off the built schemas' fields; tools read the SDL
    for built, published in (
        (build_schema(), SDL_FILE.read_text()),
        (build_subgraph_schema(), SUBGRAPH_FILE.read_text()),
    ):
        from_fields = Weights.from_schema(built._schema)
        from_text = Weights.from_sdl(published)
        assert from_fields.weights == from_text.weights
        assert from_fields.sizes == from_text.sizes
        assert from_fields.weights  # not two empty readings
