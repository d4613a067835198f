"""Look-ahead names the fields a query selects below a field, walking each fragment once."""

from __future__ import annotations

from types import SimpleNamespace

from graphql import FieldNode, FragmentDefinitionNode, OperationDefinitionNode, parse

from resolvers.lookahead import selected, selected_nodes


def info_for(text: str) -> SimpleNamespace:
    """What a resolver of the operation's first root field would be given."""
    document = parse(text)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    root = operation.selection_set.selections[0]
    assert isinstance(root, FieldNode)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return SimpleNamespace(field_nodes=[root], fragments=fragments)


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
