"""bookOrder when the ERP is slow: a write that timed out may still land, and an undo that
timed out may still have happened. Either way the workflow must not claim a state the ERP
does not hold: nothing half-posted after an exception, and exactly one order after a retry.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.accord import AccordServer, Emulators
from tests.conftest import SandboxControl
from tests.mutations.conftest import (
    LATE_MS,
    Deal,
    Deals,
    act,
    awaiting_approval,
    book,
    customers_keyed,
    erp_orders_for,
    key,
)


def test_an_order_whose_answer_never_came_is_found_not_refused_nor_posted_twice(
    impatient: AccordServer, deals: Deals, emulators: Emulators, ns_control: SandboxControl
) -> None:
    # given a new customer's deal, approved while the ERP posts sales orders but answers too
    # late for Accord to hear it (every repeat is answered too late as well)
    account, deal, pending = awaiting_approval(impatient, deals)
    ns_control.fault(
        pattern="/services/rest/record/v1/salesOrder", latency_ms=LATE_MS, late_answer=True
    )

    done = act(impatient, "approveWorkflow", pending["id"])
    time.sleep(LATE_MS / 1000 + 0.2)  # every late answer is out
    ns_control.fault(clear=True)

    # then the booking found the order it had posted: completed, one order, one customer,
    # and the opportunity carries that order's number
    assert done["errors"] == []
    assert done["workflow"]["status"] == "COMPLETED"
    orders = erp_orders_for(emulators, deal.opportunity_id)
    assert len(orders) == 1
    assert len(customers_keyed(emulators, f"SF-{account}")) == 1
    opportunity = emulators.sf_get("Opportunity", deal.opportunity_id)
    assert opportunity["ERP_Order_Id__c"] == orders[0]["tranid"]


def stopped_with_a_late_undo(
    server: AccordServer, deals: Deals, ns_control: SandboxControl, sf_control: SandboxControl
) -> tuple[Deal, dict[str, Any]]:
    """A booking stopped at its write-back (Salesforce is down), whose undo the ERP carried
    out but answered too late: the deal, and the workflow as bookOrder answered it."""
    deal = deals.on_existing_customer()
    sf_control.fault(pattern="/services/data/v59.0/composite/*", outage=True)
    ns_control.fault(
        pattern="/services/rest/record/v1/salesOrder/*", latency_ms=LATE_MS, late_answer=True
    )
    stopped = book(server, deal.opportunity_id, key())["workflow"]
    time.sleep(LATE_MS / 1000 + 0.2)
    sf_control.fault(clear=True)
    ns_control.fault(clear=True)
    return deal, stopped


def test_an_undo_that_timed_out_but_happened_is_not_taken_for_a_posted_order(
    impatient: AccordServer,
    deals: Deals,
    emulators: Emulators,
    ns_control: SandboxControl,
    sf_control: SandboxControl,
) -> None:
    # given a booking whose write-back fails, and whose undo (deleting the order) the ERP
    # carries out but answers too late
    deal, stopped = stopped_with_a_late_undo(impatient, deals, ns_control, sf_control)

    assert stopped["status"] == "EXCEPTION"
    assert stopped["failure"]["step"] == "write_back"
    assert erp_orders_for(emulators, deal.opportunity_id) == []  # the undo did happen

    # when ops retries, the order is posted anew and written back: the workflow does not
    # complete on the strength of the deleted one
    done = act(impatient, "retryWorkflow", stopped["id"], role="ops")["workflow"]
    assert done["status"] == "COMPLETED"
    orders = erp_orders_for(emulators, deal.opportunity_id)
    assert len(orders) == 1
    opportunity = emulators.sf_get("Opportunity", deal.opportunity_id)
    assert opportunity["ERP_Order_Id__c"] == orders[0]["tranid"]


def test_a_workflow_whose_undo_already_happened_can_be_cancelled(
    impatient: AccordServer,
    deals: Deals,
    emulators: Emulators,
    ns_control: SandboxControl,
    sf_control: SandboxControl,
) -> None:
    deal, stopped = stopped_with_a_late_undo(impatient, deals, ns_control, sf_control)
    assert stopped["status"] == "EXCEPTION"

    # when ops cancels it (the order it would undo is gone already)
    cancelled = act(impatient, "cancelWorkflow", stopped["id"], role="ops")

    # then it is cancelled, and the opportunity may be booked again
    assert cancelled["errors"] == []
    assert cancelled["workflow"]["status"] == "CANCELLED"
    again = book(impatient, deal.opportunity_id, key())
    assert again["workflow"]["status"] == "COMPLETED", again
    assert len(erp_orders_for(emulators, deal.opportunity_id)) == 1


def test_a_write_back_whose_answer_never_came_leaves_no_order_number_of_a_deleted_order(
    impatient: AccordServer,
    deals: Deals,
    emulators: Emulators,
    sf_control: SandboxControl,
) -> None:
    # given a booking whose write-back Salesforce applies but answers too late, every time
    deal = deals.on_existing_customer()
    sf_control.fault(
        pattern="/services/data/v59.0/composite/*", latency_ms=LATE_MS, late_answer=True
    )

    stopped = book(impatient, deal.opportunity_id, key())["workflow"]
    time.sleep(LATE_MS / 1000 + 0.2)
    sf_control.fault(clear=True)

    # then the ERP order was undone, and the opportunity does not name it either
    assert stopped["status"] == "EXCEPTION"
    assert erp_orders_for(emulators, deal.opportunity_id) == []
    assert emulators.sf_get("Opportunity", deal.opportunity_id)["ERP_Order_Id__c"] is None


def test_a_new_customers_write_back_that_never_answered_leaves_the_account_unlinked(
    impatient: AccordServer,
    deals: Deals,
    emulators: Emulators,
    sf_control: SandboxControl,
) -> None:
    # given a new customer's deal, approved while Salesforce applies write-backs too slowly
    account, deal, pending = awaiting_approval(impatient, deals)
    sf_control.fault(
        pattern="/services/data/v59.0/composite/*", latency_ms=LATE_MS, late_answer=True
    )

    stopped = act(impatient, "approveWorkflow", pending["id"])["workflow"]
    time.sleep(LATE_MS / 1000 + 0.2)
    sf_control.fault(clear=True)

    # then the customer this booking created is gone, and the account names no ERP customer
    assert stopped["status"] == "EXCEPTION"
    assert customers_keyed(emulators, f"SF-{account}") == []
    assert emulators.sf_get("Account", account)["ERP_Customer_Id__c"] is None
    assert emulators.sf_get("Opportunity", deal.opportunity_id)["ERP_Order_Id__c"] is None


def test_an_undo_salesforce_cannot_take_still_undoes_the_erp_order_and_waits_for_a_cancel(
    impatient: AccordServer,
    deals: Deals,
    emulators: Emulators,
    sf_control: SandboxControl,
) -> None:
    # given a booking whose write-back Salesforce applies but answers too late, and whose
    # queries fail from the moment the write-back landed (its undo cannot see the fields)
    deal = deals.on_existing_customer()
    sf_control.fault(
        pattern="/services/data/v59.0/composite/*", latency_ms=LATE_MS, late_answer=True
    )
    with ThreadPoolExecutor(1) as pool:
        booking = pool.submit(book, impatient, deal.opportunity_id, key())
        deadline = time.monotonic() + 10
        while emulators.sf_get("Opportunity", deal.opportunity_id)["ERP_Order_Id__c"] is None:
            assert time.monotonic() < deadline, "the write-back never landed"
            time.sleep(0.02)
        sf_control.fault(pattern="/services/data/v59.0/query*", error_rate=1.0)
        stopped = booking.result(timeout=60)["workflow"]
    time.sleep(LATE_MS / 1000 + 0.2)
    sf_control.fault(clear=True)

    # then the ERP order is undone all the same; the opportunity still names it, and the
    # workflow is on the dead-letter list with the write-back's undo pending
    assert stopped["status"] == "EXCEPTION"
    assert stopped["deadLettered"] is True
    assert erp_orders_for(emulators, deal.opportunity_id) == []
    write_back = next(s for s in stopped["steps"] if s["name"] == "write_back")
    assert "compensation failed" in write_back["error"]
    assert emulators.sf_get("Opportunity", deal.opportunity_id)["ERP_Order_Id__c"] is not None

    # when ops cancels it once Salesforce answers again, the opportunity is cleared too
    cancelled = act(impatient, "cancelWorkflow", stopped["id"], role="ops")
    assert cancelled["errors"] == []
    assert cancelled["workflow"]["status"] == "CANCELLED"
    assert emulators.sf_get("Opportunity", deal.opportunity_id)["ERP_Order_Id__c"] is None
