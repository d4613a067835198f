"""The committed SDL, the ownership registry and the schema agree."""

from __future__ import annotations

import re

from graphql import EnumValueNode, GraphQLObjectType, build_schema

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
