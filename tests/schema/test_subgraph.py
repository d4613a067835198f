"""The federation subgraph's SDL: committed, annotated where it should be, and otherwise the
standalone schema's own types."""

from __future__ import annotations

import re
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    get_named_type,
)

from schema.__main__ import SDL_FILE, SUBGRAPH_FILE, subgraph_sdl
from schema.federation import FEDERATION_VERSION


def type_line(sdl: str, name: str) -> str:
    found = re.search(rf"^(?:type|union|scalar) {name}\b[^\n]*$", sdl, re.M)
    assert found, name
    return found.group(0)


def read(sdl: str) -> GraphQLSchema:
    # The federation directives the subgraph imports through @link are not defined in it.
    return build_schema(sdl, assume_valid_sdl=True)


def shape(named: GraphQLNamedType) -> object:
    """What a client sees of a type: its description and each field's type, arguments and
    description (enum values and input fields likewise)."""
    if isinstance(named, GraphQLObjectType | GraphQLInputObjectType):
        return named.description, {
            name: (
                str(field.type),
                field.description,
                {arg: str(a.type) for arg, a in getattr(field, "args", {}).items()},
            )
            for name, field in named.fields.items()
        }
    if isinstance(named, GraphQLEnumType):
        return named.description, {name: v.description for name, v in named.values.items()}
    return named.description


def reachable(schema: GraphQLSchema, *roots: GraphQLNamedType | None) -> set[str]:
    """The names of the types a client reaches from ``roots`` (directives' types included)."""
    stack: list[Any] = [*roots]
    for directive in schema.directives:
        stack.extend(arg.type for arg in directive.args.values())
    seen: set[str] = set()
    while stack:
        item = stack.pop()
        if item is None:
            continue
        named = get_named_type(item)
        if named.name in seen:
            continue
        seen.add(named.name)
        stack.extend(getattr(named, "types", ()))
        stack.extend(getattr(named, "interfaces", ()))
        for field in getattr(named, "fields", {}).values():
            stack.append(field.type)
            stack.extend(arg.type for arg in getattr(field, "args", {}).values())
    return seen


def test_committed_subgraph_sdl_matches_the_code() -> None:
    assert SUBGRAPH_FILE.read_text() == subgraph_sdl(), (
        "schema/subgraph.graphql is out of date: run `python -m schema --write` and review the diff"
    )


def test_the_subgraph_links_federation_2_and_keys_its_entities() -> None:
    sdl = subgraph_sdl()

    assert (
        f'schema @link(url: "https://specs.apollo.dev/federation/v{FEDERATION_VERSION}", '
        'import: ["@inaccessible", "@key", "@shareable"])' in sdl
    )
    assert type_line(sdl, "Customer") == (
        'type Customer @key(fields: "id") @key(fields: "salesforceId") @key(fields: "erpId") {'
    )
    for entity in ("Order", "Invoice", "Payment"):
        assert type_line(sdl, entity) == f'type {entity} @key(fields: "id") {{'
    assert type_line(sdl, "_Entity") == "union _Entity = Customer | Invoice | Order | Payment"
    for value in ("Money", "PageInfo", "Address"):
        assert type_line(sdl, value) == f"type {value} @shareable {{"
    for hidden in ("AccordInfo", "FieldInfo", "SystemInfo"):
        assert type_line(sdl, hidden) == f"type {hidden} @inaccessible {{"
    assert "  _accord: AccordInfo! @inaccessible\n" in sdl
    assert "  _entities(representations: [_Any!]!): [_Entity]! @listSize(assumedSize: 500" in sdl
    assert "  _service: _Service!\n" in sdl


def test_the_subgraph_has_the_standalone_types_and_nothing_of_its_own_but_federation() -> None:
    standalone = read(SDL_FILE.read_text())
    subgraph = read(subgraph_sdl())
    assert standalone.subscription_type is not None
    assert subgraph.subscription_type is None  # federated subscriptions: see docs/federation.md
    subscribed_only = set(standalone.type_map) - reachable(
        standalone, standalone.query_type, standalone.mutation_type
    )
    assert {"Subscription", "InvoiceStatusEvent", "EventInfo"} <= subscribed_only

    missing = set(standalone.type_map) - set(subgraph.type_map) - subscribed_only
    added = set(subgraph.type_map) - set(standalone.type_map)
    assert missing == set()
    assert added == {"_Any", "_Entity", "_Service"}
    for name, named in standalone.type_map.items():
        if name in subscribed_only or name.startswith("__"):
            continue
        ours = subgraph.type_map[name]
        if name == "Query":
            # the same fields, plus the two of federation; no description (see federation.py)
            assert shape(ours)[1] == {  # type: ignore[index]
                **shape(named)[1],  # type: ignore[index]
                "_entities": ("[_Entity]!", None, {"representations": "[_Any!]!"}),
                "_service": ("_Service!", None, {}),
            }
        elif name == "Mutation":
            assert shape(ours)[1] == shape(named)[1]  # type: ignore[index]
        else:
            assert shape(ours) == shape(named), name


def test_the_standalone_schema_knows_nothing_of_federation() -> None:
    sdl = SDL_FILE.read_text()

    for federation in ("@link", "@key", "@shareable", "@inaccessible", "_entities", "_service"):
        assert federation not in sdl
