"""Credit standing and invoice status: the transitions other records' changes move.

A customer's credit standing moves with its invoices and payments as much as with its own
record, and an invoice's status with the payments applied to it; each has its own snapshot
(``credit``, and the invoice's), moved by whichever change touched it. When there is no
snapshot yet, the state before the change is derived where it can be (an invoice paid by 200
had 200 less paid), so that the first such change still reports its transition.

A customer whose standing Accord has not seen before (a scan finds its first change, after a
restart on state in memory, or on an ERP without webhooks) is compared with the standing the
CRM mirrors on its account, which is what the commercial side believed until now: a mirror
that differs makes a CREDIT_STATUS_CHANGED from the mirrored standing, while a blank mirror,
or one that agrees, makes none. So a first sight reports the real disagreements and no more,
and a restart does not replay every customer's standing to subscribers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from domain import ownership
from domain.ids import customer_id, erp_object_id
from domain.ownership import System
from events.model import Event, EventType, event_id
from events.normalize.snapshots import KEEP, Decision, SnapshotStore
from events.propagation import MIRROR_VALUES, MIRRORED
from sources.changes import RecordChange, RecordKind, version
from sources.errors import SourceError
from sources.ports import CrmPort, ErpPort
from sources.records import CreditStatus, ErpCustomer, ErpInvoice, InvoiceStatus, to_currency

logger = logging.getLogger("accord.events.normalize")

Change = RecordChange

MIRRORED_STANDINGS = {value: status for status, value in MIRROR_VALUES.items()}
"""The CRM mirror's values, back to the standings they copy."""

_UNREAD = object()  # the CRM's mirror, not read yet


def money(amount: Decimal | None, currency: str | None) -> str | None:
    return None if amount is None else str(to_currency(amount, currency))


def digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def erp_customer_ref(customer: ErpCustomer | None, erp_id: str) -> str:
    return customer_id(customer.erp_key if customer else None, None, erp_id)


def status_decision(
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


class Standing(SnapshotStore):
    """Credit standing and invoice status transitions, over the ERP's records."""

    crm: CrmPort
    erp: ErpPort
    today: Callable[[], dt.date]

    def _erp_name(self, kind: RecordKind) -> str:
        """The ERP's name for records of ``kind`` in event ids and snapshot keys."""
        return self.erp.record_names[kind]

    def _erp_event(
        self,
        kind: RecordKind,
        erp_id: str,
        type: EventType,
        change: Change,
        *,
        subject: str,
        customer: str,
        data: dict[str, Any],
        versions: tuple[object, ...] = (),
    ) -> Event:
        """An event about the ERP's record ``erp_id`` of ``kind``, at the change's time; its id
        names the record, the event type and ``versions`` (what makes a later transition of
        the same type another event)."""
        return Event(
            id=event_id(self.erp.source, self._erp_name(kind), erp_id, type.value, *versions),
            type=type,
            source=self.erp.source,
            subject=subject,
            time=change.modified_at,
            customer=customer,
            data=data,
        )

    def _erp_key(self, kind: RecordKind, erp_id: str) -> str:
        return self._key(self.erp.source, self._erp_name(kind), erp_id)

    def _invoice_key(self, erp_id: str) -> str:
        return self._erp_key(RecordKind.INVOICE, erp_id)

    async def _credit(
        self,
        customer: ErpCustomer,
        change: Change,
        *,
        owner: bool,
        before: CreditStatus | None = None,
    ) -> list[Event]:
        """CREDIT_STATUS_CHANGED when the customer's standing differs from the last one seen.

        With no standing seen yet, only the ``owner`` of the change decides: from ``before``,
        the standing before this change when it can be derived and differs, else from the
        standing the CRM mirrors (read then, once: `_mirrored`).
        """
        status = customer.credit_status
        now = {
            "status": status.value,
            "balance": money(customer.balance, customer.currency),
            "limit": money(customer.credit_limit, customer.currency),
        }
        subject = erp_customer_ref(customer, customer.erp_id)
        unseen = False

        def deciding(mirrored: object) -> Callable[[Any | None], Decision]:
            def decide(current: Any | None) -> Decision:
                nonlocal unseen
                unseen = False
                if current is not None:
                    previous = str(current.get("status"))
                elif not owner:
                    return KEEP, []
                elif before is not None and before is not status:
                    previous = before.value
                elif mirrored is _UNREAD:
                    unseen = True  # the mirror is read, then this is decided again
                    return KEEP, []
                elif isinstance(mirrored, CreditStatus):
                    previous = mirrored.value
                else:
                    previous = status.value
                if previous == status.value:
                    return now, []
                return now, [self._credit_event(customer, change, subject, previous, now)]

            return decide

        key = self._key(self.erp.source, "credit", customer.erp_id)
        _, _, events = await self._swap(key, deciding(_UNREAD))
        if unseen:
            mirrored = await self._mirrored(customer)
            _, _, more = await self._swap(key, deciding(mirrored))
            events = events + more
        return events

    async def _mirrored(self, customer: ErpCustomer) -> CreditStatus | None:
        """The standing the CRM mirrors on the customer's account; None when it mirrors none
        (a blank, a value that is no standing, no account, or the CRM owns the standing), and
        when the CRM cannot be read: the ERP's change is not held up by the other system's
        outage, and the standing is recorded without an event (propagation still compares a
        mirror the account holds with it)."""
        if not customer.erp_key or ownership.REGISTRY[MIRRORED].owner is not System.ERP:
            return None
        try:
            accounts = await self.crm.accounts_by_erp_keys([customer.erp_key])
        except SourceError as exc:
            logger.warning(
                "the standing of customer %s, seen for the first time, is recorded without "
                "comparing it with the CRM's mirror: %s",
                customer.erp_id,
                exc,
            )
            return None
        account = accounts.get(customer.erp_key)
        mirror = account.credit_status_mirror if account is not None else None
        return MIRRORED_STANDINGS.get(mirror or "")

    def _credit_event(
        self,
        customer: ErpCustomer,
        change: Change,
        subject: str,
        previous: str,
        now: dict[str, Any],
    ) -> Event:
        status = customer.credit_status
        return self._erp_event(
            RecordKind.CUSTOMER,
            customer.erp_id,
            EventType.CREDIT_STATUS_CHANGED,
            change,
            subject=subject,
            customer=subject,
            versions=(version(change.modified_at), status.value),
            data={
                "from": previous,
                "to": status.value,
                "balance": now["balance"],
                "limit": now["limit"],
                "overdue": money(customer.overdue_balance, customer.currency),
                "currency": customer.currency,
                "creditHold": customer.credit_hold.value,
                "erpId": customer.erp_id,
            },
        )

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
            "amountDue": money(invoice.amount_due, invoice.currency),
            "customer": invoice.customer_erp_id,
        }

    def _invoice_status_event(
        self, invoice: ErpInvoice, change: Change, previous: str, customer: str
    ) -> Event:
        return self._erp_event(
            RecordKind.INVOICE,
            invoice.erp_id,
            EventType.INVOICE_STATUS_CHANGED,
            change,
            subject=erp_object_id("Invoice", invoice.erp_id),
            customer=customer,
            versions=(version(change.modified_at), invoice.status.value),
            data={
                "from": previous,
                "to": invoice.status.value,
                "number": invoice.number,
                "total": money(invoice.total, invoice.currency),
                "amountPaid": money(invoice.amount_paid, invoice.currency),
                "amountDue": money(invoice.amount_due, invoice.currency),
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
                    return KEEP, []
                if paid_before is None:
                    return now, []
                previous = self._status_when_paid(invoice, paid_before).value
            else:
                previous = str(current.get("status"))
            if previous == invoice.status.value:
                return now, []
            return now, [self._invoice_status_event(invoice, change, previous, customer)]

        _, _, events = await self._swap(self._invoice_key(invoice.erp_id), decide)
        return events
