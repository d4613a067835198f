"""Project the seed `World` into NetSuite records.

Only customers the ERP knows (``ns_id`` set) become NetSuite customers; their company name and
billing street are the ERP's versions where the world recorded drift. Internal ids come from
the world (customers 1000+, transactions 50000+, items 101+); the customer's ``externalId`` is
the shared cross-reference key (``Account.ERP_Customer_Id__c`` in Salesforce) and its
``entityId`` is ``CUST<internal id>``. Sales orders booked from an opportunity carry the
opportunity id as their ``externalId``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sandbox.netsuite.model import (
    INVOICE,
    PAYMENT,
    SALES_ORDER,
    AddressRec,
    ApplyRec,
    CurrencyRec,
    CustomerRec,
    ItemRec,
    LineRec,
    SubsidiaryRec,
    TermRec,
    TransactionRec,
)
from sandbox.netsuite.store import Store
from sandbox.world import FX_FROM_USD, Customer, Invoice, Line, Payment, SalesOrder, World

_ITEM_TYPES = {
    "Software": ("NonInvtPart", "noninventoryitem"),
    "Services": ("Service", "serviceitem"),
    "Support": ("Service", "serviceitem"),
    "Hardware": ("InvtPart", "inventoryitem"),
}


_BOOKED_AT = dt.time(9, 0)  # seeded transactions are saved at 09:00 UTC on their date


def _price(usd: Decimal, code: str) -> Decimal:
    exponent = Decimal(1) if code == "JPY" else Decimal("0.01")
    return (usd * FX_FROM_USD[code]).quantize(exponent)


def build_store(world: World) -> Store:
    """A store holding ``world`` as NetSuite sees it."""
    currency_ids = {c.code: c.ns_id for c in world.currencies}
    store = Store(
        as_of=world.as_of,
        today=world.clock.today,
        now=world.clock.now,
        subsidiaries=[
            SubsidiaryRec(s.ns_id, s.name, s.country, currency_ids[s.currency])
            for s in world.subsidiaries
        ],
        currencies=[
            CurrencyRec(c.ns_id, c.code, c.name, 0 if c.code == "JPY" else 2)
            for c in world.currencies
        ],
        terms=[TermRec(t.ns_id, t.name, t.days) for t in world.terms],
        items=[
            ItemRec(
                p.ns_item_id,
                p.sku,
                p.name,
                _ITEM_TYPES.get(p.family, ("NonInvtPart", "noninventoryitem"))[0],
                _ITEM_TYPES.get(p.family, ("NonInvtPart", "noninventoryitem"))[1],
                {
                    c.ns_id: _price(p.list_price_usd, c.code)
                    for c in world.currencies
                    if c.code in FX_FROM_USD
                },
            )
            for p in world.products
        ],
    )
    address_id = 1
    for customer in world.customers:
        if customer.ns_id is None:
            continue
        store.commit("customer", customer.ns_id, _customer(customer, currency_ids, address_id))
        address_id += 1
    for customer in world.customers:
        if customer.ns_id is not None:
            _transactions(store, world, customer, currency_ids)
    return store


def _customer(customer: Customer, currency_ids: dict[str, int], address_id: int) -> CustomerRec:
    assert customer.ns_id is not None
    domain = customer.website.removeprefix("https://www.")
    name = customer.erp_name or customer.name
    address = customer.address
    return CustomerRec(
        id=customer.ns_id,
        entity_id=f"CUST{customer.ns_id}",
        company_name=name,
        subsidiary=customer.subsidiary.ns_id,
        currency=currency_ids[customer.currency],
        date_created=customer.created,
        last_modified=customer.created,
        email=f"accounts@{domain}",
        phone=customer.phone,
        external_id=customer.key,
        terms=customer.terms.ns_id,
        credit_limit=customer.credit_limit,
        credit_hold=customer.credit_hold,
        vat_reg_number=customer.tax_id,
        addresses=[
            AddressRec(
                id=address_id,
                addr1=customer.erp_street or address.street,
                city=address.city,
                state=address.state,
                zip=address.postal_code,
                country=address.country,
                addressee=name,
                label=customer.erp_street or address.street,
                default_billing=True,
                default_shipping=True,
            )
        ],
    )


def _lines(lines: list[Line]) -> list[LineRec]:
    return [
        LineRec(
            line=number,
            item=line.product.ns_item_id,
            quantity=Decimal(line.quantity),
            rate=line.unit_price,
            amount=line.amount,
            description=line.product.name,
        )
        for number, line in enumerate(lines, start=1)
    ]


def _transactions(
    store: Store, world: World, customer: Customer, currency_ids: dict[str, int]
) -> None:
    entity = customer.ns_id
    assert entity is not None
    currency = currency_ids[customer.currency]
    subsidiary = customer.subsidiary.ns_id

    def commit(kind: str, record: SalesOrder | Invoice | Payment, **details: Any) -> None:
        """One of the customer's transactions, dated and numbered as the world has it."""
        saved = world.stamp(record.date, _BOOKED_AT)
        store.commit(
            "transaction",
            record.ns_id,
            TransactionRec(
                id=record.ns_id,
                type=kind,
                tran_id=record.tran_id,
                tran_date=record.date,
                entity=entity,
                currency=currency,
                subsidiary=subsidiary,
                created=saved,
                last_modified=saved,
                **details,
            ),
        )

    for order in customer.sales_orders:
        commit(
            SALES_ORDER,
            order,
            status=order.status,
            external_id=order.external_id,
            lines=_lines(order.lines),
        )
    for invoice in customer.invoices:
        commit(
            INVOICE,
            invoice,
            due_date=invoice.due_date,
            created_from=invoice.sales_order.ns_id if invoice.sales_order else None,
            lines=_lines(invoice.lines),
        )
    for payment in customer.payments:
        commit(
            PAYMENT,
            payment,
            status="C",
            memo=payment.memo,
            payment=payment.amount,
            applies=[
                ApplyRec(doc=a.invoice.ns_id, amount=a.amount, line=number)
                for number, a in enumerate(payment.applications, start=1)
            ],
        )
