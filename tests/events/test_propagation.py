"""Propagation of the ERP's credit standing to the Salesforce account, exactly once."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from events.model import Event, EventType, event_id
from events.propagation import CreditStatusPropagation
from sources.errors import SourceError
from sources.salesforce import SalesforceCrm
from state.audit import AuditTrail
from state.idempotency import IdempotencyStore
from state.memory_backend import MemoryBackend
from tests.accord import Emulators
from tests.conftest import SandboxControl

PATCH_ACCOUNT = "PATCH /services/data/v59.0/sobjects/Account/{id}"


def credit_event(key: str, to: str, at: dt.datetime) -> Event:
    return Event(
        id=event_id("netsuite", "customer", key, at.isoformat(), to),
        type=EventType.CREDIT_STATUS_CHANGED,
        source="netsuite",
        subject=f"cus:{key}",
        time=at,
        data={"from": "GOOD_STANDING", "to": to},
        customer=f"cus:{key}",
    )


async def test_a_credit_change_is_mirrored_once(
    crm: SalesforceCrm, emulators: Emulators, sf_control: SandboxControl
) -> None:
    # given an account cross-referenced to the ERP
    key = f"TEST-{uuid.uuid4().hex[:10]}"
    account = emulators.sf_create("Account", {"Name": "Mirror Test Ltd", "ERP_Customer_Id__c": key})
    backend = MemoryBackend()
    audit = AuditTrail(backend)
    handler = CreditStatusPropagation(crm, backend, IdempotencyStore(backend), audit)
    now = dt.datetime.now(dt.UTC)
    sf_control.reset()

    # when the same event is handled twice (a redelivery), and then an older one arrives
    event = credit_event(key, "ON_HOLD", now)
    await handler.handle(event)
    await handler.handle(event)
    await handler.handle(credit_event(key, "GOOD_STANDING", now - dt.timedelta(minutes=5)))

    # then the account shows the newest standing, written once, and audited
    assert emulators.sf_get("Account", account)["Credit_Status__c"] == "On Hold"
    assert sf_control.count(PATCH_ACCOUNT) == 1
    entries, _ = await audit.read()
    assert [(e["action"], e["record_id"], e["after"]) for _, e in entries] == [
        ("propagate.creditStatus", account, {"Credit_Status__c": "On Hold"})
    ]


async def test_events_it_cannot_mirror_are_ignored(
    crm: SalesforceCrm, sf_control: SandboxControl
) -> None:
    backend = MemoryBackend()
    handler = CreditStatusPropagation(crm, backend, IdempotencyStore(backend), AuditTrail(backend))
    now = dt.datetime.now(dt.UTC)
    sf_control.reset()
    await handler.handle(credit_event("NO-SUCH-KEY", "ON_HOLD", now))
    await handler.handle(credit_event("whatever", "NOT_A_STANDING", now))
    other = Event(
        id="evt_x",
        type=EventType.PAYMENT_RECEIVED,
        source="netsuite",
        subject="pay:1",
        time=now,
        customer="cus:X",
    )
    await handler.handle(other)
    assert sf_control.stats()["by_endpoint"].get(PATCH_ACCOUNT, 0) == 0


async def test_a_write_that_failed_is_applied_when_the_event_comes_again(
    crm: SalesforceCrm, emulators: Emulators, sf_control: SandboxControl
) -> None:
    # given an account, and Salesforce refusing writes to accounts for a while
    key = f"TEST-{uuid.uuid4().hex[:10]}"
    account = emulators.sf_create("Account", {"Name": "Retry Test Ltd", "ERP_Customer_Id__c": key})
    backend = MemoryBackend()
    handler = CreditStatusPropagation(crm, backend, IdempotencyStore(backend), AuditTrail(backend))
    event = credit_event(key, "OVER_LIMIT", dt.datetime.now(dt.UTC))
    sf_control.fault(pattern="/services/data/v59.0/sobjects/Account/*", outage=True)

    # when the handler fails on the event (the bus keeps it pending) ...
    with pytest.raises(SourceError):
        await handler.handle(event)
    # ... and the event is handed out again once Salesforce is back
    sf_control.reset()
    await handler.handle(event)

    # then the standing is mirrored: the first attempt did not count as applied
    assert emulators.sf_get("Account", account)["Credit_Status__c"] == "Over Limit"
    assert sf_control.count(PATCH_ACCOUNT) == 1
