"""Cached entities take their TTLs from the ownership registry; the docs table is current; the
settings reach the composition root."""

from __future__ import annotations

from pathlib import Path

import pytest

from cache import entities as E
from cache.entities import ENTITIES, entity_named, ttl_table
from config.settings import SettingsError, load_settings
from domain.ownership import REGISTRY, TtlClass
from server import options_from

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_entity_names_registered_fields() -> None:
    for entity in ENTITIES:
        assert entity.fields, entity.name
        for path in entity.fields:
            assert path in REGISTRY, (entity.name, path)


@pytest.mark.parametrize(
    ("entity", "ttl"),
    [
        (E.CUSTOMER, TtlClass.VOLATILE),  # credit limit, balance, overdue
        (E.CUSTOMER_BY_KEY, TtlClass.VOLATILE),
        (E.ACCOUNT, TtlClass.STANDARD),  # the account owner
        (E.INVOICE, TtlClass.VOLATILE),  # amount due
        (E.ORDERS_OF_CUSTOMER, TtlClass.STANDARD),
        (E.TRANSACTION_LINES, TtlClass.STANDARD),
        (E.OPPORTUNITY, TtlClass.STANDARD),
    ],
)
def test_the_ttl_is_the_shortest_of_the_fields_carried(entity: E.Entity, ttl: TtlClass) -> None:
    assert entity.ttl_class is ttl
    assert entity.ttl == ttl.seconds
    assert entity.ttl == min(REGISTRY[path].ttl.seconds for path in entity.fields)


def test_names_are_unique_and_looked_up() -> None:
    assert entity_named("customer") is E.CUSTOMER
    with pytest.raises(KeyError, match="no cache entity"):
        entity_named("customers")


def test_the_docs_table_is_current() -> None:
    text = (DOCS / "caching.md").read_text()
    table = text.split("<!-- entities:begin -->\n", 1)[1].split("<!-- entities:end -->", 1)[0]
    assert table.strip() == ttl_table().strip(), "run python -m cache"


def test_settings_turn_the_cache_off_and_size_it() -> None:
    assert options_from(load_settings({})).cache.enabled is True
    assert options_from(load_settings({})).cache.max_entries == 100_000
    off = options_from(load_settings({"ACCORD_CACHE": "off", "ACCORD_CACHE_SIZE": "5000"}))
    assert off.cache.enabled is False
    assert off.cache.max_entries == 5000
    with pytest.raises(SettingsError) as refused:
        load_settings({"ACCORD_CACHE": "sometimes", "ACCORD_CACHE_SIZE": "ten"})
    assert any("ACCORD_CACHE=" in problem for problem in refused.value.problems)
    assert any("ACCORD_CACHE_SIZE" in problem for problem in refused.value.problems)
