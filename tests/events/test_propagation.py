"""Propagation of the ERP's credit standing to the Salesforce account: it converges to what the
ERP holds, whatever the events say or in what order they come, and writes once per change."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from domain import ownership
from events.model import Event, EventType, event_id
from events.propagation import MIRRORED, CreditStatusPropagation
from sources.errors import SourceError
from sources.netsuite import NetSuiteErp
from sources.salesforce import SalesforceCrm
from state.audit import AuditTrail
from state.idempotency import IdempotencyStore
from state.memory_backend import MemoryBackend
from tests.accord import Emulators
from tests.conftest import SandboxControl

PATCH_ACCOUNT = "PATCH /services/data/v59.0/sobjects/Account/{id}"


def credit_event(key: str, to: str, at: dt.datetime) -> Event:
    return Event(
        id=event_id("netsuite", "customer", key, at.isoformat(), to, uuid.uuid4().hex),
        type=EventType.CREDIT_STATUS_CHANGED,
        source="netsuite",
        subject=f"cus:{key}",
        time=at,
        data={"from": "GOOD_STANDING", "to": to},
        customer=f"cus:{key}",
    )


def customer_in_both(emulators: Emulators, hold: str) -> tuple[str, str, str]:
    """(key, account id, ERP id) of a new customer with a credit limit and ``hold``."""
    key = f"TEST-{uuid.uuid4().hex[:10]}"
    erp_id = emulators.ns_create(
        "customer",
        {
            "companyName": f"Mirror {key} Ltd",
            "externalId": key,
            "subsidiary": {"id": "3"},
            "currency": {"id": "4"},
            "creditLimit": 50000,
            "creditHoldOverride": {"id": hold},
        },
    )
    account = emulators.sf_create("Account", {"Name": f"Mirror {key}", "ERP_Customer_Id__c": key})
    return key, account, erp_id


@pytest.fixture
def handler(crm: SalesforceCrm, erp: NetSuiteErp) -> CreditStatusPropagation:
    backend = MemoryBackend()
    return CreditStatusPropagation(crm, erp, IdempotencyStore(backend), AuditTrail(backend))


async def test_a_credit_change_is_mirrored_once_and_a_late_event_writes_nothing_older(
    handler: CreditStatusPropagation, emulators: Emulators, sf_control: SandboxControl
) -> None:
    # given a customer on hold in the ERP, its account not mirroring it yet
    key, account, _ = customer_in_both(emulators, "ON")
    now = dt.datetime.now(dt.UTC)
    sf_control.reset()

    # when its event is handled twice (a redelivery), then an older event comes late
    event = credit_event(key, "ON_HOLD", now)
    await handler.handle(event)
    await handler.handle(event)
    await handler.handle(credit_event(key, "GOOD_STANDING", now - dt.timedelta(minutes=5)))

    # then the account shows the ERP's standing, written once, and audited once
    assert emulators.sf_get("Account", account)["Credit_Status__c"] == "On Hold"
    assert sf_control.count(PATCH_ACCOUNT) == 1
    entries, _ = await handler.audit.read()
    assert [(e["action"], e["record_id"], e["after"]) for _, e in entries] == [
        ("propagate.creditStatus", account, {"Credit_Status__c": "On Hold"})
    ]


def first_sight(key: str, erp_id: str, at: dt.datetime) -> Event:
    """The ERP CUSTOMER_UPDATED of a customer Accord had not seen before."""
    return Event(
        id=event_id("netsuite", "customer", erp_id, "updated", at.isoformat()),
        type=EventType.CUSTOMER_UPDATED,
        source="netsuite",
        subject=f"cus:{key}",
        time=at,
        data={"fields": {}, "recordId": erp_id, "changedFields": None, "sourceFields": []},
        customer=f"cus:{key}",
    )


async def test_a_first_sight_corrects_a_mirror_but_leaves_a_blank_one_to_the_first_change(
    handler: CreditStatusPropagation, emulators: Emulators, sf_control: SandboxControl
) -> None:
    # given two customers on hold in the ERP: one account mirroring "Good Standing", the
    # other mirroring nothing
    key, account, erp_id = customer_in_both(emulators, "ON")
    emulators.sf_update("Account", account, {"Credit_Status__c": "Good Standing"})
    blank_key, blank_account, blank_erp_id = customer_in_both(emulators, "ON")
    now = dt.datetime.now(dt.UTC)
    sf_control.reset()

    # when Accord sees each for the first time
    await handler.handle(first_sight(key, erp_id, now))
    await handler.handle(first_sight(blank_key, blank_erp_id, now))

    # then the stale mirror is put right, and the blank one is left as it is
    assert emulators.sf_get("Account", account)["Credit_Status__c"] == "On Hold"
    assert not emulators.sf_get("Account", blank_account).get("Credit_Status__c")
    assert sf_control.count(PATCH_ACCOUNT) == 1


async def test_the_mirror_converges_to_the_erp_when_an_event_was_lost(
    handler: CreditStatusPropagation, emulators: Emulators
) -> None:
    # given a customer put on hold, then off, then on again within one second, whose last
    # event never arrives: only the first two are handled, both stamped with the same second
    key, account, erp_id = customer_in_both(emulators, "ON")
    second = dt.datetime.now(dt.UTC).replace(microsecond=0)
    await handler.handle(credit_event(key, "ON_HOLD", second))
    await handler.handle(credit_event(key, "GOOD_STANDING", second))

    # then the account shows what the ERP holds now (on hold), not what the last event said
    assert emulators.sf_get("Account", account)["Credit_Status__c"] == "On Hold"
    # and when the ERP moves on and its event comes, the mirror follows
    emulators.ns_update("customer", erp_id, {"creditHoldOverride": {"id": "OFF"}})
    await handler.handle(credit_event(key, "GOOD_STANDING", second))
    assert emulators.sf_get("Account", account)["Credit_Status__c"] == "Good Standing"


async def test_events_it_cannot_mirror_are_ignored(
    handler: CreditStatusPropagation, sf_control: SandboxControl
) -> None:
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
    handler: CreditStatusPropagation, emulators: Emulators, sf_control: SandboxControl
) -> None:
    # given a customer on hold, and Salesforce refusing writes to accounts for a while
    key, account, _ = customer_in_both(emulators, "ON")
    event = credit_event(key, "ON_HOLD", dt.datetime.now(dt.UTC))
    sf_control.fault(pattern="/services/data/v59.0/sobjects/Account/*", outage=True)

    # when the handler fails on the event (the bus keeps it pending) ...
    with pytest.raises(SourceError):
        await handler.handle(event)
    # ... and the event is handed out again once Salesforce is back
    sf_control.reset()
    await handler.handle(event)

    # then the standing is mirrored: the first attempt did not count as applied
    assert emulators.sf_get("Account", account)["Credit_Status__c"] == "On Hold"
    assert sf_control.count(PATCH_ACCOUNT) == 1


async def test_nothing_is_mirrored_while_the_registry_gives_the_standing_to_the_crm(
    handler: CreditStatusPropagation,
    emulators: Emulators,
    sf_control: SandboxControl,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a customer on hold in the ERP, and a registry where the CRM owns the standing
    key, account, _ = customer_in_both(emulators, "ON")
    monkeypatch.setattr(
        ownership, "REGISTRY", ownership.REGISTRY.with_owner(MIRRORED, ownership.System.CRM)
    )
    sf_control.reset()

    # when its credit event is handled
    await handler.handle(credit_event(key, "ON_HOLD", dt.datetime.now(dt.UTC)))

    # then the CRM's own value is left alone
    assert sf_control.count(PATCH_ACCOUNT) == 0
    assert emulators.sf_get("Account", account).get("Credit_Status__c") in (None, "")
