"""The record API v1 of the NetSuite emulator: reads checked against the seed world, and
every write operation (create, update, upsert, delete) with NetSuite's validation errors.

Writes go to records the tests create, except one test that edits a seeded customer and
restores it; reads of seeded records compare with `sandbox.world` directly.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from sandbox.world import Customer, World
from tests.sandbox.test_netsuite_support import (
    NetSuiteHttp,
    error_detail,
    location_id,
    new_customer,
    new_key,
)

SINGULAR = "application/vnd.oracle.resource+json; type=singular"
COLLECTION = "application/vnd.oracle.resource+json; type=collection"


def _erp_customers(world: World) -> list[Customer]:
    return [c for c in world.customers if c.ns_id is not None]


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


# --------------------------------------------------------------------------- reads


def test_a_customer_reads_as_the_world_has_it(ns: NetSuiteHttp, world: World) -> None:
    customer = next(c for c in _erp_customers(world) if c.invoices and c.tax_id)
    answer = ns.get(f"/customer/{customer.ns_id}")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == SINGULAR
    body = answer.json()
    assert body["links"] == [
        {"rel": "self", "href": f"{ns.base_url}/services/rest/record/v1/customer/{customer.ns_id}"}
    ]
    assert body["id"] == str(customer.ns_id)
    assert body["companyName"] == (customer.erp_name or customer.name)
    assert body["externalId"] == customer.key
    assert body["entityId"] == f"CUST{customer.ns_id}"
    assert body["vatRegNumber"] == customer.tax_id
    assert body["creditLimit"] == _number(customer.credit_limit)
    assert body["creditHoldOverride"]["id"] == customer.credit_hold
    assert body["subsidiary"]["id"] == str(customer.subsidiary.ns_id)
    assert body["subsidiary"]["refName"] == customer.subsidiary.name
    assert body["subsidiary"]["links"][0]["href"].endswith(
        f"/record/v1/subsidiary/{customer.subsidiary.ns_id}"
    )
    currency = next(c for c in world.currencies if c.code == customer.currency)
    assert body["currency"] == {
        "links": [
            {
                "rel": "self",
                "href": f"{ns.base_url}/services/rest/record/v1/currency/{currency.ns_id}",
            }
        ],
        "id": str(currency.ns_id),
        "refName": currency.name,
    }
    assert body["terms"]["refName"] == customer.terms.name
    assert body["balance"] == _number(customer.balance())
    assert body["overdueBalance"] == _number(customer.overdue_balance(world.as_of))
    assert body["isInactive"] is False
    assert body["addressBook"] == {
        "links": [
            {
                "rel": "self",
                "href": f"{ns.base_url}/services"
                f"/rest/record/v1/customer/{customer.ns_id}"
                "/addressBook",
            }
        ]
    }


def test_an_external_id_reads_the_same_record(ns: NetSuiteHttp, world: World) -> None:
    customer = _erp_customers(world)[3]

    by_id = ns.record(f"/customer/{customer.ns_id}")
    by_eid = ns.record(f"/customer/eid:{customer.key}")

    assert {k: v for k, v in by_eid.items() if k != "links"} == {
        k: v for k, v in by_id.items() if k != "links"
    }


def test_record_type_names_are_case_insensitive(ns: NetSuiteHttp, world: World) -> None:
    order = next(o for c in _erp_customers(world) for o in c.sales_orders)

    bodies = [
        ns.record(f"/{name}/{order.ns_id}")
        for name in ("salesOrder", "salesorder", "SALESORDER", "SalesOrder")
    ]

    assert {b["tranId"] for b in bodies} == {order.tran_id}


def test_expanded_sublists_carry_their_lines(ns: NetSuiteHttp, world: World) -> None:
    customer = next(c for c in _erp_customers(world) if c.erp_street)
    order = next(o for c in _erp_customers(world) for o in c.sales_orders if len(o.lines) > 1)

    body = ns.record(f"/customer/{customer.ns_id}", expandSubResources="true")
    so = ns.record(f"/salesOrder/{order.ns_id}", expandSubResources="true")

    (address,) = body["addressBook"]["items"]
    assert body["addressBook"]["totalResults"] == 1
    assert address["defaultBilling"] is True
    assert address["addressBookAddress"]["addr1"] == customer.erp_street
    assert address["addressBookAddress"]["city"] == customer.address.city
    assert address["addressBookAddress"]["zip"] == customer.address.postal_code
    assert address["addressBookAddress"]["country"]["id"] == customer.address.country
    lines = so["item"]["items"]
    assert so["item"]["totalResults"] == len(order.lines)
    assert [line["line"] for line in lines] == list(range(1, len(order.lines) + 1))
    assert [line["item"]["id"] for line in lines] == [
        str(ordered.product.ns_item_id) for ordered in order.lines
    ]
    assert [line["quantity"] for line in lines] == [ordered.quantity for ordered in order.lines]
    assert [line["amount"] for line in lines] == [_number(o.amount) for o in order.lines]
    assert so["total"] == _number(order.total)
    assert lines[0]["links"][0]["href"].endswith(f"/salesorder/{order.ns_id}/item/1")


def test_sales_order_status_shows_as_netsuite_names_it(ns: NetSuiteHttp, world: World) -> None:
    names = {"B": "Pending Fulfillment", "F": "Pending Billing", "G": "Billed"}
    orders = {o.status: o for c in _erp_customers(world) for o in c.sales_orders}

    for letter, order in orders.items():
        body = ns.record(f"/salesOrder/{order.ns_id}")
        assert body["status"] == {"id": names[letter], "refName": names[letter]}
        assert body["orderStatus"]["id"] == letter


def test_invoices_show_what_is_paid_and_left(ns: NetSuiteHttp, world: World) -> None:
    invoices = [i for c in _erp_customers(world) for i in c.invoices]
    partly = next(i for i in invoices if 0 < i.amount_paid < i.total)
    paid = next(i for i in invoices if i.amount_paid == i.total)

    open_body = ns.record(f"/invoice/{partly.ns_id}")
    paid_body = ns.record(f"/invoice/{paid.ns_id}")

    assert open_body["status"]["id"] == "Open"
    assert open_body["amountPaid"] == _number(partly.amount_paid)
    assert open_body["amountRemaining"] == _number(partly.amount_remaining)
    assert open_body["dueDate"] == partly.due_date.isoformat()
    assert partly.sales_order is not None
    assert open_body["createdFrom"]["id"] == str(partly.sales_order.ns_id)
    assert paid_body["status"]["id"] == "Paid In Full"
    assert paid_body["amountRemaining"] == 0


def test_payments_list_the_invoices_they_pay(ns: NetSuiteHttp, world: World) -> None:
    customer = next(c for c in _erp_customers(world) if c.payments)
    payment = customer.payments[0]

    body = ns.record(f"/customerPayment/{payment.ns_id}", expandSubResources="true")

    assert body["customer"]["id"] == str(customer.ns_id)
    assert body["payment"] == _number(payment.amount)
    assert body["applied"] == _number(payment.amount)
    assert body["unapplied"] == 0
    (line,) = body["apply"]["items"]
    assert line["doc"]["id"] == str(payment.applications[0].invoice.ns_id)
    assert line["apply"] is True
    assert line["amount"] == _number(payment.applications[0].amount)
    assert line["refNum"] == payment.applications[0].invoice.tran_id


def test_sublists_have_their_own_endpoints(ns: NetSuiteHttp, world: World) -> None:
    order = next(o for c in _erp_customers(world) for o in c.sales_orders if len(o.lines) > 1)

    sublist = ns.get(f"/salesOrder/{order.ns_id}/item")
    line = ns.get(f"/salesOrder/{order.ns_id}/item/2")
    missing = ns.get(f"/salesOrder/{order.ns_id}/item/99")

    assert sublist.status_code == 200
    assert sublist.headers["content-type"] == COLLECTION
    assert sublist.json()["totalResults"] == len(order.lines)
    assert line.json()["item"]["id"] == str(order.lines[1].product.ns_item_id)
    assert missing.status_code == 404


def test_fields_restricts_the_answer(ns: NetSuiteHttp, world: World) -> None:
    customer = _erp_customers(world)[0]

    body = ns.record(f"/customer/{customer.ns_id}", fields="companyName,balance")
    wrong = ns.get(f"/customer/{customer.ns_id}", fields="companyName,noSuchField")

    assert set(body) == {"links", "id", "companyName", "balance"}
    assert wrong.status_code == 400
    assert error_detail(wrong)["o:errorQueryParam"] == "fields"


def test_the_list_pages_through_every_record_with_links(ns: NetSuiteHttp, world: World) -> None:
    expected = sorted(c.ns_id for c in _erp_customers(world) if c.ns_id is not None)

    first = ns.get("/customer", limit="100")
    second = ns.get("/customer", limit="100", offset="100")

    assert first.headers["content-type"] == COLLECTION
    page = first.json()
    assert page["count"] == 100
    assert page["offset"] == 0
    assert page["hasMore"] is True
    assert page["totalResults"] >= len(expected)  # tests may have added customers since
    assert [item["id"] for item in page["items"]] == [str(i) for i in expected[:100]]
    assert set(page["items"][0]) == {"links", "id"}
    rels = {link["rel"]: link["href"] for link in page["links"]}
    assert set(rels) == {"next", "last", "self"}
    assert rels["next"].endswith("/services/rest/record/v1/customer?limit=100&offset=100")
    later = second.json()
    rels = {link["rel"]: link["href"] for link in later["links"]}
    assert {"first", "prev", "next", "last", "self"} <= set(rels)
    assert rels["prev"].endswith("limit=100&offset=0")
    seen: list[str] = []
    url: str | None = rels["first"]
    while url:
        body = ns.http.get(url).json()
        seen.extend(item["id"] for item in body["items"])
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
        assert (url is None) == (body["hasMore"] is False)
    assert seen[: len(expected)] == [str(i) for i in expected]


def test_the_default_page_is_a_thousand(ns: NetSuiteHttp) -> None:
    body = ns.record("/invoice")

    assert body["count"] == min(1000, body["totalResults"])


@pytest.mark.parametrize(
    "params", [{"limit": "1001"}, {"limit": "0"}, {"limit": "ten"}, {"offset": "-1"}]
)
def test_bad_paging_parameters_are_refused(ns: NetSuiteHttp, params: dict[str, str]) -> None:
    answer = ns.get("/customer", **params)

    assert answer.status_code == 400
    detail = error_detail(answer)
    assert detail["o:errorCode"] == "INVALID_PARAMETER"
    assert detail["o:errorQueryParam"] in params


def test_unknown_records_are_not_found(ns: NetSuiteHttp, world: World) -> None:
    invoice = next(i for c in _erp_customers(world) for i in c.invoices)

    missing = ns.get("/customer/99999999")
    missing_eid = ns.get("/customer/eid:NO-SUCH-CUSTOMER")
    no_type = ns.get("/notARecordType/1")
    wrong_type = ns.get(f"/salesOrder/{invoice.ns_id}")

    for answer in (missing, missing_eid):
        assert answer.status_code == 404
        assert error_detail(answer) == {
            "detail": "The record instance does not exist. Provide a valid record instance ID.",
            "o:errorCode": "NONEXISTENT_ID",
        }
    assert no_type.status_code == 404
    assert "Record type 'notARecordType' does not exist." in error_detail(no_type)["detail"]
    assert wrong_type.status_code == 400
    assert "Transaction type specified is incorrect" in error_detail(wrong_type)["detail"]


# --------------------------------------------------------------------------- writes


def test_create_answers_204_with_the_location_of_the_new_record(ns: NetSuiteHttp) -> None:
    answer = ns.post(
        "/customer",
        {
            "companyName": "Larkspur Analytics Inc.",
            "subsidiary": {"id": "1"},
            "email": "ap@larkspur.example",
            "externalId": f"TEST-{new_key()}",
            "creditLimit": 25000,
            "terms": {"id": "2"},
            "addressBook": {
                "items": [
                    {
                        "defaultBilling": True,
                        "addressBookAddress": {
                            "addr1": "1 Elm St",
                            "city": "Denver",
                            "state": "CO",
                            "zip": "80202",
                            "country": {"id": "US"},
                        },
                    }
                ]
            },
        },
    )

    assert answer.status_code == 204
    assert answer.content == b""
    assert answer.headers["Location"].startswith(f"{ns.base_url}/services/rest/record/v1/customer/")
    body = ns.record(f"/customer/{location_id(answer)}", expandSubResources="true")
    assert body["companyName"] == "Larkspur Analytics Inc."
    assert body["currency"]["refName"] == "US Dollar"  # the subsidiary's currency
    assert body["creditLimit"] == 25000
    assert body["balance"] == 0
    assert body["addressBook"]["items"][0]["addressBookAddress"]["city"] == "Denver"


def test_patch_leaves_absent_fields_and_clears_nulls(ns: NetSuiteHttp) -> None:
    customer = new_customer(ns, email="first@example.com", phone="+1 555 0100")

    answer = ns.patch(f"/customer/{customer}", {"email": None, "creditLimit": 1000})

    assert answer.status_code == 204
    assert location_id(answer) == customer
    body = ns.record(f"/customer/{customer}")
    assert "email" not in body
    assert body["phone"] == "+1 555 0100"
    assert body["creditLimit"] == 1000


def test_replace_swaps_a_whole_sublist(ns: NetSuiteHttp) -> None:
    customer = new_customer(ns)
    order = ns.create(
        "/salesOrder",
        {
            "entity": {"id": customer},
            "item": {
                "items": [
                    {"item": {"id": "101"}, "quantity": 1},
                    {"item": {"id": "102"}, "quantity": 5},
                ]
            },
        },
    )

    ns.patch(f"/salesOrder/{order}", {"item": {"items": [{"item": {"id": "106"}}]}})
    added = ns.record(f"/salesOrder/{order}", expandSubResources="true")
    ns.patch(
        f"/salesOrder/{order}",
        {"item": {"items": [{"item": {"id": "108"}, "rate": 10}]}},
        replace="item",
    )
    replaced = ns.record(f"/salesOrder/{order}", expandSubResources="true")

    assert [line["item"]["id"] for line in added["item"]["items"]] == ["101", "102", "106"]
    assert [line["item"]["id"] for line in replaced["item"]["items"]] == ["108"]
    assert replaced["total"] == 10


def test_put_by_external_id_creates_then_updates(ns: NetSuiteHttp) -> None:
    external = f"UPSERT-{new_key()}"

    created = ns.put(
        f"/customer/eid:{external}", {"companyName": "Upsert Ltd", "subsidiary": {"id": "2"}}
    )
    updated = ns.put(f"/customer/eid:{external}", {"companyName": "Upsert Renamed Ltd"})

    assert created.status_code == 204
    assert updated.status_code == 204
    assert location_id(created) == location_id(updated)
    body = ns.record(f"/customer/eid:{external}")
    assert body["id"] == location_id(created)
    assert body["companyName"] == "Upsert Renamed Ltd"
    assert body["currency"]["refName"] == "British pound"


def test_delete_removes_the_record(ns: NetSuiteHttp) -> None:
    customer = new_customer(ns)

    answer = ns.delete(f"/customer/{customer}")

    assert answer.status_code == 204
    assert ns.get(f"/customer/{customer}").status_code == 404


def test_a_customer_with_transactions_cannot_be_deleted(ns: NetSuiteHttp, world: World) -> None:
    customer = next(c for c in _erp_customers(world) if c.sales_orders)

    answer = ns.delete(f"/customer/{customer.ns_id}")

    assert answer.status_code == 400
    assert "dependent records" in error_detail(answer)["detail"]


def test_a_seeded_customer_can_be_edited_and_restored(ns: NetSuiteHttp, world: World) -> None:
    customer = random.Random(7).choice(_erp_customers(world))
    path = f"/customer/{customer.ns_id}"
    before = ns.record(path)

    try:
        ns.patch(path, {"phone": "+1 555 0199", "creditHoldOverride": {"id": "ON"}})
        changed = ns.record(path)
    finally:
        ns.patch(
            path,
            {
                "phone": before["phone"],
                "creditHoldOverride": {"id": before["creditHoldOverride"]["id"]},
            },
        )
    after = ns.record(path)

    assert changed["phone"] == "+1 555 0199"
    assert changed["creditHoldOverride"] == {"id": "ON", "refName": "On"}
    assert after["phone"] == before["phone"] == customer.phone
    assert after["creditHoldOverride"] == before["creditHoldOverride"]


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("path", "body", "code", "error_path"),
    [
        (
            "/customer",
            {"companyName": "X", "subsidiary": {"id": "1"}, "colour": "red"},
            "INVALID_CONTENT",
            "colour",
        ),
        (
            "/customer",
            {"companyName": "X", "subsidiary": {"id": "1"}, "balance": 5},
            "USER_ERROR",
            "balance",
        ),
        ("/customer", {"subsidiary": {"id": "1"}}, "USER_ERROR", "companyName"),
        (
            "/customer",
            {"companyName": "X", "subsidiary": {"id": "999"}},
            "INVALID_KEY_OR_REF",
            "subsidiary",
        ),
        (
            "/customer",
            {"companyName": "X", "subsidiary": {"id": "1"}, "currency": {"id": "2"}},
            "INVALID_KEY_OR_REF",
            "currency",
        ),
        (
            "/customer",
            {"companyName": "X", "subsidiary": {"id": "1"}, "creditLimit": "lots"},
            "INVALID_FLD_VALUE",
            "creditLimit",
        ),
        (
            "/customer",
            {"companyName": "X", "subsidiary": {"id": "1"}, "email": "not-an-email"},
            "INVALID_FLD_VALUE",
            "email",
        ),
        ("/salesOrder", {"item": {"items": [{"item": {"id": "101"}}]}}, "USER_ERROR", "entity"),
        (
            "/salesOrder",
            {"entity": {"id": "99999999"}, "item": {"items": [{"item": {"id": "101"}}]}},
            "INVALID_KEY_OR_REF",
            "entity",
        ),
        ("/salesOrder", {"entity": {"id": "1001"}, "item": {"items": []}}, "USER_ERROR", "item"),
        (
            "/salesOrder",
            {"entity": {"id": "1001"}, "item": {"items": [{"item": {"id": "5"}}]}},
            "INVALID_KEY_OR_REF",
            "item.items[0].item",
        ),
        (
            "/salesOrder",
            {
                "entity": {"id": "1001"},
                "item": {"items": [{"item": {"id": "101"}, "quantity": -2}]},
            },
            "INVALID_FLD_VALUE",
            "item.items[0].quantity",
        ),
        (
            "/salesOrder",
            {
                "entity": {"id": "1001"},
                "tranDate": "27/11/2026",
                "item": {"items": [{"item": {"id": "101"}}]},
            },
            "INVALID_FLD_VALUE",
            "tranDate",
        ),
    ],
)
def test_writes_are_validated_as_netsuite_does(
    ns: NetSuiteHttp, path: str, body: dict[str, Any], code: str, error_path: str
) -> None:
    answer = ns.post(path, body)

    assert answer.status_code == 400
    detail = error_detail(answer)
    assert detail["o:errorCode"] == code
    assert detail["o:errorPath"] == error_path


def test_a_transaction_must_use_the_customers_currency_and_subsidiary(
    ns: NetSuiteHttp, world: World
) -> None:
    customer = next(c for c in _erp_customers(world) if c.currency == "GBP")
    lines = {"items": [{"item": {"id": "101"}}]}

    usd = ns.post(
        "/salesOrder",
        {"entity": {"id": str(customer.ns_id)}, "currency": {"id": "1"}, "item": lines},
    )
    us_sub = ns.post(
        "/salesOrder",
        {"entity": {"id": str(customer.ns_id)}, "subsidiary": {"id": "1"}, "item": lines},
    )

    assert error_detail(usd)["o:errorPath"] == "currency"
    assert error_detail(us_sub)["o:errorPath"] == "subsidiary"
    assert {error_detail(usd)["o:errorCode"], error_detail(us_sub)["o:errorCode"]} == {
        "INVALID_KEY_OR_REF"
    }


@pytest.mark.parametrize(
    "content", [b"{not json", b"[1, 2]", b"", b'{"companyName": NaN}', b"[" * 100_000]
)
def test_bodies_that_are_not_a_json_object_are_refused(ns: NetSuiteHttp, content: bytes) -> None:
    answer = ns.http.post(
        "/services/rest/record/v1/customer",
        content=content,
        headers={"Content-Type": "application/json"},
    )

    assert answer.status_code == 400
    assert error_detail(answer)["o:errorCode"] == "INVALID_CONTENT"


def test_unknown_fields_pass_when_name_validation_is_relaxed(ns: NetSuiteHttp) -> None:
    answer = ns.http.post(
        "/services/rest/record/v1/customer",
        json={"companyName": "Relaxed Inc.", "subsidiary": {"id": "1"}, "colour": "red"},
        headers={"X-NetSuite-PropertyNameValidation": "Ignore"},
    )

    assert answer.status_code == 204


# --------------------------------------------------------------------------- idempotency


def test_a_create_repeated_with_its_idempotency_key_makes_one_record(ns: NetSuiteHttp) -> None:
    key = new_key()
    external = f"IDEM-{key}"
    body = {"companyName": "Once Only Inc.", "subsidiary": {"id": "1"}, "externalId": external}

    first = ns.post("/customer", body, key=key)
    again = ns.post("/customer", body, key=key)

    assert first.status_code == 204
    assert again.status_code == 400
    detail = error_detail(again)
    assert detail["o:errorCode"] == "IDEMPOTENCY_ERROR"
    assert detail["detail"].startswith("A request with the same idempotency key is already")
    assert again.json()["title"] == "Conflict"
    assert again.headers["Location"] == first.headers["Location"]
    assert ns.record(f"/customer/eid:{external}")["id"] == location_id(first)
    rows = ns.rows(f"SELECT id FROM customer WHERE externalid = '{external}'")
    assert [row["id"] for row in rows] == [location_id(first)]


def test_an_update_repeated_with_its_key_is_applied_once(ns: NetSuiteHttp) -> None:
    customer = new_customer(ns)
    key = new_key()

    first = ns.patch(f"/customer/{customer}", {"phone": "1"}, key=key)
    again = ns.patch(f"/customer/{customer}", {"phone": "2"}, key=key)

    assert first.status_code == 204
    assert again.status_code == 400
    assert ns.record(f"/customer/{customer}")["phone"] == "1"


def test_a_failed_write_does_not_use_up_its_key(ns: NetSuiteHttp) -> None:
    key = new_key()

    failed = ns.post("/customer", {"subsidiary": {"id": "1"}}, key=key)
    retried = ns.post(
        "/customer", {"companyName": "Retry Inc.", "subsidiary": {"id": "1"}}, key=key
    )

    assert failed.status_code == 400
    assert retried.status_code == 204


def test_an_idempotency_key_must_be_a_uuid(ns: NetSuiteHttp) -> None:
    answer = ns.post("/customer", {"companyName": "X", "subsidiary": {"id": "1"}}, key="not a uuid")

    assert answer.status_code == 400
    detail = error_detail(answer)
    assert detail["o:errorCode"] == "INVALID_HEADER"
    assert detail["o:errorHeader"] == "X-NetSuite-Idempotency-Key"


@pytest.mark.parametrize("key", ["²", "1²", "12345678901234567890123", "-1", "1.0", "%00"])
def test_odd_ids_are_not_found_and_never_crash(ns: NetSuiteHttp, key: str) -> None:
    answer = ns.get(f"/customer/{key}")
    listing = ns.get("/customer", limit=key)
    reference = ns.post(
        "/salesOrder", {"entity": {"id": key}, "item": {"items": [{"item": {"id": "101"}}]}}
    )

    assert answer.status_code == 404
    assert listing.status_code == 400
    assert reference.status_code == 400
    assert error_detail(reference)["o:errorPath"] == "entity"
