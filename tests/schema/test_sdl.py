"""The committed SDL, the ownership registry and the schema agree."""

from __future__ import annotations

import re

from domain.ownership import REGISTRY, SYSTEM_NAMES, System
from schema.__main__ import SDL_FILE, sdl


def test_committed_sdl_matches_the_code() -> None:
    committed = SDL_FILE.read_text()
    assert committed == sdl(), (
        "schema/schema.graphql is out of date: run `python -m schema --write` and review the diff"
    )


def test_every_field_of_the_canonical_types_is_owned_and_described() -> None:
    text = sdl()
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
        body = re.search(rf"\ntype {type_name} \{{(.*?)\n\}}", text, re.S)
        assert body, type_name
        fields = re.findall(
            r'"""\s*(.*?)\s*"""\s*\n\s*(\w+)(?:\(.*?\))?:.*?@owner\(system: (\w+)',
            body.group(1),
            re.S,
        )
        declared = re.findall(r"\n  (\w+)(?:\(.*?\))?: ", body.group(1))
        assert {name for _, name, _ in fields} == set(declared), type_name
        for description, name, system in fields:
            entry = REGISTRY[f"{type_name}.{name}"]
            assert entry.owner is System(system)
            assert description.endswith(f"Owned by {SYSTEM_NAMES[System(system)]}.")


def test_every_registry_entry_is_a_schema_field() -> None:
    text = sdl()
    for entry in REGISTRY:
        body = re.search(rf"\ntype {entry.type_name} \{{(.*?)\n\}}", text, re.S)
        assert body, entry.path
        assert re.search(rf"\n  {entry.field_name}[(:]", body.group(1)), entry.path
