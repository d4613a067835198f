"""SuiteQL on the NetSuite emulator: the wire (Prefer, paging, links, value rendering), the
tables checked against the seed world, and hostile queries answered with NetSuite's 400.

Queries that compare with the world stick to seeded records (ids the world assigned), since
other tests add customers and transactions of their own.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sandbox.world import Customer, World
from tests.sandbox.test_netsuite_support import SUITEQL, NetSuiteHttp, error_detail

INVALID_QUERY = "Invalid search query. Detailed unprocessed description follows. "


def _erp(world: World) -> list[Customer]:
    return [c for c in world.customers if c.ns_id is not None]


def _last_world_customer(world: World) -> int:
    return max(c.ns_id for c in _erp(world) if c.ns_id is not None)


def _shown(value: Decimal) -> str:
    """A number as SuiteQL shows it: no trailing zeros, no leading zero before the point."""
    text = format(value.normalize(), "f")
    return text[1:] if text.startswith("0.") else text


def _date(value: dt.date) -> str:
    return f"{value.month}/{value.day}/{value.year}"


# --------------------------------------------------------------------------- wire


def test_suiteql_needs_prefer_transient(ns: NetSuiteHttp) -> None:
    answer = ns.http.post(SUITEQL, json={"q": "SELECT id FROM customer"})

    assert answer.status_code == 400
    detail = error_detail(answer)
    assert detail["o:errorCode"] == "INVALID_HEADER"
    assert detail["o:errorHeader"] == "Prefer"


def test_a_single_page_answer(ns: NetSuiteHttp, world: World) -> None:
    customer = _erp(world)[0]

    answer = ns.suiteql(f"SELECT id, companyname FROM customer WHERE id = {customer.ns_id}")

    assert answer.status_code == 200
    assert answer.json() == {
        "links": [{"rel": "self", "href": f"{ns.base_url}{SUITEQL}"}],
        "count": 1,
        "hasMore": False,
        "items": [
            {
                "links": [],
                "id": str(customer.ns_id),
                "companyname": customer.erp_name or customer.name,
            }
        ],
        "offset": 0,
        "totalResults": 1,
    }


def test_pages_follow_limit_and_offset_with_links(ns: NetSuiteHttp, world: World) -> None:
    expected = [str(c.ns_id) for c in _erp(world)]
    query = f"SELECT id FROM customer WHERE id <= {_last_world_customer(world)} ORDER BY id"

    first = ns.suiteql(query, limit="50").json()
    seen: list[str] = []
    page = first
    while True:
        seen.extend(item["id"] for item in page["items"])
        nxt = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
        if nxt is None:
            break
        answer = ns.http.post(nxt, json={"q": query}, headers={"Prefer": "transient"})
        page = answer.json()

    assert first["count"] == 50
    assert first["hasMore"] is True
    assert first["totalResults"] == len(expected)
    rels = {link["rel"]: link["href"] for link in first["links"]}
    assert rels["next"] == f"{ns.base_url}{SUITEQL}?limit=50&offset=50"
    last = (len(expected) - 1) // 50 * 50
    assert rels["last"] == f"{ns.base_url}{SUITEQL}?limit=50&offset={last}"
    assert page["hasMore"] is False
    assert page["offset"] == (len(expected) - 1) // 50 * 50
    assert seen == expected


@pytest.mark.parametrize("params", [{"limit": "1001"}, {"limit": "0"}, {"offset": "x"}])
def test_bad_paging_is_refused(ns: NetSuiteHttp, params: dict[str, str]) -> None:
    answer = ns.suiteql("SELECT id FROM customer", **params)

    assert answer.status_code == 400
    assert error_detail(answer)["o:errorCode"] == "INVALID_PARAMETER"


def test_values_are_rendered_as_netsuite_renders_them(ns: NetSuiteHttp, world: World) -> None:
    customer = next(c for c in _erp(world) if c.tax_id is None)

    (row,) = ns.rows(
        "SELECT ID, CompanyName AS Name, creditlimit, isinactive, datecreated, vatregnumber "
        f"FROM customer WHERE id = {customer.ns_id}"
    )

    assert row == {
        "links": [],
        "id": str(customer.ns_id),
        "name": customer.erp_name or customer.name,
        "creditlimit": _shown(customer.credit_limit),
        "isinactive": "F",
        "datecreated": _date(customer.created.date()),
    }  # vatregnumber is NULL: NetSuite leaves the column out


# --------------------------------------------------------------------------- tables


def test_invoices_of_some_customers(ns: NetSuiteHttp, world: World) -> None:
    chosen = [c for c in _erp(world) if c.invoices][:5]
    ids = ", ".join(str(c.ns_id) for c in chosen)

    rows = ns.rows(
        "SELECT t.id, t.tranid, t.entity, t.status, t.foreigntotal, t.duedate "
        f"FROM transaction t WHERE t.type = 'CustInvc' AND t.entity IN ({ids}) ORDER BY t.id"
    )

    expected: list[dict[str, object]] = sorted(
        (
            {
                "links": [],
                "id": str(i.ns_id),
                "tranid": i.tran_id,
                "entity": str(c.ns_id),
                "status": "A" if i.amount_remaining > 0 else "B",
                "foreigntotal": _shown(i.total),
                "duedate": _date(i.due_date),
            }
            for c in chosen
            for i in c.invoices
        ),
        key=lambda row: int(str(row["id"])),
    )
    assert rows == expected


def test_open_invoices_joined_to_their_customers(ns: NetSuiteHttp, world: World) -> None:
    last = _last_world_customer(world)

    rows = ns.rows(
        "SELECT c.externalid, t.tranid, t.foreignamountunpaid FROM customer c "
        "INNER JOIN transaction t ON t.entity = c.id "
        f"WHERE t.type = 'CustInvc' AND t.foreignamountunpaid > 0 AND c.id <= {last} "
        "ORDER BY t.tranid"
    )

    expected: list[dict[str, object]] = sorted(
        (
            {
                "links": [],
                "externalid": c.key,
                "tranid": i.tran_id,
                "foreignamountunpaid": _shown(i.amount_remaining),
            }
            for c in _erp(world)
            for i in c.invoices
            if i.amount_remaining > 0
        ),
        key=lambda row: str(row["tranid"]),
    )
    assert rows == expected


def test_customer_balances_match_the_world(ns: NetSuiteHttp, world: World) -> None:
    chosen = [c for c in _erp(world) if c.invoices][:20]
    ids = ", ".join(str(c.ns_id) for c in chosen)

    rows = ns.rows(
        f"SELECT id, balancesearch, overduebalancesearch FROM customer WHERE id IN ({ids})"
    )

    as_of = max(world.as_of, dt.datetime.now(dt.UTC).date())
    assert {r["id"]: (r["balancesearch"], r["overduebalancesearch"]) for r in rows} == {
        str(c.ns_id): (_shown(c.balance()), _shown(c.overdue_balance(as_of))) for c in chosen
    }


def test_order_lines_post_as_credits(ns: NetSuiteHttp, world: World) -> None:
    order = next(o for c in _erp(world) for o in c.sales_orders if len(o.lines) > 1)

    rows = ns.rows(
        "SELECT tl.id, tl.mainline, tl.item, tl.quantity, tl.rate, tl.foreignamount "
        f"FROM transactionline tl WHERE tl.transaction = {order.ns_id} ORDER BY tl.id"
    )

    main, *lines = rows
    assert main["mainline"] == "T"
    assert main["foreignamount"] == _shown(order.total)
    assert [(r["item"], r["quantity"], r["foreignamount"]) for r in lines] == [
        (str(o.product.ns_item_id), f"-{o.quantity}", f"-{_shown(o.amount)}") for o in order.lines
    ]
    assert all(r["mainline"] == "F" for r in lines)


def test_payment_links_match_the_world(ns: NetSuiteHttp, world: World) -> None:
    customer = next(c for c in _erp(world) if len(c.payments) > 1)
    ids = ", ".join(str(p.ns_id) for p in customer.payments)

    rows = ns.rows(
        "SELECT l.previousdoc, l.nextdoc, l.foreignamount, inv.tranid "
        "FROM NextTransactionLineLink l JOIN transaction inv ON inv.id = l.previousdoc "
        f"WHERE l.linktype = 'Payment' AND l.nextdoc IN ({ids}) ORDER BY l.nextdoc"
    )

    assert rows == [
        {
            "links": [],
            "previousdoc": str(a.invoice.ns_id),
            "nextdoc": str(p.ns_id),
            "foreignamount": _shown(a.amount),
            "tranid": a.invoice.tran_id,
        }
        for p in customer.payments
        for a in p.applications
    ]


def test_billing_addresses_through_the_address_book(ns: NetSuiteHttp, world: World) -> None:
    customer = next(c for c in _erp(world) if c.erp_street)

    (row,) = ns.rows(
        "SELECT c.id, a.addr1, a.city, a.country FROM customer c "
        "JOIN customeraddressbook ab ON ab.entity = c.id "
        "JOIN entityaddress a ON a.nkey = ab.addressbookaddress "
        f"WHERE ab.defaultbilling = 'T' AND c.id = {customer.ns_id}"
    )

    assert row == {
        "links": [],
        "id": str(customer.ns_id),
        "addr1": customer.erp_street,
        "city": customer.address.city,
        "country": customer.address.country,
    }


def test_reference_tables(ns: NetSuiteHttp, world: World) -> None:
    subsidiaries = ns.rows(
        "SELECT s.id, s.name, c.symbol FROM subsidiary s "
        "JOIN currency c ON c.id = s.currency ORDER BY s.id"
    )
    terms = ns.rows("SELECT id, name, daysuntilnetdue FROM term ORDER BY id")
    items = ns.rows("SELECT id, itemid FROM item ORDER BY id")

    assert [(r["name"], r["symbol"]) for r in subsidiaries] == [
        (s.name, s.currency) for s in world.subsidiaries
    ]
    assert [(r["name"], r["daysuntilnetdue"]) for r in terms] == [
        (t.name, str(t.days)) for t in world.terms
    ]
    assert [(r["id"], r["itemid"]) for r in items] == [
        (str(p.ns_item_id), p.sku) for p in world.products
    ]


def test_a_large_world_query_is_fast_enough_to_page(ns: NetSuiteHttp) -> None:
    answer = ns.suiteql(
        "SELECT t.id, t.tranid, c.companyname FROM transaction t "
        "JOIN customer c ON c.id = t.entity ORDER BY t.id",
        limit="1000",
    )

    assert answer.status_code == 200
    assert answer.json()["count"] == min(1000, answer.json()["totalResults"])


# --------------------------------------------------------------------------- bad queries


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("SELECT balance FROM customer", "Unknown identifier 'balance'"),
        ("SELECT subsidiary FROM transaction", "Unknown identifier 'subsidiary'"),
        ("SELECT id FROM nosuchtable", "Invalid search type: nosuchtable"),
        ("SELECT id FROM customer WHERE companyname = 'unbalanced", ""),
        ("SELECT id FROM customer WHERE companyname = 'x' OR '1'='1", ""),
        ("SELECT id FROM customer; DROP TABLE customer", ""),
        ("SELECT id FROM customer WHERE id = 1 UNION SELECT id FROM transaction", ""),
        ("SELEC id FROM customer", ""),
        ("SELECT id FROM customer WHERE " + "(" * 5000 + "id = 1" + ")" * 5000, ""),
        ("SELECT \x00 FROM customer", ""),
    ],
)
def test_bad_queries_get_netsuites_error(ns: NetSuiteHttp, query: str, fragment: str) -> None:
    answer = ns.suiteql(query)

    assert answer.status_code == 400
    detail = error_detail(answer)
    assert detail["o:errorCode"] == "INVALID_PARAMETER"
    assert detail["o:errorQueryParam"] == "q"
    assert detail["detail"].startswith(INVALID_QUERY)
    assert fragment in detail["detail"]


def test_values_cannot_inject_sql(ns: NetSuiteHttp, world: World) -> None:
    customer = _erp(world)[0]
    hostile = "x' OR 'a'='a"
    quoted = hostile.replace("'", "''")

    answer = ns.suiteql(f"SELECT id FROM customer WHERE companyname = '{quoted}'")
    name = ns.suiteql(
        "SELECT id FROM customer WHERE companyname = "
        f"'{(customer.erp_name or customer.name).replace(chr(39), chr(39) * 2)}'"
    )

    assert answer.status_code == 200
    assert answer.json()["totalResults"] == 0
    assert [item["id"] for item in name.json()["items"]] == [str(customer.ns_id)]


def test_a_ten_thousand_value_in_list_is_answered(ns: NetSuiteHttp, world: World) -> None:
    values = ", ".join(str(i) for i in range(1, 10_001))

    answer = ns.suiteql(
        f"SELECT id FROM customer WHERE id IN ({values}) AND id <= {_last_world_customer(world)}"
    )

    assert answer.status_code in (200, 400)
    if answer.status_code == 200:
        assert answer.json()["totalResults"] == len(_erp(world))
    else:
        assert error_detail(answer)["o:errorCode"] == "INVALID_PARAMETER"


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"q": 5}', b'{"query": "SELECT 1"}', b""])
def test_a_body_without_a_query_string_is_refused(ns: NetSuiteHttp, body: bytes) -> None:
    answer = ns.http.post(
        SUITEQL, content=body, headers={"Prefer": "transient", "Content-Type": "application/json"}
    )

    assert answer.status_code == 400
    assert error_detail(answer)["o:errorCode"] == "INVALID_CONTENT"


def test_an_empty_query_is_refused(ns: NetSuiteHttp) -> None:
    answer = ns.suiteql("   ")

    assert answer.status_code == 400
    assert error_detail(answer)["o:errorCode"] == "INVALID_PARAMETER"
