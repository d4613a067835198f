"""The comparison: what two sweeps of the systems disagree on, and what ends each drift.

Pure logic over a `reconcile.sweep.Snapshot`. Accounts and ERP customers are joined on the
cross-reference key (``Account.ERP_Customer_Id__c`` = the ERP customer's external id);
opportunities and ERP sales orders on the order's external id (the opportunity it was booked
from). Values the CRM owns (names, billing streets) are compared exactly: a change of case or
spacing is a difference someone will see on an invoice.

An account and an ERP customer that are not linked but carry the same company name (ignoring
case and spacing), one each, are offered as a pair: linking them ends both drifts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from domain import ids
from events.propagation import MIRROR_VALUES
from reconcile.drift import Drift, DriftKind, Fix, FixAction
from reconcile.sweep import Snapshot, opportunity_named
from sources.records import CrmAccount, CrmOpportunity, ErpCustomer, ErpOrder, to_currency


def find_drift(snapshot: Snapshot) -> list[Drift]:
    """Every drift in ``snapshot``, ordered by kind, then subject."""
    customers = {c.erp_key: c for c in snapshot.customers if c.erp_key}
    accounts = {a.salesforce_id: a for a in snapshot.accounts}
    linked_keys = {a.erp_key for a in snapshot.accounts if a.erp_key in customers}
    loose_accounts = [a for a in snapshot.accounts if a.erp_key not in customers]
    loose_customers = [
        c for c in snapshot.customers if not c.inactive and c.erp_key not in linked_keys
    ]
    pairs = _pairs(loose_accounts, loose_customers)

    found: list[Drift] = []
    for account in snapshot.accounts:
        customer = customers.get(account.erp_key) if account.erp_key else None
        if customer is None:
            found.append(_loose_account(account, pairs.get(account.salesforce_id)))
        else:
            found.extend(_pair_drift(account, customer))
    by_customer = {customer.erp_id: account for account, customer in pairs.values()}
    found.extend(_loose_customer(c, by_customer.get(c.erp_id)) for c in loose_customers)
    found.extend(_deal_drift(snapshot, accounts))
    order = list(DriftKind)
    found.sort(key=lambda drift: (order.index(drift.kind), drift.subject))
    return found


def _name(value: str | None) -> str:
    return " ".join((value or "").casefold().split())


def _pairs(
    accounts: Iterable[CrmAccount], customers: Iterable[ErpCustomer]
) -> dict[str, tuple[CrmAccount, ErpCustomer]]:
    """Unlinked accounts and ERP customers (with a key) that stand for the same company, by
    account id: only where the name names one of each."""
    by_name: dict[str, tuple[list[CrmAccount], list[ErpCustomer]]] = defaultdict(lambda: ([], []))
    for account in accounts:
        by_name[_name(account.name)][0].append(account)
    for customer in customers:
        if customer.erp_key:
            by_name[_name(customer.name)][1].append(customer)
    return {
        found[0][0].salesforce_id: (found[0][0], found[1][0])
        for name, found in by_name.items()
        if name and len(found[0]) == 1 and len(found[1]) == 1
    }


def _link(account: CrmAccount, customer: ErpCustomer) -> Fix:
    return Fix(
        FixAction.LINK_ACCOUNT,
        f"Link account {account.salesforce_id} to ERP customer {customer.erp_id} "
        f"({customer.erp_key}): both are “{account.name}”.",
        "linkAccount",
        {"salesforceId": account.salesforce_id, "erpId": customer.erp_id},
    )


def _loose_account(account: CrmAccount, pair: tuple[CrmAccount, ErpCustomer] | None) -> Drift:
    common: dict[str, Any] = {"salesforce_id": account.salesforce_id, "key": account.erp_key}
    if account.erp_key is None:
        fix = (
            _link(*pair)
            if pair
            else Fix(
                FixAction.SET_UP_IN_ERP,
                "No ERP customer stands for this account yet: booking its first Closed Won "
                "opportunity (bookOrder) creates one and links it, or link it by hand to the "
                "ERP customer it is.",
            )
        )
        return Drift(
            kind=DriftKind.LINK_MISSING,
            subject=account.salesforce_id,
            message=f"Account “{account.name}” has no ERP link.",
            fix=fix,
            **common,
        )
    fix = (
        _link(*pair)
        if pair
        else Fix(
            FixAction.REPAIR_LINK,
            f"No ERP customer has the key {account.erp_key}: correct the account's "
            "ERP_Customer_Id__c in the CRM, or set the customer up in the ERP with that "
            "external id.",
        )
    )
    return Drift(
        kind=DriftKind.LINK_BROKEN,
        subject=account.salesforce_id,
        message=f"Account “{account.name}” links to {account.erp_key}, which no ERP customer has.",
        fix=fix,
        crm_value=account.erp_key,
        **common,
    )


def _loose_customer(customer: ErpCustomer, account: CrmAccount | None) -> Drift:
    fix = (
        _link(account, customer)
        if account is not None
        else Fix(
            FixAction.CREATE_ACCOUNT,
            f"Create the account in the CRM with ERP_Customer_Id__c = {customer.erp_key}, or "
            "link the account that stands for this customer."
            if customer.erp_key
            else "Give the ERP customer an external id, then create or link its account.",
        )
    )
    return Drift(
        kind=DriftKind.ERP_CUSTOMER_UNLINKED,
        subject=customer.erp_id,
        message=f"ERP customer “{customer.name}” ({customer.erp_key or 'no key'}) has no account "
        "linking to it.",
        fix=fix,
        erp_id=customer.erp_id,
        key=customer.erp_key,
        erp_value=customer.erp_key,
    )


def _pair_drift(account: CrmAccount, customer: ErpCustomer) -> list[Drift]:
    common: dict[str, Any] = {
        "subject": account.salesforce_id,
        "salesforce_id": account.salesforce_id,
        "erp_id": customer.erp_id,
        "key": customer.erp_key,
    }
    found = []
    status = MIRROR_VALUES[customer.credit_status]
    if account.credit_status_mirror != status:
        found.append(
            Drift(
                kind=DriftKind.CREDIT_STATUS_MISMATCH,
                message=(
                    f"The account shows credit status “{account.credit_status_mirror}”"
                    if account.credit_status_mirror
                    else "The account shows no credit status"
                )
                + f"; the ERP says “{status}”.",
                fix=Fix(
                    FixAction.MIRROR_CREDIT_STATUS,
                    f"Write the ERP's credit status (“{status}”) to the account "
                    "(Credit_Status__c).",
                    "mirrorCreditStatus",
                    {"customerId": ids.customer_id(customer.erp_key, None, None)},
                ),
                crm_value=account.credit_status_mirror,
                erp_value=status,
                **common,
            )
        )
    if (account.name or "") != (customer.name or ""):
        found.append(
            Drift(
                kind=DriftKind.NAME_MISMATCH,
                message=f"The ERP names the customer “{customer.name}”; the CRM, which owns "
                f"the name, “{account.name}”.",
                fix=_correct(customer, "company name", account.name),
                crm_value=account.name,
                erp_value=customer.name,
                **common,
            )
        )
    crm_street, erp_street = account.billing().street or "", customer.billing().street or ""
    if crm_street != erp_street:
        found.append(
            Drift(
                kind=DriftKind.BILLING_STREET_MISMATCH,
                message=f"The ERP bills to “{erp_street}”; the CRM, which owns the address, "
                f"says “{crm_street}”.",
                fix=_correct(customer, "billing street", crm_street),
                crm_value=crm_street,
                erp_value=erp_street,
                **common,
            )
        )
    return found


def _correct(customer: ErpCustomer, what: str, value: str | None) -> Fix:
    return Fix(
        FixAction.CORRECT_ERP_CUSTOMER,
        f"Set ERP customer {customer.erp_id}'s {what} to “{value or ''}” (the CRM's value).",
    )


def _deal_drift(snapshot: Snapshot, accounts: dict[str, CrmAccount]) -> list[Drift]:
    orders: dict[str, list[ErpOrder]] = defaultdict(list)
    for order in snapshot.orders:
        named = opportunity_named(order.external_id)
        if named is not None:
            orders[named].append(order)
    won = {opportunity.salesforce_id: opportunity for opportunity in snapshot.won}
    found = []
    for opportunity in snapshot.won:
        account = accounts.get(opportunity.account_id or "")
        booked = orders.get(opportunity.salesforce_id)
        if not booked:
            found.append(_unbooked(opportunity, account))
            continue
        order = booked[0]
        amount = opportunity.amount if opportunity.amount is not None else Decimal(0)
        if amount != order.total or opportunity.currency != order.currency:
            found.append(_amounts(opportunity, order, account))
    for opportunity_id, booked in orders.items():
        if opportunity_id in won or opportunity_id in snapshot.other_opportunities:
            continue
        found.extend(_orphan(opportunity_id, order) for order in booked)
    return found


def _unbooked(opportunity: CrmOpportunity, account: CrmAccount | None) -> Drift:
    named = (
        f" It names ERP order {opportunity.erp_order_number}, which the ERP does not have."
        if opportunity.erp_order_number
        else ""
    )
    return Drift(
        kind=DriftKind.ORDER_MISSING,
        subject=opportunity.salesforce_id,
        message=f"Opportunity “{opportunity.name}” is Closed Won "
        f"({_money(opportunity.amount, opportunity.currency)}) with no ERP sales order.{named}",
        fix=Fix(
            FixAction.BOOK_ORDER,
            "Book it: bookOrder posts the sales order (creating the ERP customer if need be) "
            "and writes the order back to the opportunity.",
            "bookOrder",
            {"opportunityId": opportunity.salesforce_id},
        ),
        salesforce_id=opportunity.account_id,
        key=account.erp_key if account else None,
        opportunity_id=opportunity.salesforce_id,
        crm_value=_money(opportunity.amount, opportunity.currency),
    )


def _amounts(opportunity: CrmOpportunity, order: ErpOrder, account: CrmAccount | None) -> Drift:
    crm = _money(opportunity.amount, opportunity.currency)
    erp = _money(order.total, order.currency)
    return Drift(
        kind=DriftKind.AMOUNT_MISMATCH,
        subject=opportunity.salesforce_id,
        message=f"Opportunity “{opportunity.name}” is worth {crm}; its ERP order "
        f"{order.number} totals {erp}.",
        fix=Fix(
            FixAction.ALIGN_AMOUNTS,
            f"Agree the amount with sales, then amend ERP order {order.number} or the "
            "opportunity's lines to it.",
        ),
        salesforce_id=opportunity.account_id,
        erp_id=order.customer_erp_id,
        key=account.erp_key if account else None,
        opportunity_id=opportunity.salesforce_id,
        order_id=order.erp_id,
        order_number=order.number,
        crm_value=crm,
        erp_value=erp,
    )


def _orphan(opportunity_id: str, order: ErpOrder) -> Drift:
    return Drift(
        kind=DriftKind.OPPORTUNITY_MISSING,
        subject=order.erp_id,
        message=f"ERP order {order.number} ({_money(order.total, order.currency)}) was booked "
        f"from opportunity {opportunity_id}, which the CRM no longer has.",
        fix=Fix(
            FixAction.REVIEW_ORDER,
            f"Restore opportunity {opportunity_id} from the CRM's recycle bin, or, if the deal "
            f"is void, cancel ERP order {order.number}.",
        ),
        erp_id=order.customer_erp_id,
        opportunity_id=opportunity_id,
        order_id=order.erp_id,
        order_number=order.number,
        erp_value=_money(order.total, order.currency),
    )


def _money(amount: Decimal | None, currency: str | None) -> str:
    if amount is None:
        return "no amount"
    return f"{to_currency(amount, currency)} {currency or ''}".strip()
