"""The shape of a document measured in one pass: fragments measured once, spreads merged as
execution merges them, cycles and chains far longer than Python's stack handled."""

from __future__ import annotations

from graphql import FragmentDefinitionNode, parse

from api.analysis import Shape, ShapeLimits, check, dependency_order, measure


def chain(links: int, body: str = "...F{prev} ...F{prev}") -> str:
    """A chain of fragments on Customer, each spreading the previous one as ``body`` says."""
    parts = ["fragment F0 on Customer { id name }"]
    for i in range(1, links + 1):
        parts.append(f"fragment F{i} on Customer {{ {body.format(prev=i - 1)} }}")
    return f"query {{ customers(first: 1) {{ nodes {{ ...F{links} }} }} }} " + " ".join(parts)


def test_a_fragment_spread_twice_in_one_selection_set_counts_once() -> None:
    # Given a chain of 200 links, each spreading the previous fragment twice (2^200 paths)
    document = parse(chain(200))

    # When it is measured, then it is what execution does: the innermost fragment, once
    assert measure(document) == {None: Shape(depth=3, aliases=0, repeats=1)}


def test_aliases_count_as_often_as_they_run() -> None:
    # Given fragments whose aliased fields each spread the previous fragment
    document = parse(chain(40, body="a: customer {{ ...F{prev} }} b: customer {{ ...F{prev} }}"))

    shape = measure(document)[None]

    # then every alias counts as many times as it runs: 2 + 4 + ... + 2^40
    assert shape.aliases == 2**41 - 2
    assert shape.depth == 43
    errors = check(document, ShapeLimits())
    assert {e.extensions["code"] for e in errors if e.extensions} == {
        "ALIAS_LIMIT_EXCEEDED",
        "DEPTH_LIMIT_EXCEEDED",
    }
    assert all("more than 1000000000" in e.message for e in errors if "aliases" in e.message)


def test_a_chain_longer_than_the_stack_is_measured_without_recursion() -> None:
    parts = ["fragment F0 on Customer { id }"]
    parts += [f"fragment F{i} on Customer {{ ...F{i - 1} }}" for i in range(1, 5_000)]
    document = parse("{ customers { nodes { ...F4999 } } } " + " ".join(parts))

    assert measure(document)[None].depth == 3


def test_cycles_and_unknown_fragments_measure_as_nothing() -> None:
    document = parse(
        "{ customers { nodes { ...A ...Missing } } } "
        "fragment A on Customer { name ...B } fragment B on Customer { id ...A }"
    )

    assert measure(document)[None] == Shape(depth=3, aliases=0, repeats=1)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    order = dependency_order(fragments)
    assert sorted(order) == ["A", "B"]


def test_fields_repeated_in_one_selection_set_are_refused_before_validation() -> None:
    # Given one field selected 500 times (validation would compare every pair)
    repeated = parse(
        "{ " + " ".join("customers(first: 1) { totalCount }" for _ in range(500)) + " }"
    )
    # and a field selected through inline fragments and a fragment, merged in one set
    merged = parse(
        "{ customers { nodes { id ... on Customer { id } ...I } } } fragment I on Customer { id }"
    )

    assert measure(repeated)[None].repeats == 500
    assert [e.extensions for e in check(repeated, ShapeLimits())] == [
        {"code": "REPEAT_LIMIT_EXCEEDED"}
    ]
    assert measure(merged)[None].repeats == 3
    assert check(merged, ShapeLimits()) == []


def test_introspection_is_left_to_graphql_cores_own_rule() -> None:
    document = parse("{ __schema { types { fields { type { fields { name } } } } } }")

    assert measure(document)[None].depth == 0


def test_each_operation_is_measured_on_its_own() -> None:
    document = parse(
        "query Shallow { customers { totalCount } } "
        "query Deep { customers { nodes { invoices { nodes { customer { id } } } } } }"
    )

    shapes = measure(document)

    assert shapes["Shallow"].depth == 2
    assert shapes["Deep"].depth == 6
    errors = check(document, ShapeLimits(max_depth=5))
    assert [e.message for e in errors] == ["'Deep' exceeds maximum operation depth of 5"]
