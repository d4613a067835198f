"""Fresh deals to book, made through the emulators' own APIs (tests and benchmarks).

Each deal is a Closed Won opportunity with priced lines on an account of its own, so that
whoever books it depends on no one else's writes: on an account new to the ERP (its booking
waits for finance, a new customer having no credit limit), or on a customer both systems know
(a new ERP customer with a credit limit, and an account cross-referenced to it), which books
straight through.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sandbox.emulator_client import EmulatorClient
from sandbox.world import World

__all__ = ["Deal", "Deals"]


@dataclass
class Deal:
    account_id: str
    opportunity_id: str
    erp_key: str | None
    total: Decimal
    currency: str


class Deals:
    """Creates Closed Won deals in the Salesforce emulator."""

    def __init__(self, emulators: EmulatorClient, world: World) -> None:
        self.emulators = emulators
        self.world = world

    def new_account(self, country: str = "DE", **overrides: Any) -> str:
        fields = {
            "Name": f"Fresh Prospect {uuid.uuid4().hex[:8]} GmbH",
            "BillingStreet": "1 Hauptstrasse",
            "BillingCity": "Berlin",
            "BillingPostalCode": "10115",
            "BillingCountryCode": country,
            "Tax_Id__c": "DE123456789",
            "Industry": "Manufacturing",
            **overrides,
        }
        return self.emulators.sf_create("Account", fields)

    def deal(
        self,
        account_id: str,
        *,
        currency: str,
        stage: str = "Closed Won",
        lines: list[tuple[str, int]] | None = None,
        erp_key: str | None = None,
    ) -> Deal:
        opportunity_id = self.emulators.sf_create(
            "Opportunity",
            {
                "Name": f"Test deal {uuid.uuid4().hex[:6]}",
                "AccountId": account_id,
                "StageName": stage,
                "CloseDate": self.world.as_of.isoformat(),
                "CurrencyIsoCode": currency,
            },
        )
        total = Decimal(0)
        for sku, quantity in lines or [("SVC-TRAIN", 1)]:
            product = next(p for p in self.world.products if p.sku == sku)
            price = product.list_price_usd
            self.emulators.sf_create(
                "OpportunityLineItem",
                {
                    "OpportunityId": opportunity_id,
                    "PricebookEntryId": self.world.pricebook_entry_ids[(sku, currency)],
                    "Quantity": quantity,
                    "UnitPrice": float(price),
                },
            )
            total += price * quantity
        return Deal(account_id, opportunity_id, erp_key, total, currency)

    def on_existing_customer(self, *, credit_limit: int = 100_000) -> Deal:
        """A Closed Won deal on a customer both systems know: a new ERP customer (German
        entity, EUR, with a credit limit) and a new account cross-referenced to it."""
        erp_key = f"TEST-{uuid.uuid4().hex[:12]}"
        self.emulators.ns_create(
            "customer",
            {
                "companyName": f"Existing Customer {erp_key} GmbH",
                "externalId": erp_key,
                "subsidiary": {"id": "3"},
                "currency": {"id": "4"},
                "creditLimit": credit_limit,
                "vatRegNumber": "DE111222333",
            },
        )
        account = self.new_account(ERP_Customer_Id__c=erp_key)
        return self.deal(account, currency="EUR", erp_key=erp_key)

    def customer_with_invoice(self, amount: int = 1000) -> tuple[str, str, str]:
        """(canonical customer id, ERP customer id, invoice id) of a fresh customer known to
        both systems, with one open invoice of ``amount`` in euros."""
        deal = self.on_existing_customer()
        erp_id = str(
            self.emulators.suiteql(f"SELECT id FROM customer WHERE externalid = '{deal.erp_key}'")[
                0
            ]["id"]
        )
        invoice = self.emulators.ns_create(
            "invoice",
            {
                "entity": {"id": erp_id},
                "item": {"items": [{"item": {"id": "106"}, "quantity": 1, "rate": amount}]},
            },
        )
        return f"cus:{deal.erp_key}", erp_id, invoice
