"""Test support: the same tests on each ERP Accord runs on, NetSuite (its emulator) and Tryton
(a real trytond), and fresh customers made in either ERP straight through its own API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from sandbox.endpoints import Endpoints
from sandbox.world import World
from sources.records import Address, CustomerFields, NewSalesOrder, OrderLineInput
from sources.resilience import ResiliencePolicy
from sources.tryton.adapter import TrytonErp
from sources.tryton.rpc import TrytonConfig
from tests.accord import AccordServer

ERPS: list[Any] = ["netsuite", pytest.param("tryton", marks=pytest.mark.second_erp)]
"""Fixture parameters naming each ERP; Tryton's are in the ``second_erp`` group."""


@dataclass
class OnErp:
    name: str
    accord: AccordServer
    world: World
    endpoints: Endpoints


def erp_sandbox(request: pytest.FixtureRequest, name: str) -> tuple[World, Endpoints]:
    """The world and the (writable) sandbox of the ERP called ``name``."""
    if name == "tryton":
        return (
            request.getfixturevalue("tryton_world"),
            request.getfixturevalue("writable_tryton_sandbox"),
        )
    return request.getfixturevalue("world"), request.getfixturevalue("sandbox")


def tryton_adapter(endpoints: Endpoints) -> TrytonErp:
    """The Tryton adapter on the sandbox's Tryton, patient with a loaded machine."""
    tryton = endpoints.tryton
    return TrytonErp(
        TrytonConfig(
            url=tryton.url,
            database=tryton.database,
            user=tryton.user,
            password=tryton.password,
            ca_file=tryton.ca_file,
            policy=ResiliencePolicy(timeout=60.0, max_attempts=1),
        )
    )


async def new_german_customer(erp: TrytonErp, key: str, name: str, limit: Decimal) -> str:
    """The party id of a new Tryton customer ``name`` of the German entity, credit limit
    ``limit``, invoiced in EUR."""
    entity = next(e for e in (await erp.legal_entities()).values() if e.country == "DE")
    return await erp.upsert_customer(
        key,
        CustomerFields(
            name=name,
            legal_entity_id=entity.erp_id,
            currency="EUR",
            credit_limit=limit,
            billing_address=Address("1 Hauptstrasse", "Berlin", None, "10115", "DE"),
        ),
        idempotency_key=key,
    )


async def tryton_customer_with_invoice(
    endpoints: Endpoints,
    key: str,
    *,
    amount: Decimal = Decimal("1000.00"),
    limit: Decimal = Decimal("100000.00"),
) -> tuple[str, str]:
    """(party id, invoice id) of a new Tryton customer of the German entity, credit limit
    ``limit``, with one posted invoice of ``amount`` EUR (a sale booked through the adapter,
    its invoice posted)."""
    erp = tryton_adapter(endpoints)
    try:
        customer = await new_german_customer(erp, key, f"Paying {key} GmbH", limit)
        order = await erp.create_sales_order(
            NewSalesOrder(
                customer_erp_id=customer,
                external_id=f"006PAY{uuid.uuid4().hex[:8]}",
                order_date=erp.today(),
                currency="EUR",
                lines=(OrderLineInput("SVC-TRAIN", Decimal(1), amount),),
            ),
            idempotency_key=key,
        )
        (sale,) = await erp.rpc.search_read(
            "sale.sale", [["id", "=", int(order[1:])]], ["invoices", "company"]
        )
        (invoice,) = sale["invoices"]
        await erp.rpc.call(
            "account.invoice", "post", [invoice], context={"company": sale["company"]}
        )
        return customer, f"I{invoice}"
    finally:
        await erp.close()
