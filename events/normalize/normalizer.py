"""From "this record changed" to canonical finance events.

A `Change` (`sources.changes.RecordChange`) says only that a record of a canonical kind changed
in one system, and when: webhooks (`api.webhooks`) and pollers
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

=====================  ===================================================================
ERP ``CUSTOMER``       CUSTOMER_CREATED / CUSTOMER_UPDATED; CREDIT_STATUS_CHANGED
ERP ``ORDER``          ORDER_BOOKED / ORDER_STATUS_CHANGED
ERP ``INVOICE``        INVOICE_POSTED / INVOICE_STATUS_CHANGED; the customer's credit
ERP ``PAYMENT``        PAYMENT_RECEIVED; its invoices' statuses; the customer's credit
CRM ``CUSTOMER``       CUSTOMER_CREATED / CUSTOMER_UPDATED
=====================  ===================================================================

The system is told by the change's ``source`` (the adapter's name); changes of other systems
and kinds yield nothing. Events and snapshots name records by the adapter's ``record_names``
and the system by its ``source``. The customer fields an event compares and carries are those
the ownership registry binds and the adapter reads (`events.normalize.fields`).

The work is split by job: `snapshots` (the compare-and-set moves and their outbox),
`standing` (credit standing and invoice status transitions), `erp` (the ERP's records) and
this module (the dispatch, and the CRM's accounts).

An object seen for the first time has no snapshot: its creation is an event, and a payment
or invoice posted derives the state before it (an invoice paid by 200 had 200 less paid) so
that the first payment on an invoice still reports the invoice's status change; a customer's
credit standing is compared with the standing the CRM mirrors (`standing`); otherwise the
first sight only records the state (a *baseline*). Baselines and derived transitions are
written only by the processing that moved the changed record's own snapshot, so a duplicate
delivery racing the first one cannot hide a transition.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable

from domain.ids import customer_id
from events.model import Event
from events.normalize import fields
from events.normalize.erp import ErpRecords
from events.normalize.snapshots import OUTBOX_GRACE, SNAPSHOT_TTL, Publish
from events.normalize.standing import Change
from sources.changes import RecordKind
from sources.clock import utc_today
from sources.ports import CrmPort, ErpPort
from state.backend import StateBackend


class Normalizer(ErpRecords):
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
        super().__init__(
            backend,
            publish=publish,
            snapshot_ttl=snapshot_ttl,
            outbox_grace=outbox_grace,
            clock=clock,
        )
        self.crm = crm
        self.erp = erp
        self.today = today
        self._erp_handlers: dict[RecordKind, Callable[[Change], Awaitable[list[Event]]]] = {
            RecordKind.CUSTOMER: self._erp_customer,
            RecordKind.ORDER: self._order,
            RecordKind.INVOICE: self._invoice,
            RecordKind.PAYMENT: self._payment,
        }

    async def normalize(self, change: Change) -> list[Event]:
        """The events this change means that no earlier processing has emitted.

        Reads go to the sources first; snapshots move only after every read succeeded, so a
        source failure (a `SourceError`, raised to the caller) leaves nothing half-recorded.
        """
        if change.source == self.erp.source:
            handler = self._erp_handlers.get(change.kind)
            return await handler(change) if handler is not None else []
        if change.source == self.crm.source and change.kind is RecordKind.CUSTOMER:
            return await self._account(change)
        return []

    # ------------------------------------------------------------------ the CRM's accounts

    async def _account(self, change: Change) -> list[Event]:
        record_id = change.record_id
        key = self._key(self.crm.source, self.crm.record_names[RecordKind.CUSTOMER], record_id)
        account = (await self.crm.accounts_by_ids([record_id])).get(record_id)
        if account is None:
            return await self._forget(key)
        subject = customer_id(account.erp_key, account.salesforce_id, None)
        values = fields.account_fields(account, self.crm.customer_attributes)
        _, events = await self._swap_fields(key, change, subject, values)
        return events
