"""bookOrder: quote-to-cash as a workflow, checked in both emulators.

Every test books a deal it created itself; "nothing half-posted" is checked by reading the
emulators directly: no ERP order (and no new ERP customer) after an exception, exactly one
order after the retry.
"""

from __future__ import annotations

import concurrent.futures
import json

from sandbox.world import World
from tests.accord import AccordServer, Emulators
from tests.conftest import SandboxControl
from tests.mutations.conftest import ACT, Deals, act, awaiting_approval, book, erp_orders_for, key


def test_books_a_closed_won_deal_into_the_erp_and_writes_back(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    # given a Closed Won deal on a customer known to both systems, within its credit
    deal = deals.on_existing_customer()

    # when sales books it
    payload = book(accord, deal.opportunity_id, key())

    # then the workflow completed and the ERP holds exactly one order for the opportunity
    workflow = payload["workflow"]
    assert payload["errors"] == []
    assert workflow["status"] == "COMPLETED", workflow
    assert [s["status"] for s in workflow["steps"]] == ["COMPLETED"] * 5
    orders = erp_orders_for(emulators, deal.opportunity_id)
    assert len(orders) == 1
    assert workflow["order"]["number"] == orders[0]["tranid"]
    assert workflow["order"]["total"]["currency"] == deal.currency
    # and Salesforce knows the order number and status
    opportunity = emulators.sf_get("Opportunity", deal.opportunity_id)
    assert opportunity["ERP_Order_Id__c"] == orders[0]["tranid"]
    assert opportunity["ERP_Order_Status__c"] == "Pending Fulfillment"
    customer = emulators.suiteql(
        f"SELECT externalid FROM customer WHERE id = {orders[0]['entity']}"
    )
    assert customer[0]["externalid"] == deal.erp_key


def test_a_repeat_returns_the_first_result_and_posts_nothing(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    deal = deals.on_existing_customer()
    idem = key()
    first = book(accord, deal.opportunity_id, idem)
    second = book(accord, deal.opportunity_id, idem)
    other_key = book(accord, deal.opportunity_id, key())

    assert first == second
    assert len(erp_orders_for(emulators, deal.opportunity_id)) == 1
    assert [e["code"] for e in other_key["errors"]] == ["ORDER_ALREADY_BOOKED"]
    assert other_key["workflow"]["id"] == first["workflow"]["id"]


def test_fifty_concurrent_duplicates_make_one_order_and_fifty_equal_answers(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    deal = deals.on_existing_customer()
    idem = key()

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda _: book(accord, deal.opportunity_id, idem), range(50)))

    assert len({json.dumps(answer, sort_keys=True) for answer in answers}) == 1
    assert answers[0]["workflow"]["status"] == "COMPLETED"
    assert len(erp_orders_for(emulators, deal.opportunity_id)) == 1


def test_a_new_customer_waits_for_approval_then_is_created_once(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    # given a deal on an account the ERP does not know
    account = deals.new_account()
    deal = deals.deal(account, currency="EUR")

    # when it is booked, it waits for finance: a new customer has no credit limit
    pending = book(accord, deal.opportunity_id, key())["workflow"]
    assert pending["status"] == "PENDING_APPROVAL"
    assert pending["pendingApproval"]["code"] == "NO_CREDIT_LIMIT"
    assert erp_orders_for(emulators, deal.opportunity_id) == []
    assert emulators.suiteql(f"SELECT id FROM customer WHERE externalid = 'SF-{account}'") == []

    # and sales may not approve it, finance may
    refused = accord.graphql(
        """mutation($i: WorkflowActionInput!) { approveWorkflow(input: $i) { errors { code } } }""",
        {"i": {"idempotencyKey": key(), "id": pending["id"]}},
        key="demo-sales",
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    approved = act(accord, "approveWorkflow", pending["id"])["workflow"]

    # then the customer is created by external id, the order posted, the key written back
    assert approved["status"] == "COMPLETED"
    created = emulators.suiteql(
        f"SELECT id, currency FROM customer WHERE externalid = 'SF-{account}'"
    )
    assert len(created) == 1
    assert len(erp_orders_for(emulators, deal.opportunity_id)) == 1
    assert emulators.sf_get("Account", account)["ERP_Customer_Id__c"] == f"SF-{account}"


def test_over_the_credit_limit_waits_and_can_be_cancelled(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    deal = deals.on_existing_customer()
    big = deals.deal(
        deal.account_id, currency=deal.currency, lines=[("ACC-PLAT", 3)] * 1, erp_key=deal.erp_key
    )
    # three platform subscriptions, repeated: far over any seeded credit limit
    for _ in range(40):
        deals.emulators.sf_create(
            "OpportunityLineItem",
            {
                "OpportunityId": big.opportunity_id,
                "PricebookEntryId": deals.world.pricebook_entry_ids[("ACC-PLAT", deal.currency)],
                "Quantity": 3,
                "UnitPrice": 100000,
            },
        )

    pending = book(accord, big.opportunity_id, key())["workflow"]
    assert pending["status"] == "PENDING_APPROVAL"
    assert pending["pendingApproval"]["code"] == "CREDIT_LIMIT_EXCEEDED"

    cancelled = act(accord, "cancelWorkflow", pending["id"], role="ops")["workflow"]
    assert cancelled["status"] == "CANCELLED"
    assert erp_orders_for(emulators, big.opportunity_id) == []
    again = act(accord, "approveWorkflow", pending["id"])
    assert [e["code"] for e in again["errors"]] == ["INVALID_STATE"]


def test_policy_failures_are_reported_together_then_fixed_and_retried(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    # given an account with no street, no tax id, and a deal in the wrong currency
    account = deals.new_account(BillingStreet=None, Tax_Id__c="12345")
    deal = deals.deal(account, currency="USD")

    stopped = book(accord, deal.opportunity_id, key())

    codes = sorted(e["code"] for e in stopped["errors"])
    assert codes == ["BILLING_ADDRESS_INCOMPLETE", "CURRENCY_MISMATCH", "TAX_ID_INVALID"]
    workflow = stopped["workflow"]
    assert workflow["status"] == "EXCEPTION"
    assert workflow["failure"]["step"] == "validate"
    assert workflow["deadLettered"] is False
    assert erp_orders_for(emulators, deal.opportunity_id) == []

    # when sales fixes the account and the deal's currency...
    emulators.sf_update(
        "Account", account, {"BillingStreet": "2 Hauptstrasse", "Tax_Id__c": "DE987654321"}
    )
    euro = deals.deal(account, currency="EUR")
    # (the first deal stays in USD: it is refused again on retry)
    retried = act(accord, "retryWorkflow", workflow["id"], role="ops")
    assert [e["code"] for e in retried["errors"]] == ["CURRENCY_MISMATCH"]
    assert retried["workflow"]["generation"] == 1

    # ...the euro deal books (after finance approves the new customer)
    pending = book(accord, euro.opportunity_id, key())["workflow"]
    done = act(accord, "approveWorkflow", pending["id"])["workflow"]
    assert done["status"] == "COMPLETED"
    assert len(erp_orders_for(emulators, euro.opportunity_id)) == 1


def test_booking_in_progress_is_not_kept_as_the_answer_to_its_key(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    # given a booking waiting for approval, and a second booking of the same deal refused
    account = deals.new_account()
    deal = deals.deal(account, currency="EUR")
    first = book(accord, deal.opportunity_id, key())["workflow"]
    second_key = key()
    refused = book(accord, deal.opportunity_id, second_key)
    assert [e["code"] for e in refused["errors"]] == ["BOOKING_IN_PROGRESS"]

    # when the first is cancelled and the second is sent again with its key
    act(accord, "cancelWorkflow", first["id"], role="ops")
    again = book(accord, deal.opportunity_id, second_key)

    # then it goes ahead: "in progress" was no final answer to replay
    assert again["errors"] == []
    assert again["workflow"]["status"] == "PENDING_APPROVAL"
    assert again["workflow"]["id"] != first["id"]


def test_an_action_refused_for_the_status_applies_when_sent_again_later(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    # given a new customer's booking stopped at validation (no street), which finance tries
    # to approve: refused, it is not waiting for approval
    account = deals.new_account(BillingStreet=None)
    deal = deals.deal(account, currency="EUR")
    stopped = book(accord, deal.opportunity_id, key())["workflow"]
    approve = {"idempotencyKey": key(), "id": stopped["id"]}
    early = accord.graphql(ACT % "approveWorkflow", {"input": approve}, key="demo-finance")
    assert [e["code"] for e in early["data"]["approveWorkflow"]["errors"]] == ["INVALID_STATE"]

    # when the address is fixed and the retry waits for approval
    emulators.sf_update("Account", account, {"BillingStreet": "3 Hauptstrasse"})
    waiting = act(accord, "retryWorkflow", stopped["id"], role="ops")["workflow"]
    assert waiting["status"] == "PENDING_APPROVAL"

    # then finance's approval, sent again with its key, applies
    later = accord.graphql(ACT % "approveWorkflow", {"input": approve}, key="demo-finance")
    assert later["data"]["approveWorkflow"]["errors"] == []
    assert later["data"]["approveWorkflow"]["workflow"]["status"] == "COMPLETED"
    assert len(erp_orders_for(emulators, deal.opportunity_id)) == 1


def test_an_opportunity_that_is_not_closed_won(accord: AccordServer, deals: Deals) -> None:
    deal = deals.on_existing_customer()
    open_deal = deals.deal(deal.account_id, currency=deal.currency, stage="Negotiation/Review")
    stopped = book(accord, open_deal.opportunity_id, key())
    assert [e["code"] for e in stopped["errors"]] == ["OPPORTUNITY_NOT_CLOSED_WON"]


def test_erp_down_at_order_creation_leaves_nothing_then_retry_completes(
    writer: AccordServer, deals: Deals, emulators: Emulators, ns_control: SandboxControl
) -> None:
    # given a new customer's deal, approved, while the ERP refuses sales orders
    account, deal, pending = awaiting_approval(writer, deals)
    ns_control.fault(pattern="/services/rest/record/v1/salesOrder*", outage=True)

    stopped = act(writer, "approveWorkflow", pending["id"])["workflow"]

    # then it stops at the order, on the dead-letter list, and the customer it had created is
    # gone again: nothing is half-posted
    assert stopped["status"] == "EXCEPTION"
    assert stopped["failure"]["step"] == "create_sales_order"
    assert stopped["failure"]["code"] == "SOURCE_UNAVAILABLE"
    assert stopped["deadLettered"] is True
    assert erp_orders_for(emulators, deal.opportunity_id) == []
    assert emulators.suiteql(f"SELECT id FROM customer WHERE externalid = 'SF-{account}'") == []
    letters = writer.graphql("{ deadLetters { nodes { workflow { id } } } }", key="demo-ops")
    assert pending["id"] in [n["workflow"]["id"] for n in letters["data"]["deadLetters"]["nodes"]]

    # when the ERP is back and ops retries, it completes with exactly one order
    ns_control.fault(clear=True)
    done = act(writer, "retryWorkflow", pending["id"], role="ops")["workflow"]
    assert done["status"] == "COMPLETED"
    assert len(erp_orders_for(emulators, deal.opportunity_id)) == 1
    assert len(emulators.suiteql(f"SELECT id FROM customer WHERE externalid = 'SF-{account}'")) == 1
    letters = writer.graphql("{ deadLetters { nodes { workflow { id } } } }", key="demo-ops")
    assert pending["id"] not in [
        n["workflow"]["id"] for n in letters["data"]["deadLetters"]["nodes"]
    ]


def test_an_approval_covers_the_total_approved_not_a_bigger_order_on_retry(
    writer: AccordServer, deals: Deals, emulators: Emulators, ns_control: SandboxControl
) -> None:
    # given a new customer's deal approved by finance, which then failed at the order
    _, deal, pending = awaiting_approval(writer, deals)
    ns_control.fault(pattern="/services/rest/record/v1/salesOrder*", outage=True)
    stopped = act(writer, "approveWorkflow", pending["id"])["workflow"]
    ns_control.fault(clear=True)
    assert stopped["status"] == "EXCEPTION"

    # when the deal grows far past what finance approved, and ops retries
    for _ in range(5):
        deals.emulators.sf_create(
            "OpportunityLineItem",
            {
                "OpportunityId": deal.opportunity_id,
                "PricebookEntryId": deals.world.pricebook_entry_ids[("ACC-PLAT", "EUR")],
                "Quantity": 10,
                "UnitPrice": 100000,
            },
        )
    retried = act(writer, "retryWorkflow", pending["id"], role="ops")["workflow"]

    # then the bigger order waits for finance again instead of being booked
    assert retried["status"] == "PENDING_APPROVAL"
    assert erp_orders_for(emulators, deal.opportunity_id) == []


def test_an_order_booked_elsewhere_while_waiting_stops_the_booking_cleanly(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    # given a new customer's deal waiting for approval, which someone books in the ERP by hand
    account, deal, pending = awaiting_approval(accord, deals)
    elsewhere = emulators.ns_create(
        "salesOrder",
        {
            "entity": {"id": "1001"},
            "externalId": deal.opportunity_id,
            "item": {"items": [{"item": {"id": "106"}, "quantity": 1, "rate": 10}]},
        },
    )

    # when finance approves the booking
    stopped = act(accord, "approveWorkflow", pending["id"])["workflow"]

    # then it stops as a refusal (no dead letter), the customer it created is gone again,
    # and the order booked by hand stays
    assert stopped["status"] == "EXCEPTION"
    assert stopped["failure"]["code"] == "ORDER_ALREADY_BOOKED"
    assert stopped["deadLettered"] is False
    assert emulators.suiteql(f"SELECT id FROM customer WHERE externalid = 'SF-{account}'") == []
    assert [o["id"] for o in erp_orders_for(emulators, deal.opportunity_id)] == [elsewhere]


def test_an_erp_refusal_is_reported_as_one_typed_error_of_the_booking(
    accord: AccordServer, deals: Deals, emulators: Emulators, world: World
) -> None:
    # given a deal on a product the CRM sells but the ERP does not know
    deal = deals.on_existing_customer()
    product = emulators.sf_create(
        "Product2",
        {"Name": "Not in the ERP", "ProductCode": f"NO-SKU-{key()[-6:]}", "IsActive": True},
    )
    entry = emulators.sf_create(
        "PricebookEntry",
        {
            "Pricebook2Id": world.pricebook_id,
            "Product2Id": product,
            "UnitPrice": 10,
            "CurrencyIsoCode": "EUR",
            "IsActive": True,
        },
    )
    emulators.sf_create(
        "OpportunityLineItem",
        {
            "OpportunityId": deal.opportunity_id,
            "PricebookEntryId": entry,
            "Quantity": 1,
            "UnitPrice": 10,
        },
    )

    stopped = book(accord, deal.opportunity_id, key())

    # then the booking stops at the order with the ERP's refusal as one error of its own
    # enum (not the ERP's field paths and codes as if they were the booking's)
    assert stopped["workflow"]["failure"]["step"] == "create_sales_order"
    assert [(e["code"], e["field"]) for e in stopped["errors"]] == [("SOURCE_VALIDATION", None)]
    assert "NO-SKU-" in stopped["errors"][0]["message"]
    assert erp_orders_for(emulators, deal.opportunity_id) == []


def test_erp_down_at_customer_upsert(
    writer: AccordServer, deals: Deals, emulators: Emulators, ns_control: SandboxControl
) -> None:
    account, deal, pending = awaiting_approval(writer, deals)
    ns_control.fault(pattern="/services/rest/record/v1/customer*", outage=True)

    stopped = act(writer, "approveWorkflow", pending["id"])["workflow"]

    assert stopped["status"] == "EXCEPTION"
    assert stopped["failure"]["step"] == "upsert_customer"
    assert emulators.suiteql(f"SELECT id FROM customer WHERE externalid = 'SF-{account}'") == []
    ns_control.fault(clear=True)
    done = act(writer, "retryWorkflow", pending["id"])["workflow"]
    assert done["status"] == "COMPLETED"
    assert len(erp_orders_for(emulators, deal.opportunity_id)) == 1


def test_salesforce_down_at_write_back_undoes_the_erp_order(
    writer: AccordServer, deals: Deals, emulators: Emulators, sf_control: SandboxControl
) -> None:
    deal = deals.on_existing_customer()
    sf_control.fault(pattern="/services/data/v59.0/composite/*", outage=True)

    stopped = book(writer, deal.opportunity_id, key())["workflow"]

    assert stopped["status"] == "EXCEPTION"
    assert stopped["failure"]["step"] == "write_back"
    assert stopped["failure"]["source"] == "salesforce"
    steps = {s["name"]: s["status"] for s in stopped["steps"]}
    assert steps["create_sales_order"] == "COMPENSATED"
    assert erp_orders_for(emulators, deal.opportunity_id) == []
    assert emulators.sf_get("Opportunity", deal.opportunity_id)["ERP_Order_Id__c"] is None

    sf_control.fault(clear=True)
    done = act(writer, "retryWorkflow", stopped["id"])["workflow"]
    assert done["status"] == "COMPLETED"
    orders = erp_orders_for(emulators, deal.opportunity_id)
    assert len(orders) == 1
    assert (
        emulators.sf_get("Opportunity", deal.opportunity_id)["ERP_Order_Id__c"]
        == orders[0]["tranid"]
    )


def test_bad_input(accord: AccordServer) -> None:
    malformed = accord.graphql(
        BOOK_MIN,
        {"input": {"idempotencyKey": key(), "opportunityId": "006-not-an-id"}},
        key="demo-sales",
    )
    unknown = accord.graphql(
        BOOK_MIN,
        {"input": {"idempotencyKey": key(), "opportunityId": "006000000000000AAA"}},
        key="demo-sales",
    )
    anonymous = accord.graphql(
        BOOK_MIN,
        {"input": {"idempotencyKey": key(), "opportunityId": "006000000000000AAA"}},
        key=None,
    )
    analytics = accord.graphql(
        BOOK_MIN,
        {"input": {"idempotencyKey": key(), "opportunityId": "006000000000000AAA"}},
        key="demo-analytics",
    )
    missing = accord.graphql(
        'mutation { bookOrder(input: {opportunityId: "x"}) { errors { code } } }',
        key="demo-sales",
    )
    assert malformed["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert [e["code"] for e in unknown["data"]["bookOrder"]["errors"]] == ["OPPORTUNITY_NOT_FOUND"]
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert analytics["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "idempotencyKey" in missing["errors"][0]["message"]


BOOK_MIN = """mutation($input: BookOrderInput!) { bookOrder(input: $input) { errors { code } } }"""
