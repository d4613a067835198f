"""Look-ahead: the fields a query selects below a field, through its fragments, walking each
fragment once."""

from __future__ import annotations

from dataclasses import dataclass

from graphql import FieldNode, FragmentDefinitionNode, OperationDefinitionNode, parse

from resolvers.lookahead import selected, selected_nodes, selected_on


@dataclass
class RawInfo:
    """What look-ahead reads of graphql-core's resolve info."""

    field_nodes: list[FieldNode]
    fragments: dict[str, FragmentDefinitionNode]


def info_for(document: str) -> RawInfo:
    """The info of the operation's first root field."""
    parsed = parse(document)
    operation = next(d for d in parsed.definitions if isinstance(d, OperationDefinitionNode))
    fragments = {
        d.name.value: d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)
    }
    root = operation.selection_set.selections[0]
    assert isinstance(root, FieldNode)
    return RawInfo([root], fragments)


ENTITIES = """
query { _entities(representations: []) {
  __typename
  ... on Customer { name credit { status } }
  ... on Order { number customer { name } }
  ...invoiceFields
  ...customerFields
} }
fragment invoiceFields on Invoice { dueDate }
fragment customerFields on Customer { currency }
"""


def test_selected_on_keeps_the_fields_of_one_member_type() -> None:
    info = info_for(ENTITIES)

    assert selected_on(info, "Customer") == {"__typename", "name", "credit", "currency"}
    assert selected_on(info, "Order") == {"__typename", "number", "customer"}
    assert selected_on(info, "Invoice") == {"__typename", "dueDate"}
    assert selected_on(info, "Payment") == {"__typename"}


def test_selected_follows_every_fragment_whatever_its_type() -> None:
    info = info_for(ENTITIES)

    assert selected(info) == {
        "__typename",
        "name",
        "credit",
        "number",
        "customer",
        "dueDate",
        "currency",
    }


def test_a_fragment_that_spreads_itself_is_read_once() -> None:
    info = info_for('query { customer(id: "cus:1") { ...a } } fragment a on Customer { name ...a }')

    assert selected_on(info, "Customer") == {"name"}


def test_fields_through_fragments_and_inline_fragments() -> None:
    info = info_for(
        "{ customer(id: 1) { id ...Money ... on Customer { name } } } "
        "fragment Money on Customer { credit { status } ...More } fragment More on Customer { taxId }"
    )

    assert selected(info) == {"id", "credit", "name", "taxId"}
    assert selected(info, "credit") == {"status"}


def test_a_chain_of_fragments_each_spread_twice_is_walked_once_per_fragment() -> None:
    # Given a chain of 300 fragments, each spreading the previous one twice (2^300 paths)
    parts = ["fragment F0 on Customer { id name }"]
    parts += [f"fragment F{i} on Customer {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 301)]
    info = info_for("{ customers { nodes { ...F300 } } } " + " ".join(parts))

    # then the look-ahead answers, and names the innermost fragment's fields
    assert selected_nodes(info) == {"id", "name"}
