"""Propagation: the CRM mirrors what the ERP owns, through the write path's machinery.

The ERP owns a customer's credit standing; Salesforce keeps a copy on the account
(``Credit_Status__c``) so that sales sees it where they work. When a CREDIT_STATUS_CHANGED
event arrives, the account is updated — idempotently, keyed by the event's id (a redelivered
event writes nothing twice), never with an older standing than the one already written, and
recorded in the audit trail.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from domain.audit import AuditEntry
from events.model import Event, EventType
from sources.ports import CrmPort
from sources.records import AccountFields, CreditStatus
from state.audit import AuditTrail
from state.backend import StateBackend
from state.idempotency import IdempotencyStore, Mismatch, Started, Stored, fingerprint

logger = logging.getLogger("accord.propagation")

MIRROR_VALUES = {
    CreditStatus.GOOD_STANDING: "Good Standing",
    CreditStatus.OVER_LIMIT: "Over Limit",
    CreditStatus.ON_HOLD: "On Hold",
}
ACTOR = "accord:propagation"
SCOPE = "propagateCreditStatus"


class CreditStatusPropagation:
    """The handler of the ``propagation`` consumer group for credit standing."""

    def __init__(
        self,
        crm: CrmPort,
        backend: StateBackend,
        idempotency: IdempotencyStore,
        audit: AuditTrail,
    ) -> None:
        self.crm = crm
        self.backend = backend
        self.idempotency = idempotency
        self.audit = audit

    async def handle(self, event: Event) -> None:
        if event.type is not EventType.CREDIT_STATUS_CHANGED or not event.customer:
            return
        status = _status(event)
        key = event.customer.removeprefix("cus:")
        if status is None or key.startswith(("sf:", "erp:")):
            return  # no standing to mirror, or no cross-reference to find the account by
        claim = await self.idempotency.begin(SCOPE, event.id, fingerprint(event.to_cloudevent()))
        if isinstance(claim, Stored | Mismatch):
            return  # already applied (a redelivery)
        assert isinstance(claim, Started)
        try:
            outcome = await self._apply(event, key, status)
        except BaseException:
            await self.idempotency.abandon(SCOPE, event.id, claim.token)
            raise
        await self.idempotency.complete(SCOPE, event.id, claim.token, outcome)

    async def _apply(self, event: Event, key: str, status: CreditStatus) -> str:
        accounts = await self.crm.accounts_by_erp_keys([key])
        account = accounts.get(key)
        if account is None:
            return "no account"
        if not await self._newer(account.salesforce_id, event):
            return "older than the standing already mirrored"
        value = MIRROR_VALUES[status]
        await self.crm.update_account(
            account.salesforce_id,
            AccountFields(credit_status_mirror=value),
            idempotency_key=event.id,
        )
        await self.audit.record(
            AuditEntry(
                actor=ACTOR,
                role=None,
                action="propagate.creditStatus",
                outcome="applied",
                system="salesforce",
                record_type="Account",
                record_id=account.salesforce_id,
                before={"Credit_Status__c": account.credit_status_mirror},
                after={"Credit_Status__c": value},
                idempotency_key=event.id,
                upstream_ids={"event": event.id, "customer": event.customer or ""},
            )
        )
        return "applied"

    async def _newer(self, account_id: str, event: Event) -> bool:
        """Record ``event`` as the account's latest mirrored change unless a later one is.

        The mark names the event, so the same event handled again (its write failed, and the
        bus handed it out once more) is still the newest and is applied.
        """
        name = f"propagated:credit:{account_id}"
        stamp = event.time.astimezone(dt.UTC).isoformat()
        mark = {"at": stamp, "event": event.id}
        while True:
            current = await self.backend.get(name)
            if current is not None:
                at, by = _mark(current)
                if by == event.id:
                    return True
                if at >= stamp:
                    return False
            if await self.backend.compare_and_set(name, current, mark, ttl=30 * 86400):
                return True


def _mark(value: Any) -> tuple[str, str | None]:
    """(time, event id) of a mirrored-change mark; a bare time (no event) from older marks."""
    if isinstance(value, dict):
        return str(value.get("at", "")), str(value.get("event")) if value.get("event") else None
    return str(value), None


def _status(event: Event) -> CreditStatus | None:
    value = event.data.get("to", event.data.get("status"))
    try:
        return CreditStatus(value)
    except ValueError:
        logger.warning("credit event %s has no known standing: %r", event.id, value)
        return None
