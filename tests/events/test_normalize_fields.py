"""The customer fields customer events compare and carry come from the ownership registry:
each system's events carry the fields it owns, and moving a field moves it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain import ownership
from domain.ownership import System
from events.normalize import fields
from sources.netsuite import NetSuiteErp
from sources.records import Address, CrmAccount, ErpCustomer
from sources.salesforce import SalesforceCrm

CUSTOMER = ErpCustomer(
    erp_id="1042",
    erp_key="CUST-1042",
    name="Acme Ltd",
    email="ap@acme.example",
    phone="+1 555 0100",
    legal_entity_id="3",
    currency="USD",
    terms_id="2",
    tax_id="12-3456789",
    credit_limit=Decimal("5000"),
)
ACCOUNT = CrmAccount(
    salesforce_id="001000000000001AAA",
    erp_key="CUST-1042",
    name="Acme Ltd",
    industry="Retail",
    phone="+1 555 0100",
    currency="USD",
    tax_id="12-3456789",
    billing_address=Address("1 Main St", "Springfield", "IL", "62701", "US"),
    credit_status_mirror="Good Standing",
)


def erp_fields() -> dict[str, object]:
    return fields.erp_customer_fields(CUSTOMER, NetSuiteErp.customer_attributes)


def crm_fields() -> dict[str, object]:
    return fields.account_fields(ACCOUNT, SalesforceCrm.customer_attributes)


def test_each_system_carries_the_fields_it_owns_and_what_identifies_the_record() -> None:
    assert erp_fields() == {
        "name": "Acme Ltd",
        "legalEntityId": "3",
        "currency": "USD",
        "termsId": "2",
        "taxId": "12-3456789",
        "creditLimit": "5000.00",
        "erpKey": "CUST-1042",
        "creditHold": "AUTO",
        "inactive": False,
    }
    crm = crm_fields()
    assert crm["industry"] == "Retail"
    assert crm["phone"] == "+1 555 0100"
    assert crm["billingCity"] == "Springfield"
    assert crm["billingPostalCode"] == "62701"
    assert "taxId" not in crm  # the ERP's: a copy in the CRM is no CRM event
    assert "phone" not in erp_fields()  # the CRM's


def test_moving_a_field_moves_it_to_the_other_systems_events(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    moved = ownership.REGISTRY.with_owner("Customer.taxId", System.CRM)
    monkeypatch.setattr(ownership, "REGISTRY", moved)

    assert "taxId" not in erp_fields()
    assert crm_fields()["taxId"] == "12-3456789"
