"""Invalidation by the events the normaliser really emits, on replicas sharing a real Redis.

A replica drops what an event names and what it can infer from the cross-references it has
learned. A replica that learned nothing yet (it just restarted, or forgot under load) must
still drop what another replica stored in Redis under the customer's ERP id, so the events
themselves must say it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from cache import entities as E
from cache.read_cache import CacheSettings, Fetch, ReadCache
from events.model import Event, EventType
from events.normalize import Change, Normalizer
from sources.netsuite import NetSuiteErp
from sources.salesforce import SalesforceCrm
from state.memory_backend import MemoryBackend
from tests.events.test_normalize import change, pay
from tests.sandbox.test_netsuite_support import NetSuiteHttp, new_customer


@pytest.fixture
async def replicas(redis_url: str, prefix: str) -> AsyncIterator[Callable[[], ReadCache]]:
    """Makes caches of replicas sharing the test Redis; closes them afterwards."""
    made: list[ReadCache] = []

    def make() -> ReadCache:
        cache = ReadCache(CacheSettings(), redis_url=redis_url, prefix=prefix)
        made.append(cache)
        return cache

    yield make
    for cache in made:
        await cache.close()


def order_for(ns: NetSuiteHttp, customer: str) -> str:
    return ns.create(
        "/salesOrder",
        {
            "entity": {"id": customer},
            "item": {"items": [{"item": {"id": "101"}, "quantity": 1, "rate": 250}]},
        },
    )


def invoice_for(ns: NetSuiteHttp, customer: str) -> str:
    return ns.create(
        "/invoice",
        {
            "entity": {"id": customer},
            "item": {"items": [{"item": {"id": "101"}, "quantity": 1, "rate": 250}]},
        },
    )


@pytest.mark.parametrize(
    ("entity", "kind"),
    [
        (E.ORDERS_OF_CUSTOMER, EventType.ORDER_BOOKED),
        (E.INVOICES_OF_CUSTOMER, EventType.INVOICE_POSTED),
        (E.PAYMENTS_OF_CUSTOMER, EventType.PAYMENT_RECEIVED),
    ],
)
async def test_a_replica_that_knows_nothing_yet_drops_the_customers_lists(
    ns: NetSuiteHttp,
    crm: SalesforceCrm,
    erp: NetSuiteErp,
    replicas: Callable[[], ReadCache],
    entity: E.Entity,
    kind: EventType,
) -> None:
    # given a customer with a cross-reference key (so events name it cus:<key>), one of whose
    # lists a replica has cached in Redis under the customer's ERP id
    customer = new_customer(ns, externalId=f"TEST-{uuid.uuid4().hex[:10]}")
    invoice = invoice_for(ns, customer) if entity is E.PAYMENTS_OF_CUSTOMER else None
    fetchers: dict[E.Entity, Fetch] = {
        E.ORDERS_OF_CUSTOMER: erp.orders_by_customer_ids,
        E.INVOICES_OF_CUSTOMER: erp.invoices_by_customer_ids,
        E.PAYMENTS_OF_CUSTOMER: erp.payments_by_customer_ids,
    }
    fetch = fetchers[entity]
    before = (await replicas().load(entity, [customer], fetch))[customer]

    # when the customer's list changes, and a replica that has learned nothing yet (it just
    # restarted) handles the event the normaliser emits for it
    normalizer = Normalizer(crm, erp, MemoryBackend(), today=erp.today)
    changed: Change
    if kind is EventType.ORDER_BOOKED:
        changed = change(ns, "salesorder", order_for(ns, customer))
    elif kind is EventType.INVOICE_POSTED:
        changed = change(ns, "invoice", invoice_for(ns, customer))
    else:
        assert invoice is not None
        changed = change(ns, "customerpayment", pay(ns, customer, invoice, 100))
    events: list[Event] = await normalizer.normalize(changed)
    [event] = [event for event in events if event.type is kind]
    assert event.customer is not None
    assert not event.customer.startswith("cus:erp:")
    restarted = replicas()
    await restarted.invalidate_event(event)

    # then no replica serves the list as it was before
    after = (await replicas().load(entity, [customer], fetch))[customer]
    assert len(after) == len(before) + 1
