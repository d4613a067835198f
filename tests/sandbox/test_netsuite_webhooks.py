"""The NetSuite emulator posts record change notifications, signed, when records change.

The tests write through the record API (as any client would) to records they create, and
check what a receiver on a loopback port gets: the shape, the signature, the modification time
SuiteQL shows for the same record, and the retries.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from events.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, verify
from sandbox.endpoints import Endpoints
from tests.events.http_support import Received, Receiver, WebhookTargets, serve
from tests.sandbox.test_netsuite_support import NetSuiteHttp, new_customer

SECRET = "ns-webhook-secret"


@pytest.fixture
def targets(sandbox: Endpoints) -> Iterator[WebhookTargets]:
    registry = WebhookTargets(sandbox.netsuite.base_url, sandbox.netsuite.ca_file)
    yield registry
    registry.close()


def about(record_type: str, record_id: str) -> Callable[[Received], bool]:
    def accept(item: Received) -> bool:
        body = json.loads(item.body)
        return bool(body["recordType"] == record_type and body["recordId"] == record_id)

    return accept


def bodies(items: list[Received]) -> list[dict[str, Any]]:
    return [json.loads(item.body) for item in items]


def test_a_new_customer_arrives_as_a_signed_create_notification(
    ns: NetSuiteHttp, targets: WebhookTargets, receiver: tuple[Receiver, str]
) -> None:
    recorder, url = receiver
    targets.add(url, SECRET)

    customer = new_customer(ns, creditLimit=5000)

    [delivery] = recorder.wait_for(about("customer", customer))
    notice = json.loads(delivery.body)
    assert verify(delivery.headers[SIGNATURE_HEADER.lower()], delivery.body, SECRET)
    assert delivery.headers[EVENT_ID_HEADER.lower()] == notice["id"]
    assert notice["eventType"] == "create"
    assert notice["fields"]["creditLimit"] == 5000
    assert notice["fields"]["companyName"].startswith("Test ")
    assert "oldFields" not in notice


def test_an_edit_names_the_changed_fields_with_old_and_new_values(
    ns: NetSuiteHttp, targets: WebhookTargets, receiver: tuple[Receiver, str]
) -> None:
    recorder, url = receiver
    targets.add(url, SECRET)
    customer = new_customer(ns, creditLimit=5000)

    ns.patch(f"/customer/{customer}", {"creditLimit": 7500, "creditHoldOverride": {"id": "ON"}})

    found = bodies(recorder.wait_for(about("customer", customer), count=2))
    edit = next(notice for notice in found if notice["eventType"] == "edit")
    assert edit["fields"]["creditLimit"] == 7500
    assert edit["fields"]["creditHoldOverride"] == "ON"
    assert edit["oldFields"]["creditLimit"] == 5000
    assert edit["oldFields"]["creditHoldOverride"] == "AUTO"
    assert "lastModifiedDate" in edit["fields"]


def test_the_notification_carries_the_modification_time_suiteql_shows(
    ns: NetSuiteHttp, targets: WebhookTargets, receiver: tuple[Receiver, str]
) -> None:
    recorder, url = receiver
    targets.add(url, SECRET)
    customer = new_customer(ns)

    [notice] = bodies(recorder.wait_for(about("customer", customer)))
    [row] = ns.rows(
        'SELECT TO_CHAR(lastmodifieddate, \'YYYY-MM-DD"T"HH24:MI:SS.FF6"Z"\') AS modified, '
        "TO_CHAR(lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS seconds "
        f"FROM customer WHERE id = {customer}"
    )
    assert notice["lastModified"] == row["modified"]
    assert notice["lastModified"].replace("T", " ").startswith(row["seconds"])


def test_a_payment_is_notified_as_a_customerpayment_with_its_applications(
    ns: NetSuiteHttp, targets: WebhookTargets, receiver: tuple[Receiver, str]
) -> None:
    recorder, url = receiver
    targets.add(url, SECRET)
    customer = new_customer(ns)
    order = ns.create(
        "/salesOrder",
        {
            "entity": {"id": customer},
            "item": {"items": [{"item": {"id": "101"}, "quantity": 1, "rate": 1000}]},
        },
    )
    invoice = ns.create("/invoice", {"entity": {"id": customer}, "createdFrom": {"id": order}})

    payment = ns.create(
        "/customerPayment",
        {
            "customer": {"id": customer},
            "payment": 400,
            "apply": {"items": [{"doc": {"id": invoice}, "apply": True, "amount": 400}]},
        },
    )

    [notice] = bodies(recorder.wait_for(about("customerpayment", payment)))
    assert notice["eventType"] == "create"
    assert notice["fields"]["customer"] == customer
    assert notice["fields"]["payment"] == 400
    assert notice["fields"]["apply"][0]["doc"] == int(invoice)
    orders = bodies(recorder.wait_for(about("salesOrder", order), count=2))
    assert {o["eventType"] for o in orders} == {"create", "edit"}  # billed by the invoice
    assert recorder.wait_for(about("invoice", invoice))


def test_a_delete_lists_the_old_values(
    ns: NetSuiteHttp, targets: WebhookTargets, receiver: tuple[Receiver, str]
) -> None:
    recorder, url = receiver
    targets.add(url, SECRET)
    customer = new_customer(ns)

    assert ns.delete(f"/customer/{customer}").status_code == 204

    found = bodies(recorder.wait_for(about("customer", customer), count=2))
    deleted = next(notice for notice in found if notice["eventType"] == "delete")
    assert deleted["fields"] == {}
    assert deleted["oldFields"]["companyName"].startswith("Test ")


def test_a_failing_receiver_gets_the_notification_again(
    ns: NetSuiteHttp, targets: WebhookTargets
) -> None:
    flaky = Receiver(fail_first=1, fail_status=500)
    with serve(flaky.app) as base:
        targets.add(f"{base}/hook", SECRET)
        customer = new_customer(ns)
        attempts = flaky.wait_for(about("customer", customer), count=2)

    assert [item.status for item in attempts] == [500, 200]
    assert attempts[0].body == attempts[1].body
    assert all(
        verify(item.headers[SIGNATURE_HEADER.lower()], item.body, SECRET) for item in attempts
    )


def test_an_unreachable_target_does_not_hold_up_writes(
    ns: NetSuiteHttp, targets: WebhookTargets, receiver: tuple[Receiver, str]
) -> None:
    recorder, url = receiver
    targets.add("http://127.0.0.1:9/nobody-listens", SECRET)
    targets.add(url, SECRET)

    customers = [new_customer(ns) for _ in range(3)]

    for customer in customers:
        assert recorder.wait_for(about("customer", customer))
    assert targets.listing()["http://127.0.0.1:9/nobody-listens"]["delivered"] == 0


def test_the_control_api_lists_targets(
    targets: WebhookTargets, receiver: tuple[Receiver, str]
) -> None:
    _, url = receiver
    targets.add(url, SECRET)

    listing = targets.listing()

    assert listing[url]["enabled"] is True
    assert listing[url]["secrets"] == 1
    assert set(listing[url]) >= {"pending", "delivered", "retried", "rejected", "dropped"}
    assert targets.post({"url": url}).status_code == 200  # re-enabling keeps the secret
    assert targets.post({"url": "not a url", "secret": SECRET}).status_code == 400
