"""A booking's undo reverts only its own effects, and an approved booking checks again.

Two opportunities of one account new to the ERP both wait for finance. The first, approved,
creates the ERP customer and links the account to it. Whatever happens to the second after
that (its write-back lost, its order refused), the account stays linked to that one customer,
which keeps the first order: one customer with both orders, or with one order and a clean
EXCEPTION.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from tests.accord import AccordServer, Emulators
from tests.conftest import SandboxControl
from tests.mutations.conftest import (
    LATE_MS,
    Deals,
    act,
    awaiting_approval,
    book,
    customers_keyed,
    erp_orders_for,
    key,
)


def test_a_second_bookings_lost_write_back_leaves_the_first_bookings_link(
    impatient: AccordServer, deals: Deals, emulators: Emulators, sf_control: SandboxControl
) -> None:
    # given two deals of one account new to the ERP, both waiting for finance
    account = deals.new_account()
    first_deal = deals.deal(account, currency="EUR")
    second_deal = deals.deal(account, currency="EUR")
    first = book(impatient, first_deal.opportunity_id, key())["workflow"]
    second = book(impatient, second_deal.opportunity_id, key())["workflow"]
    assert (first["status"], second["status"]) == ("PENDING_APPROVAL", "PENDING_APPROVAL")

    # and the first approved: it creates the ERP customer and links the account to it
    done = act(impatient, "approveWorkflow", first["id"])["workflow"]
    assert done["status"] == "COMPLETED"
    erp_key = f"SF-{account}"
    assert emulators.sf_get("Account", account)["ERP_Customer_Id__c"] == erp_key

    # when the second is approved while Salesforce applies write-backs but answers too late
    sf_control.fault(
        pattern="/services/data/v59.0/composite/*", latency_ms=LATE_MS, late_answer=True
    )
    stopped = act(impatient, "approveWorkflow", second["id"])["workflow"]
    time.sleep(LATE_MS / 1000 + 0.2)
    sf_control.fault(clear=True)

    # then the second stops cleanly: its own order and its own opportunity fields undone...
    assert stopped["status"] == "EXCEPTION"
    assert stopped["failure"]["step"] == "write_back"
    assert erp_orders_for(emulators, second_deal.opportunity_id) == []
    assert emulators.sf_get("Opportunity", second_deal.opportunity_id)["ERP_Order_Id__c"] is None
    # ...while the link and the customer the first booking made stay, with its order
    assert emulators.sf_get("Account", account)["ERP_Customer_Id__c"] == erp_key
    customers = customers_keyed(emulators, erp_key)
    assert len(customers) == 1
    first_orders = erp_orders_for(emulators, first_deal.opportunity_id)
    assert [o["entity"] for o in first_orders] == [customers[0]["id"]]

    # and the audit trail says what the undo did and left alone
    trail = impatient.graphql(
        """query($w: ID!) { auditTrail(workflowId: $w, first: 50) {
             nodes { outcome recordType message } } }""",
        {"w": second["id"]},
        key="demo-ops",
    )["data"]["auditTrail"]["nodes"]
    compensated = {(n["recordType"], n["outcome"]) for n in trail}
    assert ("salesOrder", "compensated") in compensated
    assert ("Opportunity", "compensated") in compensated
    assert ("customer", "compensated") not in compensated

    # when ops retries once Salesforce answers again, one customer holds both orders
    retried = act(impatient, "retryWorkflow", second["id"], role="ops")["workflow"]
    assert retried["status"] == "COMPLETED"
    second_orders = erp_orders_for(emulators, second_deal.opportunity_id)
    assert [o["entity"] for o in second_orders] == [customers[0]["id"]]
    assert len(customers_keyed(emulators, erp_key)) == 1
    assert emulators.sf_get("Account", account)["ERP_Customer_Id__c"] == erp_key


def test_two_bookings_approved_at_once_make_one_linked_customer_with_both_orders(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    # given two deals of one account new to the ERP, both waiting for finance
    account = deals.new_account()
    one, two = deals.deal(account, currency="EUR"), deals.deal(account, currency="EUR")
    waiting = [book(accord, d.opportunity_id, key())["workflow"]["id"] for d in (one, two)]

    # when finance approves both at the same moment
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda w: act(accord, "approveWorkflow", w)["workflow"], waiting))

    # then both complete on one customer, and the account is linked to it
    assert [r["status"] for r in results] == ["COMPLETED", "COMPLETED"]
    customers = customers_keyed(emulators, f"SF-{account}")
    assert len(customers) == 1
    for deal in (one, two):
        assert [o["entity"] for o in erp_orders_for(emulators, deal.opportunity_id)] == [
            customers[0]["id"]
        ]
    assert emulators.sf_get("Account", account)["ERP_Customer_Id__c"] == f"SF-{account}"


def test_an_approved_booking_checks_the_deal_again_before_it_posts(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    # given a new customer's deal waiting for finance
    account, deal, pending = awaiting_approval(accord, deals)
    assert pending["status"] == "PENDING_APPROVAL"

    # when its account loses its billing street while it waits, and finance approves it
    emulators.sf_update("Account", account, {"BillingStreet": None})
    stopped = act(accord, "approveWorkflow", pending["id"])

    # then the booking is refused by what it validated, read again, and nothing is posted
    assert stopped["workflow"]["status"] == "EXCEPTION"
    assert stopped["workflow"]["failure"]["step"] == "validate"
    assert [e["code"] for e in stopped["errors"]] == ["BILLING_ADDRESS_INCOMPLETE"]
    assert customers_keyed(emulators, f"SF-{account}") == []
    assert erp_orders_for(emulators, deal.opportunity_id) == []
