"""Paging: a cursor belongs to the list (and filters) that gave it, and the CRM-driven customer
list with an ERP filter walks every match once, at any page size."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sandbox.world import World
from tests.accord import AccordServer, Emulators


def end_cursor(accord: AccordServer, query: str) -> str:
    body = accord.graphql(query)
    assert "errors" not in body, body
    found: Any = body["data"]
    while "pageInfo" not in found:
        [found] = found.values()
    cursor: str = found["pageInfo"]["endCursor"]
    assert cursor
    return cursor


def refused_after(accord: AccordServer, query: str, cursor: str) -> None:
    body = accord.graphql(query.replace("AFTER", f'after: "{cursor}"'))
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "after"}, error
    assert "not a cursor of this list" in error["message"]


def test_a_cursor_is_refused_by_another_list(accord: AccordServer) -> None:
    invoices = end_cursor(accord, "{ invoices(first: 1) { pageInfo { endCursor } } }")
    customers = end_cursor(accord, "{ customers(first: 1) { pageInfo { endCursor } } }")

    refused_after(accord, "{ customers(first: 1, AFTER) { nodes { id } } }", invoices)
    refused_after(accord, "{ invoices(first: 1, AFTER) { nodes { id } } }", customers)


def test_a_cursor_is_refused_by_the_same_list_with_other_filters(accord: AccordServer) -> None:
    us = end_cursor(
        accord, '{ customers(first: 1, filter: {country: "US"}) { pageInfo { endCursor } } }'
    )
    unfiltered = end_cursor(accord, "{ invoices(first: 1) { pageInfo { endCursor } } }")

    refused_after(
        accord, '{ customers(first: 1, AFTER, filter: {country: "DE"}) { nodes { id } } }', us
    )
    refused_after(
        accord,
        "{ invoices(first: 1, AFTER, filter: {status: OVERDUE}) { nodes { id } } }",
        unfiltered,
    )


def test_a_customers_list_cursor_is_refused_by_its_other_lists(
    accord: AccordServer, world: World
) -> None:
    customer = next(c for c in world.customers if c.key and len(c.sales_orders) >= 2)
    lookup = f'customer(id: "cus:{customer.key}")'
    orders = end_cursor(
        accord, f"{{ {lookup} {{ orders(first: 1) {{ pageInfo {{ endCursor }} }} }} }}"
    )

    # a position in the orders is no position in the invoices, nor in the billed orders
    refused_after(
        accord, f"{{ {lookup} {{ invoices(first: 1, AFTER) {{ totalCount }} }} }}", orders
    )
    refused_after(
        accord,
        f"{{ {lookup} {{ orders(first: 1, AFTER, status: BILLED) {{ totalCount }} }} }}",
        orders,
    )


def credit_status(row: dict[str, Any]) -> str:
    if row["creditholdoverride"] == "ON":
        return "ON_HOLD"
    if (
        row["creditholdoverride"] == "AUTO"
        and "creditlimit" in row
        and Decimal(row.get("balancesearch", "0")) > Decimal(row["creditlimit"])
    ):
        return "OVER_LIMIT"
    return "GOOD_STANDING"


@pytest.mark.parametrize("page", [1, 2, 7])
def test_the_crm_driven_list_with_a_credit_filter_walks_every_match_once(
    accord: AccordServer, emulators: Emulators, page: int
) -> None:
    # Given what each owner holds: the CRM's US accounts and the ERP's credit standing
    keys = {
        row["ERP_Customer_Id__c"]
        for row in emulators.soql(
            "SELECT ERP_Customer_Id__c FROM Account "
            "WHERE BillingCountryCode = 'US' AND ERP_Customer_Id__c != null"
        )
    }
    standing = {
        row["externalid"]: credit_status(row)
        for row in emulators.suiteql(
            "SELECT externalid, creditlimit, balancesearch, creditholdoverride FROM customer "
            "WHERE externalid IS NOT NULL"
        )
    }
    expected = sorted(f"cus:{key}" for key in keys if standing.get(key) == "OVER_LIMIT")

    assert expected, "the sandbox should hold US customers over their limit"

    # When the list is walked page by page
    seen: list[str] = []
    after = None
    for _ in range(len(expected) + 2):
        extra = f', after: "{after}"' if after else ""
        body = accord.graphql(
            f'{{ customers(first: {page}{extra}, filter: {{country: "US", '
            "creditStatus: OVER_LIMIT}) { totalCount pageInfo { hasNextPage endCursor } "
            "nodes { id } } }"
        )
        assert "errors" not in body, body
        connection = body["data"]["customers"]
        assert len(connection["nodes"]) <= page
        seen.extend(node["id"] for node in connection["nodes"])
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    else:
        pytest.fail("the list did not end")

    # Then each match comes once, in key order, and the CRM tells no total
    assert seen == expected
    assert connection["totalCount"] is None
