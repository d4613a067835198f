"""Seeded tax ids have each country's form and valid check digits, as a real ERP checks them.

python-stdnum (installed with the tryton extra) is the independent judge: it is what Tryton
checks identifiers with."""

from __future__ import annotations

import random
from typing import Any

import pytest
from stdnum import get_cc_module

from mutations.policies import tax_id_problem
from sandbox.tax_ids import tax_id_for
from sandbox.tryton.identifiers import IDENTIFIER_TYPES, accord_tax_id, tryton_identifier
from sandbox.world import SUBSIDIARIES, build_world

COUNTRIES = sorted(sub.country for sub in SUBSIDIARIES)
# Tryton's tax identifier types are stdnum's modules, VAT numbers under their country's name.
STDNUM = {
    "us_ein": "us.ein",
    "gb_vat": "gb.vat",
    "eu_vat": "eu.vat",
    "ca_vat": "ca.bn",
    "jp_vat": "jp.cn",
    "au_vat": "au.abn",
}


def stdnum_module(kind: str) -> Any:
    country, name = STDNUM[kind].split(".")
    return get_cc_module(country, name)


@pytest.mark.parametrize("country", COUNTRIES)
def test_every_generated_tax_id_passes_its_check_digits_and_accord_s_form(country: str) -> None:
    rng = random.Random(country)
    for _ in range(500):
        # given a tax id drawn for the country
        tax_id = tax_id_for(country, rng)

        # when it becomes a Tryton identifier
        identifier = tryton_identifier(country, tax_id)

        # then Tryton's checker accepts it, Accord's policy too, and it maps back unchanged
        module = stdnum_module(identifier["type"])
        assert module.is_valid(identifier["code"]), (country, tax_id)
        assert tax_id_problem(country, tax_id, "taxId") is None
        assert accord_tax_id(identifier["type"], module.compact(identifier["code"])) == tax_id


def test_the_world_s_tax_ids_are_all_valid() -> None:
    world = build_world(42, 300)
    checked = 0
    for customer in world.customers:
        if customer.tax_id:
            kind = IDENTIFIER_TYPES[customer.address.country]
            code = tryton_identifier(customer.address.country, customer.tax_id)["code"]
            assert stdnum_module(kind).is_valid(code), customer.tax_id
            checked += 1
    assert checked > 250


class CountingRandom(random.Random):
    def __init__(self) -> None:
        super().__init__(7)
        self.choices_made = 0

    def choice(self, seq):  # type: ignore[no-untyped-def]
        self.choices_made += 1
        return super().choice(seq)


@pytest.mark.parametrize("country", COUNTRIES)
def test_check_digits_are_computed_not_drawn(country: str) -> None:
    # given a generator that counts what is drawn from it
    rng = CountingRandom()

    # when a tax id is drawn
    tax_id_for(country, rng)

    # then it drew what tax ids always drew (12 digits; 13 for Japan), so the rest of a seeded
    # world does not change with the check digit rules
    assert rng.choices_made == (13 if country == "JP" else 12)
