"""From "this record changed" to canonical finance events.

A `Change` says only that a record changed, and when: webhooks (`events.intake`) and pollers
(`events.pollers`) both produce them, and either may deliver the same change more than once,
late, or out of order. The `Normalizer` therefore never trusts a change's content: it reads the
record as it is now through the adapters (`CrmPort`, `ErpPort`) and compares it with the last
state it saw, kept per object in the state backend (a *snapshot*). An event is emitted when
the comparison finds a difference and the snapshot moves with a compare-and-set, so:

- the same change seen twice (webhook and poller, a retried webhook) yields its events once:
  the second time the snapshot already holds what the record shows;
- two replicas processing the same change at once emit once: one compare-and-set wins;
- event ids come from `event_id` over what identifies the change (system, record, event type,
  the modification time to the whole second, and for status changes the new status) and the
  number of the snapshot's move that emitted it (`events.transitions`), so the same change
  gives the same id whichever path saw it, and two distinct changes never share one.

What a change yields:

============================  ============================================================
NetSuite ``customer``         CUSTOMER_CREATED / CUSTOMER_UPDATED; CREDIT_STATUS_CHANGED
NetSuite ``salesorder``       ORDER_BOOKED / ORDER_STATUS_CHANGED
NetSuite ``invoice``          INVOICE_POSTED / INVOICE_STATUS_CHANGED; the customer's credit
NetSuite ``customerpayment``  PAYMENT_RECEIVED; its invoices' statuses; the customer's credit
Salesforce ``Account``        CUSTOMER_CREATED / CUSTOMER_UPDATED
============================  ============================================================

Other record types yield nothing. An object seen for the first time has no snapshot: its
creation is an event, and a payment or invoice posted derives the state before it (an invoice
paid by 200 had 200 less paid) so that the first payment on an invoice still reports the
invoice's status change; otherwise the first sight only records the state (a *baseline*).
Baselines and derived transitions are written only by the processing that moved the changed
record's own snapshot, so a duplicate delivery racing the first one cannot hide a transition.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from domain.ids import customer_id, erp_object_id
from events import outbox, transitions
from events.bus.instruments import received
from events.model import Event, EventType, event_id
from sources.clock import utc_today
from sources.ports import CrmPort, ErpPort
from sources.records import (
    CreditHold,
    CreditStatus,
    CrmAccount,
    ErpCustomer,
    ErpInvoice,
    ErpOrder,
    ErpPayment,
    InvoiceStatus,
    to_currency,
)
from state.backend import StateBackend

logger = logging.getLogger("accord.events.normalize")

ChangeType = Literal["create", "update", "delete"]
Publish = Callable[[Event], Awaitable[Any]]

SALESFORCE = "salesforce"
NETSUITE = "netsuite"
SNAPSHOT_PREFIX = "events:snapshot:"
SNAPSHOT_TTL = 30 * 86400.0
"""Snapshots of objects untouched for this long expire; their next change is a first sight."""
CAS_ATTEMPTS = 8
OUTBOX_GRACE = 30.0
"""Seconds an event being published is left to its publisher before another may publish it."""


@dataclass(frozen=True)
class Change:
    """One record changed in one system; all a webhook or a poller needs to say.

    ``record_type`` is the Salesforce sObject name (``Account``) or the NetSuite record type in
    lower case (``customer``, ``salesorder``, ``invoice``, ``customerpayment``).
    ``modified_at`` is the record's modification time in its system (aware, UTC).
    ``changed_fields`` and ``previous`` (old values of changed fields, by the system's field
    names) are hints some senders give; the normaliser reads the record itself regardless.
    """

    source: str
    record_type: str
    record_id: str
    change_type: ChangeType
    modified_at: dt.datetime
    changed_fields: tuple[str, ...] = ()
    previous: Mapping[str, Any] = field(default_factory=dict, hash=False)


def version(moment: dt.datetime) -> str:
    """A modification time as it identifies a change: UTC, to the whole second.

    Vendors' query APIs show modification times to the second (SuiteQL ``TO_CHAR``, Salesforce
    ``SystemModstamp``) while their notifications may carry milliseconds; cutting both to the
    second makes the same change the same event whichever way it arrived.
    """
    utc = moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return utc.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _money(amount: Decimal | None, currency: str | None) -> str | None:
    return None if amount is None else str(to_currency(amount, currency))


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _erp_customer_ref(customer: ErpCustomer | None, erp_id: str) -> str:
    return customer_id(customer.erp_key if customer else None, None, erp_id)


_KEEP = object()
"""What a decision returns to leave a snapshot as it is."""

Decision = tuple[Any, list[Event]]


def _keep(current: Any | None) -> Decision:
    return _KEEP, []


@dataclass
class _Run:
    """The events one `Normalizer.process` took on to publish: event id -> snapshot key."""

    keys: dict[str, str] = field(default_factory=dict)


_RUN: ContextVar[_Run | None] = ContextVar("accord_normalize_run", default=None)


def _status_decision(
    change: Change,
    now: dict[str, Any],
    *,
    created: Callable[[], Event],
    moved: Callable[[str], Event],
) -> Callable[[Any | None], Decision]:
    """How a record whose snapshot ``now`` carries its ``status`` moves: ``created()`` for a
    create seen first, ``moved(previous status)`` when the status differs from the snapshot's,
    else no event."""

    def decide(current: Any | None) -> Decision:
        if current is None:
            return now, [created()] if change.change_type == "create" else []
        previous = str(current.get("status"))
        if previous == now["status"]:
            return now, []
        return now, [moved(previous)]

    return decide


class Normalizer:
    """Turns `Change` notices into canonical events, each exactly once.

    ``today`` must be the date the ERP adapter judges overdue invoices by. With ``publish``,
    `process` publishes what it finds, through the snapshots' outbox (`events.outbox`), so an
    event whose publication fails is published by a later processing; `normalize` only
    returns what it finds.
    """

    def __init__(
        self,
        crm: CrmPort,
        erp: ErpPort,
        backend: StateBackend,
        *,
        publish: Publish | None = None,
        today: Callable[[], dt.date] = utc_today,
        snapshot_ttl: float | None = SNAPSHOT_TTL,
        outbox_grace: float = OUTBOX_GRACE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.crm = crm
        self.erp = erp
        self.backend = backend
        self.publish = publish
        self.today = today
        self.snapshot_ttl = snapshot_ttl
        self.outbox_grace = outbox_grace
        self.clock = clock
        self._next_sweep = 0.0
        self._handlers: dict[tuple[str, str], Callable[[Change], Awaitable[list[Event]]]] = {
            (NETSUITE, "customer"): self._erp_customer,
            (NETSUITE, "salesorder"): self._order,
            (NETSUITE, "invoice"): self._invoice,
            (NETSUITE, "customerpayment"): self._payment,
            (SALESFORCE, "Account"): self._account,
        }

    async def process(self, change: Change) -> list[Event]:
        """`normalize`, then publish each event in order (when a publisher was given).

        The events are kept in their snapshots' outbox until published: if publishing fails
        (raised to the caller, whose retry is the delivery guarantee), the next processing
        of those snapshots publishes them, as does `flush_outbox`. So a change's events reach
        the bus at least once, and exactly once unless a publication fails or is cut short.
        The returned events include any left over from such an earlier failure.
        """
        received(change.source, change.record_type)
        if self.publish is None:
            return await self.normalize(change)
        run = _Run()
        token = _RUN.set(run)
        try:
            events = await self.normalize(change)
        finally:
            _RUN.reset(token)
        await self._publish_run(run, events)
        await self._sweep_now_and_then()
        return events

    async def flush_outbox(self, *, limit: int = 100) -> list[Event]:
        """Publish events left in the outbox by a publication that failed or was cut short
        (claimed more than ``outbox_grace`` seconds ago, or released); the events published.

        `process` calls it at most once per ``outbox_grace``; a deployment may also call it
        periodically, so that leftovers go out even when no change comes in.
        """
        if self.publish is None:
            return []
        cutoff = self.clock() - self.outbox_grace
        published: list[Event] = []
        for key, score in await self.backend.index_range(outbox.INDEX, limit=limit):
            if score > cutoff:
                break
            run = _Run()
            token = _RUN.set(run)
            try:
                _, _, events = await self._swap(key, _keep)
            finally:
                _RUN.reset(token)
            if events:
                await self._publish_run(run, events)
                published += events
            else:
                await self._unlist_if_empty(key)
        return published

    async def _sweep_now_and_then(self) -> None:
        now = self.clock()
        if now < self._next_sweep:
            return
        self._next_sweep = now + max(self.outbox_grace, 1.0)
        try:
            await self.flush_outbox()
        except Exception:
            logger.warning("publishing leftover events failed; tried again later", exc_info=True)

    async def _publish_run(self, run: _Run, events: list[Event]) -> None:
        """Publish ``events`` in order, then take them out of their outboxes. On a failure,
        release what was not published (a retry takes it at once) and raise."""
        assert self.publish is not None
        done = 0
        try:
            for event in events:
                await self.publish(event)
                done += 1
        except Exception:
            try:
                await self._settle(run, events[:done])
                await self._settle(run, events[done:], release=True)
            except Exception:
                logger.warning("could not release unpublished events", exc_info=True)
            raise
        try:
            await self._settle(run, events)
        except Exception:  # published: at worst published once more after the grace period
            logger.warning("could not clear published events from the outbox", exc_info=True)

    async def _settle(self, run: _Run, events: list[Event], *, release: bool = False) -> None:
        """Take ``events`` out of their snapshots' outboxes (``release``: mark them due)."""
        by_key: dict[str, set[str]] = {}
        for event in events:
            key = run.keys.get(event.id)
            if key is not None:
                by_key.setdefault(key, set()).add(event.id)
        for key, ids in by_key.items():
            for _ in range(CAS_ATTEMPTS):
                raw = await self.backend.get(key)
                state, pending = outbox.split(raw)
                if not any(outbox.event_id_of(item) in ids for item in pending):
                    break
                if release:
                    kept = [
                        {**item, "claimed": 0} if outbox.event_id_of(item) in ids else item
                        for item in pending
                    ]
                else:
                    kept = outbox.without(pending, ids)
                stored = outbox.join(state, kept)
                if await self.backend.compare_and_set(key, raw, stored, ttl=self.snapshot_ttl):
                    if not kept:
                        await self._unlist_if_empty(key)
                    break

    async def _unlist_if_empty(self, key: str) -> None:
        """Take ``key`` off the outbox index unless it holds pending events."""
        await self.backend.index_remove(outbox.INDEX, key)
        _, pending = outbox.split(await self.backend.get(key))
        if pending:  # added meanwhile: keep it listed
            await self.backend.index_add(outbox.INDEX, key, self.clock())

    async def normalize(self, change: Change) -> list[Event]:
        """The events this change means that no earlier processing has emitted.

        Reads go to the sources first; snapshots move only after every read succeeded, so a
        source failure (a `SourceError`, raised to the caller) leaves nothing half-recorded.
        """
        handler = self._handlers.get((change.source, change.record_type))
        if handler is None:
            return []
        return await handler(change)

    # ------------------------------------------------------------------ snapshots

    def _key(self, source: str, kind: str, record_id: str) -> str:
        return f"{SNAPSHOT_PREFIX}{source}:{kind}:{record_id}"

    async def _swap(
        self, key: str, decide: Callable[[Any | None], Decision]
    ) -> tuple[bool, Any | None, list[Event]]:
        """Move the snapshot at ``key`` as ``decide(current)`` says, atomically.

        Returns (moved, the snapshot it replaced, events); the decision's events count only
        when this call moved the snapshot. Within `process`, the events go into the snapshot's
        outbox in the same compare-and-set, and events left there by a failed publication
        (due: see `events.outbox`) are taken over and returned first.
        """
        run = _RUN.get()
        for _ in range(CAS_ATTEMPTS):
            raw = await self.backend.get(key)
            held, pending = outbox.split(raw)
            current, moves = transitions.unnumbered(held)
            new, decided = decide(current)
            moved = not (new is _KEEP or new == current)
            if moved:  # this move's number goes into its events' ids: never an id twice
                moves += 1
                decided = [transitions.renamed(event, moves) for event in decided]
            now = self.clock()
            taken = outbox.due(pending, now, self.outbox_grace) if run is not None else []
            if not moved and not taken:
                return False, current, []
            ids = {outbox.event_id_of(item) for item in pending}
            fresh = [event for event in decided if event.id not in ids] if moved else []
            if run is not None:
                taken_ids = {outbox.event_id_of(item) for item in taken}
                claimed = [{**item, "claimed": now} for item in taken]
                claimed += [outbox.entry(event, now) for event in fresh]
                pending = [item for item in pending if outbox.event_id_of(item) not in taken_ids]
                pending += claimed
                if claimed:  # listed first, so that a sweep finds it even if we stop here
                    await self.backend.index_add(outbox.INDEX, key, now)
            stored = outbox.join(transitions.numbered(new, moves) if moved else held, pending)
            if await self.backend.compare_and_set(key, raw, stored, ttl=self.snapshot_ttl):
                events = [outbox.event_of(item) for item in taken] + fresh
                if run is not None:
                    for event in events:
                        run.keys[event.id] = key
                return moved, current, events
        logger.warning("snapshot %s kept changing under us; left for the next change", key)
        return False, None, []

    async def _forget(self, key: str) -> list[Event]:
        """Clear the snapshot at ``key`` (its record is gone). Events still in its outbox stay
        there until published; those due are returned, as `_swap` does."""
        _, _, leftovers = await self._swap(
            key, lambda current: (None, []) if current is not None else (_KEEP, [])
        )
        return leftovers

    # ------------------------------------------------------------------ credit standing

    async def _credit(
        self,
        customer: ErpCustomer,
        change: Change,
        *,
        owner: bool,
        before: CreditStatus | None = None,
    ) -> list[Event]:
        """CREDIT_STATUS_CHANGED when the customer's standing differs from the last one seen.

        ``before`` is the standing before this change when it can be derived; it is used only
        when there is no snapshot, and only by the ``owner`` of the change.
        """
        status = customer.credit_status
        now = {
            "status": status.value,
            "balance": _money(customer.balance, customer.currency),
            "limit": _money(customer.credit_limit, customer.currency),
        }
        subject = _erp_customer_ref(customer, customer.erp_id)

        def decide(current: Any | None) -> Decision:
            if current is None:
                if not owner:
                    return _KEEP, []
                previous = before.value if before is not None else status.value
            else:
                previous = str(current.get("status"))
            if previous == status.value:
                return now, []
            event = Event(
                id=event_id(
                    NETSUITE,
                    "customer",
                    customer.erp_id,
                    EventType.CREDIT_STATUS_CHANGED.value,
                    version(change.modified_at),
                    status.value,
                ),
                type=EventType.CREDIT_STATUS_CHANGED,
                source=NETSUITE,
                subject=subject,
                time=change.modified_at,
                customer=subject,
                data={
                    "from": previous,
                    "to": status.value,
                    "balance": now["balance"],
                    "limit": now["limit"],
                    "overdue": _money(customer.overdue_balance, customer.currency),
                    "currency": customer.currency,
                    "creditHold": customer.credit_hold.value,
                    "erpId": customer.erp_id,
                },
            )
            return now, [event]

        _, _, events = await self._swap(self._key(NETSUITE, "credit", customer.erp_id), decide)
        return events

    def _standing_with_balance(self, customer: ErpCustomer, balance: Decimal) -> CreditStatus:
        return dataclasses.replace(customer, balance=balance).credit_status

    # ------------------------------------------------------------------ invoice status

    def _status_when_paid(self, invoice: ErpInvoice, paid: Decimal) -> InvoiceStatus:
        """The status the adapter would show for ``invoice`` had ``paid`` been applied to it."""
        if invoice.status is InvoiceStatus.VOIDED:
            return InvoiceStatus.VOIDED
        if invoice.total - paid <= 0:
            return InvoiceStatus.PAID
        if invoice.due_date is not None and invoice.due_date < self.today():
            return InvoiceStatus.OVERDUE
        return InvoiceStatus.PARTIALLY_PAID if paid > 0 else InvoiceStatus.OPEN

    def _invoice_snapshot(self, invoice: ErpInvoice) -> dict[str, Any]:
        return {
            "status": invoice.status.value,
            "amountDue": _money(invoice.amount_due, invoice.currency),
            "customer": invoice.customer_erp_id,
        }

    def _invoice_status_event(
        self, invoice: ErpInvoice, change: Change, previous: str, customer: str
    ) -> Event:
        subject = erp_object_id("Invoice", invoice.erp_id)
        return Event(
            id=event_id(
                NETSUITE,
                "invoice",
                invoice.erp_id,
                EventType.INVOICE_STATUS_CHANGED.value,
                version(change.modified_at),
                invoice.status.value,
            ),
            type=EventType.INVOICE_STATUS_CHANGED,
            source=NETSUITE,
            subject=subject,
            time=change.modified_at,
            customer=customer,
            data={
                "from": previous,
                "to": invoice.status.value,
                "number": invoice.number,
                "total": _money(invoice.total, invoice.currency),
                "amountPaid": _money(invoice.amount_paid, invoice.currency),
                "amountDue": _money(invoice.amount_due, invoice.currency),
                "currency": invoice.currency,
                "customerErpId": invoice.customer_erp_id,
            },
        )

    async def _invoice_status(
        self,
        invoice: ErpInvoice,
        change: Change,
        customer: str,
        *,
        owner: bool,
        paid_before: Decimal | None,
    ) -> list[Event]:
        """INVOICE_STATUS_CHANGED for an invoice a payment touched, when its status moved."""
        now = self._invoice_snapshot(invoice)

        def decide(current: Any | None) -> Decision:
            if current is None:
                if not owner:
                    return _KEEP, []
                if paid_before is None:
                    return now, []
                previous = self._status_when_paid(invoice, paid_before).value
            else:
                previous = str(current.get("status"))
            if previous == invoice.status.value:
                return now, []
            return now, [self._invoice_status_event(invoice, change, previous, customer)]

        _, _, events = await self._swap(self._key(NETSUITE, "invoice", invoice.erp_id), decide)
        return events

    # ------------------------------------------------------------------ NetSuite records

    async def _customer_of(self, erp_id: str) -> ErpCustomer | None:
        return (await self.erp.customers_by_ids([erp_id])).get(erp_id) if erp_id else None

    async def _erp_customer(self, change: Change) -> list[Event]:
        erp_id = change.record_id
        key = self._key(NETSUITE, "customer", erp_id)
        customer = await self._customer_of(erp_id)
        if customer is None:
            return await self._forget(key)
        subject = _erp_customer_ref(customer, erp_id)
        fields = {
            "name": customer.name,
            "email": customer.email,
            "erpKey": customer.erp_key,
            "legalEntityId": customer.legal_entity_id,
            "currency": customer.currency,
            "termsId": customer.terms_id,
            "taxId": customer.tax_id,
            "creditLimit": _money(customer.credit_limit, customer.currency),
            "creditHold": customer.credit_hold.value,
            "inactive": customer.inactive,
        }
        owner, events = await self._swap_fields(key, change, subject, fields)
        before = self._standing_before(customer, change.previous) if owner else None
        return events + await self._credit(customer, change, owner=owner, before=before)

    @staticmethod
    def _standing_before(customer: ErpCustomer, previous: Mapping[str, Any]) -> CreditStatus | None:
        """The credit standing before an edit, from the old values a notification carried."""
        if not previous or not ({"creditHoldOverride", "creditLimit"} & set(previous)):
            return None
        hold = customer.credit_hold
        limit = customer.credit_limit
        try:
            if "creditHoldOverride" in previous:
                hold = CreditHold(str(previous["creditHoldOverride"]).upper())
            if "creditLimit" in previous:
                old = previous["creditLimit"]
                limit = None if old in (None, "") else Decimal(str(old))
        except (ValueError, InvalidOperation):
            return None
        return dataclasses.replace(customer, credit_hold=hold, credit_limit=limit).credit_status

    async def _swap_fields(
        self, key: str, change: Change, subject: str, fields: dict[str, Any]
    ) -> tuple[bool, list[Event]]:
        """Record a customer's (or an account's) ``fields`` at ``key``: CUSTOMER_CREATED for a
        create seen first, else CUSTOMER_UPDATED naming the fields changed since the snapshot
        (None without one). Whether this call moved the snapshot, and its events."""
        now = {"fields": fields}

        def decide(current: Any | None) -> Decision:
            if current is None:
                if change.change_type == "create":
                    return now, [self._customer_event(change, subject, fields, created=True)]
                return now, [self._customer_event(change, subject, fields, changed=None)]
            before = current.get("fields") or {}
            changed = sorted(name for name in fields if before.get(name) != fields[name])
            if not changed:
                return now, []
            return now, [self._customer_event(change, subject, fields, changed=changed)]

        owner, _, events = await self._swap(key, decide)
        return owner, events

    def _customer_event(
        self,
        change: Change,
        subject: str,
        fields: Mapping[str, Any],
        *,
        created: bool = False,
        changed: list[str] | None = None,
    ) -> Event:
        kind = EventType.CUSTOMER_CREATED if created else EventType.CUSTOMER_UPDATED
        parts: list[object] = [change.source, change.record_type, change.record_id, kind.value]
        data: dict[str, Any] = {"fields": dict(fields), "recordId": change.record_id}
        if not created:
            parts += [version(change.modified_at), _digest(fields)]
            # None: first sight of the record, so what changed is not known
            data["changedFields"] = changed
            data["sourceFields"] = list(change.changed_fields)
        return Event(
            id=event_id(*parts),
            type=kind,
            source=change.source,
            subject=subject,
            time=change.modified_at,
            customer=subject,
            data=data,
        )

    async def _order(self, change: Change) -> list[Event]:
        erp_id = change.record_id
        key = self._key(NETSUITE, "salesorder", erp_id)
        order = (await self.erp.orders_by_ids([erp_id])).get(erp_id)
        if order is None:
            return await self._forget(key)
        customer = _erp_customer_ref(
            await self._customer_of(order.customer_erp_id), order.customer_erp_id
        )
        decide = _status_decision(
            change,
            {"status": order.status.value, "customer": order.customer_erp_id},
            created=lambda: self._order_event(order, change, customer, None),
            moved=lambda previous: self._order_event(order, change, customer, previous),
        )
        _, _, events = await self._swap(key, decide)
        return events

    def _order_event(
        self, order: ErpOrder, change: Change, customer: str, previous: str | None
    ) -> Event:
        data: dict[str, Any] = {
            "status": order.status.value,
            "number": order.number,
            "total": _money(order.total, order.currency),
            "currency": order.currency,
            "orderDate": order.order_date.isoformat() if order.order_date else None,
            "opportunityId": order.external_id,
            "customerErpId": order.customer_erp_id,
        }
        if previous is None:
            kind = EventType.ORDER_BOOKED
            parts: list[object] = []
        else:
            kind = EventType.ORDER_STATUS_CHANGED
            parts = [version(change.modified_at), order.status.value]
            data.update({"from": previous, "to": order.status.value})
        return Event(
            id=event_id(NETSUITE, "salesorder", order.erp_id, kind.value, *parts),
            type=kind,
            source=NETSUITE,
            subject=erp_object_id("Order", order.erp_id),
            time=change.modified_at,
            customer=customer,
            data=data,
        )

    async def _invoice(self, change: Change) -> list[Event]:
        erp_id = change.record_id
        key = self._key(NETSUITE, "invoice", erp_id)
        invoice = (await self.erp.invoices_by_ids([erp_id])).get(erp_id)
        if invoice is None:
            return await self._invoice_gone(change, key)
        customer = await self._customer_of(invoice.customer_erp_id)
        ref = _erp_customer_ref(customer, invoice.customer_erp_id)
        decide = _status_decision(
            change,
            self._invoice_snapshot(invoice),
            created=lambda: self._posted_event(invoice, change, ref),
            moved=lambda previous: self._invoice_status_event(invoice, change, previous, ref),
        )
        owner, replaced, events = await self._swap(key, decide)
        if customer is None:
            return events
        before = None
        if owner and replaced is None and change.change_type == "create":
            # posting the invoice added what is due on it to the balance
            balance = customer.balance - invoice.amount_due
            before = self._standing_with_balance(customer, balance)
        elif owner and replaced is not None:
            old_due = Decimal(str(replaced.get("amountDue") or 0))
            balance = customer.balance - invoice.amount_due + old_due
            before = self._standing_with_balance(customer, balance)
        return events + await self._credit(customer, change, owner=owner, before=before)

    async def _invoice_gone(self, change: Change, key: str) -> list[Event]:
        moved, current, leftovers = await self._swap(
            key, lambda snapshot: (None, []) if snapshot is not None else (_KEEP, [])
        )
        if not moved or current is None:
            return leftovers
        customer = await self._customer_of(str(current.get("customer") or ""))
        if customer is None:
            return leftovers
        balance = customer.balance + Decimal(str(current.get("amountDue") or 0))
        before = self._standing_with_balance(customer, balance)
        return leftovers + await self._credit(customer, change, owner=True, before=before)

    def _posted_event(self, invoice: ErpInvoice, change: Change, customer: str) -> Event:
        return Event(
            id=event_id(NETSUITE, "invoice", invoice.erp_id, EventType.INVOICE_POSTED.value),
            type=EventType.INVOICE_POSTED,
            source=NETSUITE,
            subject=erp_object_id("Invoice", invoice.erp_id),
            time=change.modified_at,
            customer=customer,
            data={
                "status": invoice.status.value,
                "number": invoice.number,
                "total": _money(invoice.total, invoice.currency),
                "amountDue": _money(invoice.amount_due, invoice.currency),
                "currency": invoice.currency,
                "issueDate": invoice.issue_date.isoformat() if invoice.issue_date else None,
                "dueDate": invoice.due_date.isoformat() if invoice.due_date else None,
                "orderId": erp_object_id("Order", invoice.order_erp_id)
                if invoice.order_erp_id
                else None,
                "customerErpId": invoice.customer_erp_id,
            },
        )

    async def _payment(self, change: Change) -> list[Event]:
        erp_id = change.record_id
        key = self._key(NETSUITE, "customerpayment", erp_id)
        payment = (await self.erp.payments_by_ids([erp_id])).get(erp_id)
        earlier, _ = outbox.split(await self.backend.get(key))
        if payment is None:
            if earlier is None:
                return []
            customer_erp_id = str(earlier.get("customer") or "")
            applications: dict[str, str] = {}
        else:
            customer_erp_id = payment.customer_erp_id
            applications = {
                app.invoice_erp_id: _money(app.amount, payment.currency) or "0"
                for app in payment.applications
            }
        touched = set(applications) | set((earlier or {}).get("applications") or {})
        invoices = await self.erp.invoices_by_ids(sorted(touched)) if touched else {}
        customer = await self._customer_of(customer_erp_id)
        ref = _erp_customer_ref(customer, customer_erp_id)
        now = {"customer": customer_erp_id, "applications": applications}

        def decide(current: Any | None) -> Decision:
            if payment is None:
                return (None if current is not None else _KEEP), []
            if current is None and change.change_type == "create":
                return now, [self._received_event(payment, change, ref, customer)]
            return now, []

        owner, replaced, events = await self._swap(key, decide)
        # What this change applied to each invoice, when known: the difference between the
        # applications now and those the snapshot held (none before a new payment).
        deltas: dict[str, Decimal] | None = None
        if owner and (replaced is not None or change.change_type == "create"):
            held = (replaced or {}).get("applications") or {}
            old = {k: Decimal(str(v)) for k, v in held.items()}
            new = {k: Decimal(v) for k, v in applications.items()}
            deltas = {k: new.get(k, Decimal(0)) - old.get(k, Decimal(0)) for k in {*old, *new}}
            missing = sorted(set(deltas) - set(invoices))
            if missing:
                invoices.update(await self.erp.invoices_by_ids(missing))
        for invoice_id in sorted(invoices, key=lambda value: (len(value), value)):
            invoice = invoices[invoice_id]
            delta = deltas.get(invoice_id) if deltas is not None else None
            paid_before = None if delta is None else invoice.amount_paid - delta
            events += await self._invoice_status(
                invoice, change, ref, owner=owner, paid_before=paid_before
            )
        if customer is not None:
            before = None
            if deltas is not None:
                balance = customer.balance + sum(deltas.values(), Decimal(0))
                before = self._standing_with_balance(customer, balance)
            events += await self._credit(customer, change, owner=owner, before=before)
        return events

    def _received_event(
        self, payment: ErpPayment, change: Change, ref: str, customer: ErpCustomer | None
    ) -> Event:
        currency = payment.currency
        return Event(
            id=event_id(
                NETSUITE, "customerpayment", payment.erp_id, EventType.PAYMENT_RECEIVED.value
            ),
            type=EventType.PAYMENT_RECEIVED,
            source=NETSUITE,
            subject=erp_object_id("Payment", payment.erp_id),
            time=change.modified_at,
            customer=ref,
            data={
                "number": payment.number,
                "amount": _money(payment.amount, currency),
                "currency": currency,
                "paymentDate": payment.payment_date.isoformat() if payment.payment_date else None,
                "unapplied": _money(payment.unapplied, currency),
                "applications": [
                    {
                        "invoiceId": erp_object_id("Invoice", app.invoice_erp_id),
                        "amount": _money(app.amount, currency),
                    }
                    for app in payment.applications
                ],
                "balanceAfter": _money(customer.balance, customer.currency) if customer else None,
                "customerErpId": payment.customer_erp_id,
            },
        )

    # ------------------------------------------------------------------ Salesforce records

    async def _account(self, change: Change) -> list[Event]:
        record_id = change.record_id
        key = self._key(SALESFORCE, "Account", record_id)
        account = (await self.crm.accounts_by_ids([record_id])).get(record_id)
        if account is None:
            return await self._forget(key)
        subject = customer_id(account.erp_key, account.salesforce_id, None)
        fields = _account_fields(account)
        _, events = await self._swap_fields(key, change, subject, fields)
        return events


def _account_fields(account: CrmAccount) -> dict[str, Any]:
    address = account.billing()
    return {
        "name": account.name,
        "accountNumber": account.account_number,
        "industry": account.industry,
        "owner": account.owner,
        "phone": account.phone,
        "website": account.website,
        "billingStreet": address.street,
        "billingCity": address.city,
        "billingState": address.state,
        "billingPostalCode": address.postal_code,
        "billingCountry": address.country,
        "currency": account.currency,
        "creditStatusMirror": account.credit_status_mirror,
        "taxId": account.tax_id,
        "erpKey": account.erp_key,
    }
