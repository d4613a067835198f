"""Changes in each ERP reach Accord's subscribers and the Salesforce mirror: on NetSuite (its
emulator) and on Tryton (a real trytond, which has no webhooks, so everything here comes
through the poller scanning its records). Accord runs with webhooks off and a fast poller."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import pytest

from api.auth import DEMO_KEYS
from events.normalize.snapshots import SNAPSHOT_PREFIX
from events.pollers import feed_poller
from sandbox.deals import Deals
from sandbox.emulator_client import EmulatorClient
from server import AppOptions, EventOptions
from tests.accord import AccordServer
from tests.erps import ERPS, OnErp, erp_sandbox, tryton_adapter, tryton_customer_with_invoice
from tests.events.test_subscriptions import (
    PAYMENTS,
    collect,
    context_of,
    next_payload,
    polled_once,
    subscribed,
    subscribers_now,
    ws_subscribe,
)

POLL_SECONDS = 0.3

CREDIT = """subscription($customer: ID) { creditStatusChanged(customerId: $customer) {
  event { type source customerId } previousStatus status
  customer { credit { status hold } }
} }"""
RECORD = """mutation($input: RecordPaymentInput!) { recordPayment(input: $input) {
  errors { code message } payment { erpId } } }"""


@pytest.fixture(scope="module", params=ERPS)
def polling_on_erp(request: pytest.FixtureRequest) -> Iterator[OnErp]:
    """Accord on each ERP, learning of its changes by polling alone."""
    world, endpoints = erp_sandbox(request, request.param)
    options = AppOptions(api_keys=DEMO_KEYS, events=EventOptions(poll_interval=POLL_SECONDS))
    with AccordServer(endpoints, options=options) as accord:
        yield OnErp(request.param, accord, world, endpoints)


async def fresh_customer(on_erp: OnErp) -> tuple[str, str, str, str]:
    """(key, ERP id, invoice id, account id) of a new customer of the ERP in good standing,
    owing one invoice of 1000.00 EUR, and the Salesforce account linked to it."""
    emulators = EmulatorClient(on_erp.endpoints)
    try:
        deals = Deals(emulators, on_erp.world)
        if on_erp.name == "tryton":
            key = f"EVT-{uuid.uuid4().hex[:8].upper()}"
            erp_id, invoice = await tryton_customer_with_invoice(on_erp.endpoints, key)
            account = deals.new_account(ERP_Customer_Id__c=key)
        else:
            customer, erp_id, invoice = deals.customer_with_invoice(1000)
            key = customer.removeprefix("cus:")
            (row,) = emulators.soql(f"SELECT Id FROM Account WHERE ERP_Customer_Id__c = '{key}'")
            account = row["Id"]
        return key, erp_id, invoice, account
    finally:
        emulators.close()


async def standing_seen(accord: AccordServer, source: str, erp_id: str) -> None:
    """Until Accord has recorded the customer's credit standing (its poller found the new
    customer): a change from then on has a standing to differ from. Bounds a hang only."""
    backend = context_of(accord).reconciler.backend  # type: ignore[union-attr]
    key = f"{SNAPSHOT_PREFIX}{source}:credit:{erp_id}"
    deadline = time.monotonic() + 30
    while await asyncio.to_thread(accord.call, backend.get(key)) is None:
        assert time.monotonic() < deadline, "the poller never found the new customer"
        await asyncio.sleep(0.1)


async def scanned_past(accord: AccordServer, scan_name: str, at: dt.datetime) -> None:
    """Until the ERP poller's scan ``scan_name`` has handled changes stamped ``at`` (to the
    second) or later. Bounds a hang only."""
    reconciler = context_of(accord).reconciler
    assert reconciler is not None

    async def ignore(change: object) -> None:
        return None

    poller = feed_poller(reconciler.erp, reconciler.backend, ignore)
    (scan,) = [s for s in poller.scans if s.name == scan_name]
    floor = at.astimezone(dt.UTC).replace(microsecond=0)
    deadline = time.monotonic() + 30
    while True:
        mark = await asyncio.to_thread(accord.call, poller.watermark(scan))
        if mark is not None and mark.at >= floor:
            return
        assert time.monotonic() < deadline, f"the {scan_name} scan never got past {floor}"
        await asyncio.sleep(0.1)


async def hold_in_the_erp(on_erp: OnErp, erp_id: str, *, on: bool = True) -> None:
    """Put the customer on credit hold in the ERP itself, as finance would there (or, with
    ``on`` False, take the hold away)."""
    if on_erp.name == "tryton":
        erp = tryton_adapter(on_erp.endpoints)
        try:
            holds = await erp.reference.hold_categories(create=True)
            change = ["add" if on else "remove", [holds["ON"]]]
            await erp.rpc.call("party.party", "write", [int(erp_id)], {"categories": [change]})
        finally:
            await erp.close()
        return
    emulators = EmulatorClient(on_erp.endpoints)
    try:
        hold = "ON" if on else "AUTO"
        emulators.ns_update("customer", erp_id, {"creditHoldOverride": {"id": hold}})
    finally:
        emulators.close()


async def erp_id_of(on_erp: OnErp, key: str) -> str:
    if on_erp.name == "tryton":
        erp = tryton_adapter(on_erp.endpoints)
        try:
            return (await erp.customers_by_keys([key]))[key].erp_id
        finally:
            await erp.close()
    return str(next(c.ns_id for c in on_erp.world.customers if c.key == key))


async def unseen_customer(on_erp: OnErp, index: int) -> tuple[str, str, str]:
    """(key, account id, ERP id) of a seeded customer in good standing, linked to its account:
    the ``index``-th from the end, so that each test takes one no other test has changed, and
    Accord has not seen (its pollers start after the seeded history)."""
    chosen = [
        c
        for c in reversed(on_erp.world.customers)
        if c.key
        and c.sf_account_id
        and c.ns_id is not None
        and not c.account_unlinked
        and c.credit_hold == "AUTO"
        and c.balance() <= c.credit_limit
    ][index]
    key = chosen.key or ""
    return key, chosen.sf_account_id or "", await erp_id_of(on_erp, key)


def set_mirror(on_erp: OnErp, account: str, value: str) -> None:
    """Write the account's Credit_Status__c in Salesforce itself."""
    emulators = EmulatorClient(on_erp.endpoints)
    try:
        emulators.sf_update("Account", account, {"Credit_Status__c": value})
    finally:
        emulators.close()


@contextlib.asynccontextmanager
async def watching_unseen(
    on_erp: OnErp, index: int, mirror: str
) -> AsyncIterator[tuple[str, str, Any]]:
    """An `unseen_customer` whose account shows ``mirror``, and a subscriber to its credit
    status changes: (account id, ERP id, the subscriber's socket, closed at the end)."""
    accord = on_erp.accord
    await polled_once(accord)
    key, account, erp_id = await unseen_customer(on_erp, index)
    set_mirror(on_erp, account, mirror)
    subscribers = subscribers_now(accord)
    socket = await ws_subscribe(accord.url, CREDIT, {"customer": f"cus:{key}"}, "demo-ops")
    try:
        await subscribed(accord, subscribers + 1)
        yield account, erp_id, socket
    finally:
        await socket.close()


async def mirrored(on_erp: OnErp, account: str, value: str) -> str | None:
    """The account's Credit_Status__c once it is ``value``, or as it is after 30 s."""
    emulators = EmulatorClient(on_erp.endpoints)
    try:
        deadline = time.monotonic() + 30
        while True:
            found = emulators.sf_get("Account", account).get("Credit_Status__c")
            if found == value or time.monotonic() > deadline:
                return str(found) if found is not None else None
            await asyncio.sleep(0.2)
    finally:
        emulators.close()


async def test_a_payment_recorded_through_accord_reaches_a_subscriber_once(
    polling_on_erp: OnErp,
) -> None:
    accord = polling_on_erp.accord
    await polled_once(accord)
    key, _, invoice, _ = await fresh_customer(polling_on_erp)
    customer = f"cus:{key}"
    subscribers = subscribers_now(accord)
    socket = await ws_subscribe(accord.url, PAYMENTS, {"customer": customer}, "demo-ops")
    await subscribed(accord, subscribers + 1)
    try:
        # when finance records 400.00 of the invoice through Accord
        payment = {
            "idempotencyKey": f"pay-{uuid.uuid4()}",
            "customerId": customer,
            "amount": "400.00",
            "currency": "EUR",
            "applications": [{"invoiceId": f"inv:{invoice}", "amount": "400.00"}],
        }
        before = dt.datetime.now(dt.UTC)
        body = await asyncio.to_thread(
            accord.graphql, RECORD, {"input": payment}, key="demo-finance"
        )
        assert body["data"]["recordPayment"]["errors"] == [], body
        recorded = body["data"]["recordPayment"]["payment"]["erpId"]

        # then the subscriber receives it, and nothing more once the poller has seen it too
        first = await next_payload(socket, wait=20)
        scan = "payment" if polling_on_erp.name == "tryton" else "transaction"
        await scanned_past(accord, scan, before)
        more = await collect(socket, seconds=4 * POLL_SECONDS + 1)
    finally:
        await socket.close()
    assert more == []
    data = first["data"]["paymentReceived"]
    assert data["event"]["type"] == "com.accord.payment.received"
    assert data["event"]["source"] == polling_on_erp.name
    assert data["event"]["subject"] == f"pay:{recorded}"
    assert data["event"]["customerId"] == customer
    assert data["payment"]["amount"] == {"amount": "400.00", "currency": "EUR"}
    assert [a["amount"]["amount"] for a in data["payment"]["applications"]] == ["400.00"]
    assert Decimal(data["customer"]["credit"]["balance"]["amount"]) == Decimal("600.00")


async def test_a_hold_set_in_the_erp_reaches_subscribers_and_the_salesforce_account(
    polling_on_erp: OnErp,
) -> None:
    # given a customer in good standing that Accord's poller has seen, its account mirroring
    # nothing yet
    accord = polling_on_erp.accord
    await polled_once(accord)
    key, erp_id, _, account = await fresh_customer(polling_on_erp)
    await standing_seen(accord, polling_on_erp.name, erp_id)
    subscribers = subscribers_now(accord)
    socket = await ws_subscribe(accord.url, CREDIT, {"customer": f"cus:{key}"}, "demo-ops")
    await subscribed(accord, subscribers + 1)
    try:
        # when finance puts it on hold in the ERP itself, not through Accord
        await hold_in_the_erp(polling_on_erp, erp_id)

        # then the poller finds the change and subscribers get the new standing
        received = (await next_payload(socket, wait=20))["data"]["creditStatusChanged"]
    finally:
        await socket.close()
    assert received["event"] == {
        "type": "com.accord.credit.status_changed",
        "source": polling_on_erp.name,
        "customerId": f"cus:{key}",
    }
    assert (received["previousStatus"], received["status"]) == ("GOOD_STANDING", "ON_HOLD")
    assert received["customer"]["credit"] == {"status": "ON_HOLD", "hold": "ON"}
    # and the Salesforce account linked to it mirrors the ERP's standing
    assert await mirrored(polling_on_erp, account, "On Hold") == "On Hold"


async def test_a_hold_set_in_the_erp_on_a_customer_accord_never_saw_change_reaches_the_mirror(
    polling_on_erp: OnErp,
) -> None:
    # given a seeded customer in good standing, linked to its account, that no change has
    # brought to Accord's attention (its standing before the change is not known to Accord)
    accord = polling_on_erp.accord
    await polled_once(accord)
    _, account, erp_id = await unseen_customer(polling_on_erp, 0)
    try:
        # when finance puts it on hold in the ERP itself
        await hold_in_the_erp(polling_on_erp, erp_id)

        # then the poller's find reaches the Salesforce account
        assert await mirrored(polling_on_erp, account, "On Hold") == "On Hold"
    finally:
        # and lifting the hold there puts the mirror back
        await hold_in_the_erp(polling_on_erp, erp_id, on=False)
    assert await mirrored(polling_on_erp, account, "Good Standing") == "Good Standing"


async def test_a_customer_first_seen_off_its_mirror_reaches_subscribers_as_a_change_from_it(
    polling_on_erp: OnErp,
) -> None:
    # given a customer in good standing that Accord never saw, whose account still shows
    # "Over Limit" (what the commercial side believed), and a subscriber to its changes
    async with watching_unseen(polling_on_erp, 1, "Over Limit") as (account, erp_id, socket):
        try:
            # when finance puts it on hold in the ERP, and the poller finds it for the first time
            await hold_in_the_erp(polling_on_erp, erp_id)

            # then subscribers get a change from the mirrored standing to the ERP's
            received = (await next_payload(socket, wait=20))["data"]["creditStatusChanged"]
            assert (received["previousStatus"], received["status"]) == ("OVER_LIMIT", "ON_HOLD")
            assert received["event"]["source"] == polling_on_erp.name
            # and the account mirrors the ERP's standing
            assert await mirrored(polling_on_erp, account, "On Hold") == "On Hold"
        finally:
            await hold_in_the_erp(polling_on_erp, erp_id, on=False)
    assert await mirrored(polling_on_erp, account, "Good Standing") == "Good Standing"


async def test_a_customer_first_seen_as_its_mirror_says_is_no_event(
    polling_on_erp: OnErp,
) -> None:
    # given a customer Accord never saw, whose account shows "On Hold", and a subscriber
    async with watching_unseen(polling_on_erp, 2, "On Hold") as (account, erp_id, socket):
        # when it is put on hold in the ERP, as the account said, and the poller finds it
        await hold_in_the_erp(polling_on_erp, erp_id)
        await standing_seen(polling_on_erp.accord, polling_on_erp.name, erp_id)
        # and the hold is lifted afterwards
        await hold_in_the_erp(polling_on_erp, erp_id, on=False)

        # then the first event subscribers get is the lifting: the first sight made none
        received = (await next_payload(socket, wait=20))["data"]["creditStatusChanged"]
    assert (received["previousStatus"], received["status"]) == ("ON_HOLD", "GOOD_STANDING")
    assert await mirrored(polling_on_erp, account, "Good Standing") == "Good Standing"
