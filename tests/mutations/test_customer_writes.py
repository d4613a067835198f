"""updateCustomer, setCreditHold and recordPayment: each value lands in its owner only.

Every test works on a customer it created (an ERP customer and the account cross-referenced
to it), and checks both emulators directly.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.accord import AccordServer, Emulators
from tests.mutations.conftest import Deals, key

UPDATE = """mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) {
  errors { field message code }
  customer { id name industry billingAddress { street city } taxId
             paymentTerms { name } credit { limit { amount currency } } }
} }"""
HOLD = """mutation($input: SetCreditHoldInput!) { setCreditHold(input: $input) {
  errors { field message code } customer { credit { status hold } } } }"""
PAY = """mutation($input: RecordPaymentInput!) { recordPayment(input: $input) {
  errors { field message code }
  payment { id number amount { amount currency } unapplied { amount }
            applications { amount { amount } invoice { number amountDue { amount } status } } }
  customer { credit { balance { amount } } }
} }"""


def customer_pair(deals: Deals) -> tuple[str, str, str]:
    """(canonical id, account id, ERP internal id) of a fresh customer in both systems."""
    deal = deals.on_existing_customer()
    assert deal.erp_key is not None
    erp_id = deals.emulators.suiteql(
        f"SELECT id FROM customer WHERE externalid = '{deal.erp_key}'"
    )[0]["id"]
    return f"cus:{deal.erp_key}", deal.account_id, erp_id


def update(accord: AccordServer, role: str, **fields: Any) -> dict[str, Any]:
    body = accord.graphql(UPDATE, {"input": fields}, key=f"demo-{role}")
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["updateCustomer"]
    return payload


def erp_row(emulators: Emulators, erp_id: str) -> dict[str, Any]:
    return emulators.suiteql(
        "SELECT companyname, creditlimit, terms, vatregnumber, creditholdoverride, subsidiary "
        f"FROM customer WHERE id = {erp_id}"
    )[0]


def test_crm_fields_land_in_salesforce_only(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    customer_id, account_id, erp_id = customer_pair(deals)
    erp_before = erp_row(emulators, erp_id)

    payload = update(
        accord,
        "sales",
        idempotencyKey=key(),
        id=customer_id,
        name="Renamed Widgets GmbH",
        industry="Retail",
        billingAddress={
            "street": "9 Neue Strasse",
            "city": "Hamburg",
            "postalCode": "20095",
            "country": "DE",
        },
    )

    assert payload["errors"] == []
    assert payload["customer"]["name"] == "Renamed Widgets GmbH"
    account = emulators.sf_get("Account", account_id)
    assert (account["Name"], account["Industry"], account["BillingCity"]) == (
        "Renamed Widgets GmbH",
        "Retail",
        "Hamburg",
    )
    assert erp_row(emulators, erp_id) == erp_before


def test_erp_fields_land_in_the_erp_only(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    customer_id, account_id, erp_id = customer_pair(deals)
    account_before = emulators.sf_get("Account", account_id)

    payload = update(
        accord,
        "finance",
        idempotencyKey=key(),
        id=customer_id,
        creditLimit="250000.50",
        paymentTerms="Net 45",
        taxId="DE 444555666",
    )

    assert payload["errors"] == []
    assert payload["customer"]["credit"]["limit"] == {"amount": "250000.50", "currency": "EUR"}
    assert payload["customer"]["paymentTerms"]["name"] == "Net 45"
    row = erp_row(emulators, erp_id)
    assert Decimal(row["creditlimit"]) == Decimal("250000.50")
    assert row["vatregnumber"] == "DE444555666"
    account = emulators.sf_get("Account", account_id)
    assert account["LastModifiedDate"] == account_before["LastModifiedDate"]


def test_a_field_the_role_may_not_write_refuses_everything(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    customer_id, account_id, erp_id = customer_pair(deals)
    erp_before = erp_row(emulators, erp_id)
    account_before = emulators.sf_get("Account", account_id)

    payload = update(
        accord,
        "sales",
        idempotencyKey=key(),
        id=customer_id,
        name="Should Not Land",
        creditLimit="1",
    )

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("FIELD_NOT_WRITABLE", "creditLimit")
    ]
    assert payload["customer"] is None
    assert erp_row(emulators, erp_id) == erp_before
    assert emulators.sf_get("Account", account_id)["Name"] == account_before["Name"]


def test_invalid_values_are_all_reported_and_nothing_is_written(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    customer_id, _, erp_id = customer_pair(deals)
    before = erp_row(emulators, erp_id)

    payload = update(
        accord,
        "finance",
        idempotencyKey=key(),
        id=customer_id,
        creditLimit="-5",
        paymentTerms="Net 1000",
        taxId="FR12",
        legalEntityId="le:1",
    )

    assert sorted(e["code"] for e in payload["errors"]) == [
        "CURRENCY_MISMATCH",
        "INVALID_VALUE",
        "TAX_ID_INVALID",
        "UNKNOWN_PAYMENT_TERMS",
    ]
    assert erp_row(emulators, erp_id) == before


def test_idempotency_replays_and_refuses_a_reused_key(accord: AccordServer, deals: Deals) -> None:
    customer_id, _, _ = customer_pair(deals)
    idem = key()
    first = update(accord, "finance", idempotencyKey=idem, id=customer_id, creditLimit="1000")
    again = update(accord, "finance", idempotencyKey=idem, id=customer_id, creditLimit="1000")
    reused = update(accord, "finance", idempotencyKey=idem, id=customer_id, creditLimit="2000")
    assert first == again
    assert [e["code"] for e in reused["errors"]] == ["IDEMPOTENCY_KEY_REUSED"]
    audit = accord.graphql(
        """{ auditTrail(first: 20) { nodes { action outcome idempotencyKey
           system recordType before after actor } } }""",
        key="demo-ops",
    )["data"]["auditTrail"]["nodes"]
    mine = [entry for entry in audit if entry["idempotencyKey"] == idem]
    assert sorted(entry["outcome"] for entry in mine) == ["applied", "replayed"]
    applied = next(entry for entry in mine if entry["outcome"] == "applied")
    assert applied["system"] == "netsuite"
    assert Decimal(applied["before"]["credit_limit"]) == Decimal(100000)
    assert Decimal(applied["after"]["credit_limit"]) == Decimal(1000)


def test_bad_ids_and_roles(accord: AccordServer) -> None:
    wrong_id = accord.graphql(
        UPDATE, {"input": {"idempotencyKey": key(), "id": "ord:1", "name": "x"}}, key="demo-sales"
    )
    unknown = update(accord, "sales", idempotencyKey=key(), id="cus:NO-SUCH-CUSTOMER", name="x")
    analytics = accord.graphql(
        UPDATE,
        {"input": {"idempotencyKey": key(), "id": "cus:X", "name": "x"}},
        key="demo-analytics",
    )
    with accord.client() as client:
        bad_key = client.post(
            "/graphql",
            json={
                "query": UPDATE,
                "variables": {"input": {"idempotencyKey": key(), "id": "cus:X"}},
            },
            headers={"Authorization": "Bearer not-a-key"},
        )
    assert wrong_id["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert [e["code"] for e in unknown["errors"]] == ["CUSTOMER_NOT_FOUND"]
    assert analytics["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert bad_key.status_code == 401
    assert bad_key.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_credit_hold_is_finance_only_and_lands_in_the_erp(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    customer_id, _, erp_id = customer_pair(deals)
    inputs = {
        "idempotencyKey": key(),
        "customerId": customer_id,
        "hold": "ON",
        "reason": "cheque bounced",
    }

    sales = accord.graphql(HOLD, {"input": inputs}, key="demo-sales")
    finance = accord.graphql(HOLD, {"input": inputs}, key="demo-finance")

    assert sales["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    payload = finance["data"]["setCreditHold"]
    assert payload["errors"] == []
    assert payload["customer"]["credit"] == {"status": "ON_HOLD", "hold": "ON"}
    assert erp_row(emulators, erp_id)["creditholdoverride"] == "ON"


def test_record_payment_pays_invoices_once(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    # given a customer with an invoice of 1,000.00 EUR
    customer_id, _, erp_id = customer_pair(deals)
    invoice = emulators.ns_create(
        "invoice",
        {
            "entity": {"id": erp_id},
            "item": {"items": [{"item": {"id": "106"}, "quantity": 1, "rate": 1000}]},
        },
    )
    idem = key()
    inputs = {
        "idempotencyKey": idem,
        "customerId": customer_id,
        "amount": "400.00",
        "currency": "EUR",
        "applications": [{"invoiceId": f"inv:{invoice}", "amount": "400.00"}],
    }

    first = accord.graphql(PAY, {"input": inputs}, key="demo-finance")["data"]["recordPayment"]
    again = accord.graphql(PAY, {"input": inputs}, key="demo-finance")["data"]["recordPayment"]

    assert first["errors"] == []
    assert first["payment"] == again["payment"]
    applied = first["payment"]["applications"][0]
    assert applied["amount"]["amount"] == "400.00"
    assert applied["invoice"]["amountDue"]["amount"] == "600.00"
    assert first["customer"]["credit"]["balance"]["amount"] == "600.00"
    payments = emulators.suiteql(
        f"SELECT id FROM transaction WHERE type = 'CustPymt' AND entity = {erp_id}"
    )
    assert len(payments) == 1


def test_payments_that_do_not_fit_are_refused(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    customer_id, _, erp_id = customer_pair(deals)
    other_id, _, other_erp = customer_pair(deals)
    mine = emulators.ns_create(
        "invoice",
        {
            "entity": {"id": erp_id},
            "item": {"items": [{"item": {"id": "106"}, "quantity": 1, "rate": 100}]},
        },
    )
    theirs = emulators.ns_create(
        "invoice",
        {
            "entity": {"id": other_erp},
            "item": {"items": [{"item": {"id": "106"}, "quantity": 1, "rate": 100}]},
        },
    )

    def pay(amount: str, currency: str, applications: list[tuple[str, str]]) -> list[str]:
        body = accord.graphql(
            PAY,
            {
                "input": {
                    "idempotencyKey": key(),
                    "customerId": customer_id,
                    "amount": amount,
                    "currency": currency,
                    "applications": [
                        {"invoiceId": f"inv:{i}", "amount": a} for i, a in applications
                    ],
                }
            },
            key="demo-finance",
        )
        return sorted(e["code"] for e in body["data"]["recordPayment"]["errors"])

    assert pay("150", "EUR", [(mine, "150")]) == ["OVERPAYMENT"]
    assert pay("100", "USD", [(mine, "100")]) == ["CURRENCY_MISMATCH", "CURRENCY_MISMATCH"]
    assert pay("50", "EUR", [(theirs, "50")]) == ["INVOICE_OF_ANOTHER_CUSTOMER"]
    assert pay("80", "EUR", [(mine, "50")]) == ["OVERPAYMENT"]
    assert pay("50", "EUR", [("999999999", "50")]) == ["INVOICE_NOT_FOUND"]
    assert (
        emulators.suiteql(
            f"SELECT id FROM transaction WHERE type = 'CustPymt' AND entity = {erp_id}"
        )
        == []
    )
    assert other_id != customer_id
