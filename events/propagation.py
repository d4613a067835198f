"""Propagation: the CRM mirrors what the ERP owns, through the write path's machinery.

The ERP owns a customer's credit standing; Salesforce keeps a copy on the account
(``Credit_Status__c``) so that sales sees it where they work. A CREDIT_STATUS_CHANGED event
says the standing moved. For a customer Accord had not seen before, the normaliser reports a
standing that differs from the account's mirror as such a change; its ERP CUSTOMER_UPDATED
(``changedFields`` None) is handled too, for an account that mirrors a standing already, so
that a mirror the normaliser could not compare (the CRM was down) is put right all the same.
The handler reads the standing the ERP holds now and the account's mirror, and writes the
mirror only when they differ. So the mirror converges to the ERP's state whatever the events'
order or timing: an event handled late writes nothing older, and when an event between two
others was lost, the next one still puts the mirror right. It is idempotent, keyed by the
event's id (a redelivered event is handled once), and every write is recorded in the audit
trail. A blank mirror is filled in by the first change of the standing, not on a first sight
(a standing unchanged writes nothing; reconciliation reports blank mirrors).

What is mirrored follows the ownership registry: the ERP's standing (``CreditSummary.status``)
goes to the CRM only while the registry gives it to the ERP; were it the CRM's own field, the
CRM's value would count and nothing would be written over it.
"""

from __future__ import annotations

import asyncio
import logging

from domain import ownership
from domain.audit import AuditEntry
from domain.ownership import System
from events.model import Event, EventType
from sources.ports import CrmPort, ErpPort
from sources.records import AccountFields, CreditStatus
from state.audit import AuditTrail
from state.idempotency import IdempotencyStore, Mismatch, Started, Stored, fingerprint

logger = logging.getLogger("accord.propagation")

MIRROR_VALUES = {
    CreditStatus.GOOD_STANDING: "Good Standing",
    CreditStatus.OVER_LIMIT: "Over Limit",
    CreditStatus.ON_HOLD: "On Hold",
}
MIRRORED = "CreditSummary.status"
ACTOR = "accord:propagation"
SCOPE = "propagateCreditStatus"


class CreditStatusPropagation:
    """The handler of the ``propagation`` consumer group for credit standing."""

    def __init__(
        self,
        crm: CrmPort,
        erp: ErpPort,
        idempotency: IdempotencyStore,
        audit: AuditTrail,
    ) -> None:
        self.crm = crm
        self.erp = erp
        self.idempotency = idempotency
        self.audit = audit

    async def handle(self, event: Event) -> None:
        if not event.customer or not (
            event.type is EventType.CREDIT_STATUS_CHANGED or self._first_sight(event)
        ):
            return
        if ownership.REGISTRY[MIRRORED].owner is not System.ERP:
            return  # the CRM owns the standing: there is no copy to keep
        key = event.customer.removeprefix("cus:")
        if key.startswith(("sf:", "erp:")):
            return  # no cross-reference to find the account by
        if event.type is EventType.CREDIT_STATUS_CHANGED and _status(event) is None:
            return  # no standing to mirror
        claim = await self.idempotency.begin(SCOPE, event.id, fingerprint(event.to_cloudevent()))
        if isinstance(claim, Stored | Mismatch):
            return  # already applied (a redelivery)
        assert isinstance(claim, Started)
        try:
            outcome = await self._apply(event, key)
        except BaseException:
            await self.idempotency.abandon(SCOPE, event.id, claim.token)
            raise
        await self.idempotency.complete(SCOPE, event.id, claim.token, outcome)

    def _first_sight(self, event: Event) -> bool:
        """An ERP customer changed that Accord had not seen before (found by a scan, say, after
        a restart): whether its standing moved is not known, so no CREDIT_STATUS_CHANGED came,
        and a mirror the account holds is compared with the ERP's standing all the same."""
        return (
            event.type is EventType.CUSTOMER_UPDATED
            and event.source == self.erp.source
            and "changedFields" in event.data
            and event.data["changedFields"] is None
        )

    async def _apply(self, event: Event, key: str) -> str:
        # the standing as the ERP holds it now, not as the event saw it: compare, then skip
        customers, accounts = await asyncio.gather(
            self.erp.customers_by_keys([key]), self.crm.accounts_by_erp_keys([key])
        )
        account = accounts.get(key)
        customer = customers.get(key)
        if account is None:
            return "no account"
        if customer is None:
            return "no ERP customer"
        value = MIRROR_VALUES[customer.credit_status]
        if account.credit_status_mirror == value:
            return "mirrored already"
        if not account.credit_status_mirror and self._first_sight(event):
            return "nothing mirrored yet"  # set by the standing's first event, not by a guess
        await self.crm.update_account(
            account.salesforce_id,
            AccountFields(credit_status_mirror=value),
            idempotency_key=f"{event.id}:{value}",
        )
        await self.audit.record(
            AuditEntry(
                actor=ACTOR,
                role=None,
                action="propagate.creditStatus",
                outcome="applied",
                system=self.crm.source,
                record_type="Account",
                record_id=account.salesforce_id,
                before={"Credit_Status__c": account.credit_status_mirror},
                after={"Credit_Status__c": value},
                idempotency_key=event.id,
                upstream_ids={"event": event.id, "customer": event.customer or ""},
            )
        )
        return "applied"


def _status(event: Event) -> CreditStatus | None:
    value = event.data.get("to", event.data.get("status"))
    try:
        return CreditStatus(value)
    except ValueError:
        logger.warning("credit event %s has no known standing: %r", event.id, value)
        return None
