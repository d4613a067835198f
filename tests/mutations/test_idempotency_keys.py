"""Idempotency keys across mutations, spellings and callers.

A client's key names one request of one caller: the same key on another mutation is another
request (both must land), the same amount spelled "1000" or "1000.00" is the same request
(replayed), and another caller's request under the same key is not answered with the first
caller's result.
"""

from __future__ import annotations

from decimal import Decimal

from tests.accord import AccordServer, Emulators
from tests.mutations.conftest import Deals, key
from tests.mutations.test_customer_writes import HOLD, PAY, customer_pair, erp_row, update


def test_one_key_on_two_mutations_lands_both_writes(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    # given a customer with an open invoice, and a payment recorded under a key
    customer_id, _, erp_id = customer_pair(deals)
    invoice = emulators.ns_create(
        "invoice",
        {
            "entity": {"id": erp_id},
            "item": {"items": [{"item": {"id": "106"}, "quantity": 1, "rate": 500}]},
        },
    )
    idem = key()
    paid = accord.graphql(
        PAY,
        {
            "input": {
                "idempotencyKey": idem,
                "customerId": customer_id,
                "amount": "100.00",
                "currency": "EUR",
                "applications": [{"invoiceId": f"inv:{invoice}", "amount": "100.00"}],
            }
        },
        key="demo-finance",
    )["data"]["recordPayment"]
    assert paid["errors"] == []

    # when finance puts the customer on hold with the same key (another mutation)
    held = accord.graphql(
        HOLD,
        {
            "input": {
                "idempotencyKey": idem,
                "customerId": customer_id,
                "hold": "ON",
                "reason": "cheque bounced",
            }
        },
        key="demo-finance",
    )["data"]["setCreditHold"]

    # then the hold is in the ERP, as the answer says
    assert held["errors"] == []
    assert erp_row(emulators, erp_id)["creditholdoverride"] == "ON"


def test_a_key_used_by_update_customer_does_not_swallow_a_credit_hold(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    # updateCustomer writes the ERP under "<key>:erp"; a hold keyed so must still land
    customer_id, _, erp_id = customer_pair(deals)
    idem = key()
    assert (
        update(accord, "finance", idempotencyKey=idem, id=customer_id, creditLimit="5000")["errors"]
        == []
    )
    held = accord.graphql(
        HOLD,
        {
            "input": {
                "idempotencyKey": f"{idem}:erp",
                "customerId": customer_id,
                "hold": "ON",
                "reason": "review",
            }
        },
        key="demo-finance",
    )["data"]["setCreditHold"]
    assert held["errors"] == []
    assert erp_row(emulators, erp_id)["creditholdoverride"] == "ON"


def test_the_same_amount_spelled_differently_is_a_replay(
    accord: AccordServer, deals: Deals
) -> None:
    customer_id, _, _ = customer_pair(deals)
    idem = key()
    first = update(accord, "finance", idempotencyKey=idem, id=customer_id, creditLimit="1500")
    again = update(accord, "finance", idempotencyKey=idem, id=customer_id, creditLimit="1500.00")
    assert first["errors"] == []
    assert again == first


def test_another_callers_request_under_the_same_key_is_not_answered_as_applied(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    # given finance changed a credit limit under a key
    customer_id, _, erp_id = customer_pair(deals)
    idem = key()
    done = update(accord, "finance", idempotencyKey=idem, id=customer_id, creditLimit="7000")
    update(accord, "finance", idempotencyKey=key(), id=customer_id, creditLimit="9000")
    assert done["errors"] == []

    # when sales, who may not write credit limits, sends the same request with that key
    replay = update(accord, "sales", idempotencyKey=idem, id=customer_id, creditLimit="7000")

    # then sales is not told the change was applied, and the limit stays as finance left it
    assert [e["code"] for e in replay["errors"]] == ["IDEMPOTENCY_KEY_REUSED"]
    assert replay["customer"] is None
    assert Decimal(erp_row(emulators, erp_id)["creditlimit"]) == Decimal(9000)
