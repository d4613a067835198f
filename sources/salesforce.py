"""The Salesforce adapter: the CRM behind an async interface in canonical terms.

`SalesforceCrm` is the `sources.salesforce_client.SalesforceClient` of one org (its session,
its calls, their resilience) plus the CRM port: accounts, opportunities and their lines read
as canonical records through the mapping of `sources.salesforce_records`, and the writes
Accord makes (account changes, the booking write-back).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sources import salesforce_feed, soql
from sources.changes import ChangeScan, Notification, RecordKind
from sources.errors import SourceValidationError
from sources.ports import Page
from sources.records import AccountFields, CrmAccount, CrmOpportunity, Line
from sources.salesforce_client import SalesforceClient
from sources.salesforce_records import (
    ACCOUNT_FIELDS,
    ACCOUNT_READS,
    ACCOUNT_WRITES,
    OPPORTUNITY_FIELDS,
    OPPORTUNITY_LINE_FIELDS,
    SOURCE,
    account_body,
    normalise_id,
    to_account,
    to_line,
    to_opportunity,
)


class SalesforceCrm(SalesforceClient):
    """Salesforce as Accord's CRM."""

    # the customer attributes this adapter reads, and writes (see ACCOUNT_READS)
    customer_attributes = frozenset({*ACCOUNT_READS, "billing_address"})
    writable_attributes = frozenset({*ACCOUNT_WRITES, "billing_address"})
    sweep_page = 2000  # records a query answers at once: one call per page of a sweep
    # the change feed (`sources.salesforce_feed`)
    record_names: Mapping[RecordKind, str] = salesforce_feed.RECORD_NAMES
    webhooks = True

    def change_scans(self) -> Sequence[ChangeScan]:
        return [salesforce_feed.SoqlScan(self, sobject) for sobject in salesforce_feed.OBJECT_KINDS]

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        return salesforce_feed.parse_notification(headers, body)

    # ------------------------------------------------------------------ canonical reads

    async def accounts_by_ids(self, ids: Sequence[str]) -> dict[str, CrmAccount]:
        """Accounts by record id (15 or 18 characters); keys are the 18-character ids."""
        wanted = [normalise_id(record_id) for record_id in ids]
        template = f"SELECT {', '.join(ACCOUNT_FIELDS)} FROM Account WHERE Id IN ({{in_list}})"
        records = await self.query_in(template, wanted)
        return {account.salesforce_id: account for account in map(to_account, records)}

    async def accounts_by_erp_keys(self, keys: Sequence[str]) -> dict[str, CrmAccount]:
        template = (
            f"SELECT {', '.join(ACCOUNT_FIELDS)} FROM Account "
            "WHERE ERP_Customer_Id__c IN ({in_list})"
        )
        records = await self.query_in(template, keys)
        found: dict[str, CrmAccount] = {}
        for account in map(to_account, records):
            if account.erp_key is not None:
                found.setdefault(account.erp_key, account)
        return found

    async def search_accounts(
        self,
        *,
        name_contains: str | None = None,
        country: str | None = None,
        keys: Sequence[str] | None = None,
        after_key: str | None = None,
        limit: int | None = None,
    ) -> list[CrmAccount]:
        """Accounts cross-referenced to the ERP, ordered by their cross-reference key."""
        conditions = ["ERP_Customer_Id__c != null"]
        if name_contains:
            conditions.append(f"Name LIKE {soql.like_contains(name_contains)}")
        if country:
            conditions.append(f"BillingCountryCode = {soql.quote(country)}")
        if after_key is not None:
            conditions.append(f"ERP_Customer_Id__c > {soql.quote(after_key)}")
        text = (
            f"SELECT {', '.join(ACCOUNT_FIELDS)} FROM Account WHERE {' AND '.join(conditions)}"
            " ORDER BY ERP_Customer_Id__c ASC"
        )
        if keys is not None:
            text = text.replace(" ORDER BY", " AND ERP_Customer_Id__c IN ({in_list}) ORDER BY")
            found = [to_account(r) for r in await self.query_in(text, keys)]
            found.sort(key=lambda account: account.erp_key or "")
            return found[:limit] if limit is not None else found
        if limit is not None:
            text += f" LIMIT {int(limit)}"
        return [to_account(record) for record in await self.query(text)]

    async def opportunities_by_account_ids(
        self, account_ids: Sequence[str]
    ) -> dict[str, list[CrmOpportunity]]:
        wanted = [normalise_id(record_id) for record_id in account_ids]
        template = (
            f"SELECT {', '.join(OPPORTUNITY_FIELDS)} FROM Opportunity "
            "WHERE AccountId IN ({in_list}) ORDER BY CloseDate DESC, Id ASC"
        )
        grouped: dict[str, list[CrmOpportunity]] = {record_id: [] for record_id in wanted}
        for record in await self.query_in(template, wanted):
            grouped.setdefault(str(record.get("AccountId")), []).append(to_opportunity(record))
        return grouped

    async def opportunities_by_ids(self, ids: Sequence[str]) -> dict[str, CrmOpportunity]:
        wanted = [normalise_id(record_id) for record_id in ids]
        template = (
            f"SELECT {', '.join(OPPORTUNITY_FIELDS)} FROM Opportunity WHERE Id IN ({{in_list}})"
        )
        return {
            opportunity.salesforce_id: opportunity
            for opportunity in map(to_opportunity, await self.query_in(template, wanted))
        }

    async def account_sweep(
        self, *, after_id: str | None = None, limit: int | None = None
    ) -> Page[CrmAccount]:
        """Every account, in record id order, a page at a time."""
        page = await self._sweep("Account", ACCOUNT_FIELDS, None, after_id, limit)
        return Page([to_account(record) for record in page.items], page.has_more)

    async def won_opportunity_sweep(
        self, *, after_id: str | None = None, limit: int | None = None
    ) -> Page[CrmOpportunity]:
        """Every won opportunity, in record id order, a page at a time."""
        page = await self._sweep("Opportunity", OPPORTUNITY_FIELDS, "IsWon = true", after_id, limit)
        return Page([to_opportunity(record) for record in page.items], page.has_more)

    async def _sweep(
        self,
        sobject: str,
        fields: Sequence[str],
        condition: str | None,
        after_id: str | None,
        limit: int | None,
    ) -> Page[dict[str, Any]]:
        # Keyset paging on Id: 18-character ids order the same whatever the case, as SOQL
        # compares them; a page of `sweep_page` records is one answer, with no query cursor.
        size = self.sweep_page if limit is None else limit
        if not 1 <= size <= self.sweep_page:
            raise SourceValidationError(SOURCE, f"a sweep page holds 1 to {self.sweep_page}")
        conditions = [condition] if condition else []
        if after_id is not None:
            conditions.append(f"Id > {soql.quote(normalise_id(after_id))}")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        records = await self.query(
            f"SELECT {', '.join(fields)} FROM {sobject}{where} ORDER BY Id ASC LIMIT {size}"
        )
        return Page(records, has_more=len(records) == size)

    # ------------------------------------------------------------------ canonical writes

    async def update_account(
        self, account_id: str, fields: AccountFields, *, idempotency_key: str
    ) -> None:
        body = account_body(fields)
        if body:
            await self.update("Account", account_id, body, idempotency_key=idempotency_key)

    async def write_back_booking(
        self,
        *,
        opportunity_id: str,
        order_number: str | None,
        order_status: str | None,
        account_id: str,
        erp_key: str | None,
        idempotency_key: str,
    ) -> None:
        """Record a booking on the CRM side, atomically: the ERP order number and status on
        the opportunity and the ERP customer key on the account (all or none). None empties
        a field."""
        await self.composite_update_mixed(
            [
                (
                    "Opportunity",
                    {
                        "Id": normalise_id(opportunity_id),
                        "ERP_Order_Id__c": order_number,
                        "ERP_Order_Status__c": order_status,
                    },
                ),
                ("Account", {"Id": normalise_id(account_id), "ERP_Customer_Id__c": erp_key}),
            ],
            idempotency_key=idempotency_key,
        )

    async def opportunity_lines(self, opportunity_ids: Sequence[str]) -> dict[str, list[Line]]:
        wanted = [normalise_id(record_id) for record_id in opportunity_ids]
        template = (
            f"SELECT {', '.join(OPPORTUNITY_LINE_FIELDS)} FROM OpportunityLineItem "
            "WHERE OpportunityId IN ({in_list}) ORDER BY OpportunityId, Id"
        )
        grouped: dict[str, list[Line]] = {record_id: [] for record_id in wanted}
        for record in await self.query_in(template, wanted):
            lines = grouped.setdefault(str(record.get("OpportunityId")), [])
            lines.append(to_line(len(lines) + 1, record))
        return grouped
