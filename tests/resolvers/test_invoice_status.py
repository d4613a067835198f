"""Invoice status at its edges, on the date Accord is told is today: due today is not yet
overdue, a day later it is (partly paid or not), and paid exactly is paid. The status of each
invoice and the list filtered by that status agree."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from api.auth import DEMO_KEYS
from sandbox.endpoints import Endpoints
from server import AppOptions
from tests.accord import AccordServer, Emulators

TODAY: list[dt.date] = [dt.date.today()]

QUERY = """query($id: ID!, $customer: ID!, $status: InvoiceStatus) {
  invoice(id: $id) { status dueDate amountPaid { amount } amountDue { amount } }
  invoices(first: 500, filter: {customerId: $customer, status: $status}) { nodes { id } }
}"""


@pytest.fixture(scope="module")
def dated(sandbox: Endpoints) -> Iterator[AccordServer]:
    """An Accord whose today is `TODAY[0]`, with no read cache between the dates."""
    options = AppOptions(api_keys=DEMO_KEYS, today=lambda: TODAY[0])
    with AccordServer(sandbox, options=options, cache=False) as server:
        yield server


def open_invoice(emulators: Emulators, paid: str) -> dict[str, Any]:
    """An open invoice with a due date whose amount paid matches ``paid`` (SuiteQL)."""
    rows = emulators.suiteql(
        "SELECT t.id, t.duedate, t.foreignamountpaid, t.foreignamountunpaid, c.externalid "
        "FROM transaction t INNER JOIN customer c ON c.id = t.entity "
        f"WHERE t.type = 'CustInvc' AND t.status = 'A' AND {paid} AND t.duedate IS NOT NULL "
        "AND c.externalid IS NOT NULL ORDER BY t.id"
    )
    assert rows, paid
    return rows[0]


def due(row: dict[str, Any]) -> dt.date:
    month, day, year = (int(part) for part in row["duedate"].split("/"))
    return dt.date(year, month, day)


def ask(server: AccordServer, row: dict[str, Any], status: str) -> tuple[str, bool]:
    """(the invoice's status, whether the list filtered by ``status`` holds it)."""
    body = server.graphql(
        QUERY,
        {"id": f"inv:{row['id']}", "customer": f"cus:{row['externalid']}", "status": status},
    )
    assert "errors" not in body, body
    listed = {node["id"] for node in body["data"]["invoices"]["nodes"]}
    return body["data"]["invoice"]["status"], f"inv:{row['id']}" in listed


@pytest.mark.parametrize(
    ("paid", "before"),
    [("t.foreignamountpaid = 0", "OPEN"), ("t.foreignamountpaid > 0", "PARTIALLY_PAID")],
)
def test_due_today_is_not_overdue_and_a_day_later_it_is(
    dated: AccordServer, emulators: Emulators, paid: str, before: str
) -> None:
    row = open_invoice(emulators, paid)

    # on its due date it is still open (partly paid or not)...
    TODAY[0] = due(row)
    assert ask(dated, row, before) == (before, True)
    assert ask(dated, row, "OVERDUE") == (before, False)

    # ...and overdue from the next day

    TODAY[0] = due(row) + dt.timedelta(days=1)
    assert ask(dated, row, "OVERDUE") == ("OVERDUE", True)
    assert ask(dated, row, before) == ("OVERDUE", False)


def test_paid_exactly_is_paid_whatever_the_date(dated: AccordServer, emulators: Emulators) -> None:
    row = emulators.suiteql(
        "SELECT t.id, t.duedate, t.foreigntotal, t.foreignamountpaid, c.externalid "
        "FROM transaction t INNER JOIN customer c ON c.id = t.entity "
        "WHERE t.type = 'CustInvc' AND t.status = 'B' AND c.externalid IS NOT NULL "
        "AND t.foreignamountpaid = t.foreigntotal ORDER BY t.id"
    )[0]
    TODAY[0] = due(row) + dt.timedelta(days=400)
    assert ask(dated, row, "PAID") == ("PAID", True)
    assert ask(dated, row, "OVERDUE") == ("PAID", False)
    body = dated.graphql(QUERY, {"id": f"inv:{row['id']}", "customer": f"cus:{row['externalid']}"})
    invoice = body["data"]["invoice"]
    assert Decimal(invoice["amountDue"]["amount"]) == 0
    assert Decimal(invoice["amountPaid"]["amount"]) == Decimal(row["foreigntotal"])
