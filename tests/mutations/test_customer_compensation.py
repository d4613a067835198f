"""updateCustomer across both systems: when the ERP refuses its part, the CRM's part is put back.

The registry lets no default role write both a CRM field and an ERP field, so these tests
give finance the CRM's engagement fields too (as a deployment's registry may), then change
a CRM field and an ERP field in one request while the ERP refuses customer updates.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from decimal import Decimal

import pytest

from domain.ownership import REGISTRY, Role
from tests.accord import AccordServer, Emulators
from tests.conftest import SandboxControl
from tests.mutations.conftest import Deals, key
from tests.mutations.test_customer_writes import customer_pair, erp_row, update

CRM_FIELDS = ("Customer.phone", "Customer.website", "Customer.industry", "Customer.name")


@pytest.fixture
def finance_writes_both(monkeypatch: pytest.MonkeyPatch) -> None:
    """Finance may also write the CRM fields above, for this test only."""
    for path in CRM_FIELDS:
        entry = REGISTRY[path]
        widened = dataclasses.replace(entry, writable_by=entry.writable_by | {Role.FINANCE})
        monkeypatch.setitem(REGISTRY._entries, path, widened)


def audit_of(accord: AccordServer, account_id: str) -> list[dict[str, object]]:
    body = accord.graphql(
        """query($r: String) { auditTrail(recordId: $r, first: 10) {
             nodes { outcome system before after message } } }""",
        {"r": account_id},
        key="demo-ops",
    )
    nodes: list[dict[str, object]] = body["data"]["auditTrail"]["nodes"]
    return nodes


def test_crm_fields_are_put_back_when_the_erp_refuses_even_those_that_were_empty(
    finance_writes_both: None,
    accord: AccordServer,
    deals: Deals,
    emulators: Emulators,
    ns_control: SandboxControl,
) -> None:
    # given a customer whose account has no phone and an industry, known to both systems
    customer_id, account_id, erp_id = customer_pair(deals)
    emulators.sf_update("Account", account_id, {"Phone": None, "Industry": "Manufacturing"})
    limit_before = erp_row(emulators, erp_id)["creditlimit"]

    # when finance sets the phone, the industry and the credit limit while the ERP refuses
    # every customer update
    ns_control.fault(
        pattern="/services/rest/record/v1/customer/*", error_rate=1.0, error_status=400
    )
    payload = update(
        accord,
        "finance",
        idempotencyKey=key(),
        id=customer_id,
        phone="+49 30 1234567",
        industry="Retail",
        creditLimit="99000.00",
    )
    ns_control.fault(clear=True)

    # then the request fails with the ERP's refusal, and the customer is as it was in both
    # systems: the phone empty again, the industry back, the limit untouched
    assert [e["code"] for e in payload["errors"]] == ["SOURCE_VALIDATION"]
    account = emulators.sf_get("Account", account_id)
    assert account["Phone"] is None
    assert account["Industry"] == "Manufacturing"
    assert erp_row(emulators, erp_id)["creditlimit"] == limit_before
    # and the audit trail tells the CRM change and its undo
    trail = audit_of(accord, account_id)
    assert [n["outcome"] for n in trail[:2]] == ["compensated", "applied"]
    assert trail[0]["after"] == {"phone": None, "industry": "Manufacturing"}


def test_a_crm_field_changed_by_someone_else_meanwhile_is_not_put_back(
    finance_writes_both: None,
    accord: AccordServer,
    deals: Deals,
    emulators: Emulators,
    ns_control: SandboxControl,
    sf_control: SandboxControl,
) -> None:
    # given a customer, and an ERP that takes long before refusing
    customer_id, account_id, erp_id = customer_pair(deals)
    emulators.sf_update("Account", account_id, {"Website": "https://before.example"})
    ns_control.fault(
        pattern="/services/rest/record/v1/customer/*",
        error_rate=1.0,
        error_status=400,
        latency_ms=600,
    )

    # when finance changes the website and the limit, and a person edits the website in
    # Salesforce while the ERP is still deciding
    result: dict[str, object] = {}

    def run() -> None:
        result.update(
            update(
                accord,
                "finance",
                idempotencyKey=key(),
                id=customer_id,
                website="https://ours.example",
                creditLimit="99000.00",
            )
        )

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 10
    while emulators.sf_get("Account", account_id)["Website"] != "https://ours.example":
        assert time.monotonic() < deadline, "the CRM part never landed"
        time.sleep(0.02)
    emulators.sf_update("Account", account_id, {"Website": "https://theirs.example"})
    worker.join(30)
    ns_control.fault(clear=True)

    # then the request failed, and the person's value stays: the undo reverts only its own
    assert result["errors"]
    assert emulators.sf_get("Account", account_id)["Website"] == "https://theirs.example"
    assert Decimal(erp_row(emulators, erp_id)["creditlimit"]) != Decimal("99000.00")
