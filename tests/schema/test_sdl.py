"""The committed SDL, the ownership registry and the schema agree."""

from __future__ import annotations

import re

from graphql import (
    EnumValueNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    specified_scalar_types,
)

from domain.ownership import REGISTRY, SYSTEM_NAMES, System
from schema.__main__ import SDL_FILE, sdl


def test_committed_sdl_matches_the_code() -> None:
    committed = SDL_FILE.read_text()
    assert committed == sdl(), (
        "schema/schema.graphql is out of date: run `python -m schema --write` and review the diff"
    )


def test_every_field_of_the_canonical_types_is_owned_and_described() -> None:
    schema = build_schema(sdl())
    for type_name in (
        "Customer",
        "CreditSummary",
        "Order",
        "Invoice",
        "Payment",
        "Opportunity",
        "LegalEntity",
        "PaymentTerms",
    ):
        named = schema.type_map[type_name]
        assert isinstance(named, GraphQLObjectType), type_name
        for name, field in named.fields.items():
            assert field.ast_node is not None
            owner = [d for d in field.ast_node.directives if d.name.value == "owner"]
            assert len(owner) == 1, f"{type_name}.{name} has no @owner"
            system = next(a.value for a in owner[0].arguments if a.name.value == "system")
            assert isinstance(system, EnumValueNode)
            entry = REGISTRY[f"{type_name}.{name}"]
            assert entry.owner is System(system.value)
            assert field.description
            assert field.description.endswith(f"Owned by {SYSTEM_NAMES[entry.owner]}.")


def test_every_registry_entry_is_a_schema_field() -> None:
    text = sdl()
    for entry in REGISTRY:
        body = re.search(rf"\ntype {entry.type_name} \{{(.*?)\n\}}", text, re.S)
        assert body, entry.path
        assert re.search(rf"\n  {entry.field_name}[(:]", body.group(1)), entry.path


def undescribed(schema: GraphQLSchema) -> list[str]:
    """Every type, field, argument, input field, enum value and directive argument of the
    schema's own that has no description."""
    missing = []
    for name, named in schema.type_map.items():
        if name.startswith("__") or name in specified_scalar_types:
            continue
        if not named.description:
            missing.append(name)
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in named.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                missing += [
                    f"{name}.{field_name}({arg})"
                    for arg, argument in field.args.items()
                    if not argument.description
                ]
        if isinstance(named, GraphQLInputObjectType):
            missing += [f"{name}.{f}" for f, field in named.fields.items() if not field.description]
        if isinstance(named, GraphQLEnumType):
            missing += [f"{name}.{v}" for v, value in named.values.items() if not value.description]
    for directive in schema.directives:
        if not directive.description:
            missing.append(f"@{directive.name}")
        missing += [
            f"@{directive.name}({arg})"
            for arg, argument in directive.args.items()
            if not argument.description
        ]
    return missing


def test_everything_in_the_committed_sdl_is_described() -> None:
    # given the SDL as committed and served (GET /graphql/schema.graphql)
    schema = build_schema(SDL_FILE.read_text())

    # then every type, field, argument, input field, enum value and directive argument says
    # what it is
    assert undescribed(schema) == []


def test_the_check_finds_what_lacks_a_description() -> None:
    # given a schema with one of each thing undescribed
    schema = build_schema(
        """
        "A root." type Query { "A field." f(a: Int): E  g: Int }
        enum E { "One." ONE TWO }
        input I { "x." x: Int  y: Int }
        "Has an arg." directive @d(n: Int) on FIELD_DEFINITION
        """
    )

    # then each is named
    assert sorted(undescribed(schema)) == sorted(
        ["Query.f(a)", "Query.g", "E", "E.TWO", "I", "I.y", "@d(n)"]
    )
