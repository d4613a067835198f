"""Money moving through the NetSuite emulator: orders billed by invoices, invoices paid by
payments, and the balances that follow, seen through the record API and SuiteQL alike.

Every test works on a customer it creates, so the seeded world stays as it was.
"""

from __future__ import annotations

from tests.sandbox.test_netsuite_support import NetSuiteHttp, error_detail, new_customer


def _billed_order(ns: NetSuiteHttp, customer: str, **invoice: object) -> tuple[str, str]:
    """A sales order of 2 x 1000 + 4 x 250 = 3000 and the invoice billing it."""
    order = ns.create(
        "/salesOrder",
        {
            "entity": {"id": customer},
            "item": {
                "items": [
                    {"item": {"id": "101"}, "quantity": 2, "rate": 1000},
                    {"item": {"id": "102"}, "quantity": 4, "rate": 250},
                ]
            },
        },
    )
    bill = ns.create(
        "/invoice", {"entity": {"id": customer}, "createdFrom": {"id": order}, **invoice}
    )
    return order, bill


def _pay(ns: NetSuiteHttp, customer: str, invoice: str, amount: float) -> str:
    return ns.create(
        "/customerPayment",
        {
            "customer": {"id": customer},
            "payment": amount,
            "apply": {"items": [{"doc": {"id": invoice}, "apply": True, "amount": amount}]},
        },
    )


def test_billing_an_order_moves_it_from_unbilled_to_the_balance(ns: NetSuiteHttp) -> None:
    customer = new_customer(ns)
    order = ns.create(
        "/salesOrder",
        {
            "entity": {"id": customer},
            "item": {"items": [{"item": {"id": "101"}, "quantity": 3, "rate": 1000}]},
        },
    )
    before = ns.record(f"/customer/{customer}")

    invoice = ns.create("/invoice", {"entity": {"id": customer}, "createdFrom": {"id": order}})

    after = ns.record(f"/customer/{customer}")
    bill = ns.record(f"/invoice/{invoice}", expandSubResources="true")
    assert (before["unbilledOrders"], before["balance"]) == (3000, 0)
    assert (after["unbilledOrders"], after["balance"]) == (0, 3000)
    assert bill["total"] == 3000
    assert bill["status"]["id"] == "Open"
    assert [line["item"]["id"] for line in bill["item"]["items"]] == ["101"]
    assert ns.record(f"/salesOrder/{order}")["orderStatus"]["id"] == "G"


def test_payments_reduce_the_invoice_and_the_customer_balance(ns: NetSuiteHttp) -> None:
    customer = new_customer(ns)
    _, invoice = _billed_order(ns, customer)

    first = _pay(ns, customer, invoice, 1200)
    partly = ns.record(f"/invoice/{invoice}")
    balance_partly = ns.record(f"/customer/{customer}")["balance"]
    _pay(ns, customer, invoice, 1800)
    paid = ns.record(f"/invoice/{invoice}")
    balance_paid = ns.record(f"/customer/{customer}")["balance"]

    assert (partly["amountPaid"], partly["amountRemaining"]) == (1200, 1800)
    assert partly["status"]["id"] == "Open"
    assert balance_partly == 1800
    assert (paid["amountPaid"], paid["amountRemaining"]) == (3000, 0)
    assert paid["status"] == {"id": "Paid In Full", "refName": "Paid In Full"}
    assert balance_paid == 0
    payment = ns.record(f"/customerPayment/{first}", expandSubResources="true")
    assert (payment["applied"], payment["unapplied"]) == (1200, 0)
    assert payment["apply"]["items"][0]["doc"]["id"] == invoice


def test_suiteql_sees_the_same_payments(ns: NetSuiteHttp) -> None:
    customer = new_customer(ns)
    _, invoice = _billed_order(ns, customer)
    payment = _pay(ns, customer, invoice, 500.5)

    (row,) = ns.rows(
        "SELECT t.id, t.status, t.foreigntotal, t.foreignamountpaid, t.foreignamountunpaid "
        f"FROM transaction t WHERE t.type = 'CustInvc' AND t.entity = {customer}"
    )
    (link,) = ns.rows(f"SELECT * FROM NextTransactionLineLink WHERE nextdoc = {payment}")
    (balance,) = ns.rows(
        f"SELECT balancesearch, unbilledorderssearch FROM customer WHERE id = {customer}"
    )

    assert row == {
        "links": [],
        "id": invoice,
        "status": "A",
        "foreigntotal": "3000",
        "foreignamountpaid": "500.5",
        "foreignamountunpaid": "2499.5",
    }
    assert (link["previousdoc"], link["previoustype"], link["linktype"]) == (
        invoice,
        "CustInvc",
        "Payment",
    )
    assert link["foreignamount"] == "500.5"
    assert balance == {"links": [], "balancesearch": "2499.5", "unbilledorderssearch": "0"}


def test_an_invoice_past_its_due_date_is_overdue(ns: NetSuiteHttp) -> None:
    customer = new_customer(ns)
    _billed_order(ns, customer, tranDate="2020-01-10", dueDate="2020-02-09")
    _billed_order(ns, customer)  # due in the future

    body = ns.record(f"/customer/{customer}")

    assert body["balance"] == 6000
    assert body["overdueBalance"] == 3000


def test_deleting_a_payment_reopens_the_invoice(ns: NetSuiteHttp) -> None:
    customer = new_customer(ns)
    _, invoice = _billed_order(ns, customer)
    payment = _pay(ns, customer, invoice, 3000)
    paid = ns.record(f"/invoice/{invoice}")["status"]["id"]

    assert ns.delete(f"/customerPayment/{payment}").status_code == 204

    assert paid == "Paid In Full"
    assert ns.record(f"/invoice/{invoice}")["status"]["id"] == "Open"
    assert ns.record(f"/customer/{customer}")["balance"] == 3000


def test_an_invoice_with_payments_cannot_be_deleted(ns: NetSuiteHttp) -> None:
    customer = new_customer(ns)
    _, invoice = _billed_order(ns, customer)
    _pay(ns, customer, invoice, 100)

    answer = ns.delete(f"/invoice/{invoice}")

    assert answer.status_code == 400
    assert ns.get(f"/invoice/{invoice}").status_code == 200


def test_a_payment_cannot_apply_more_than_is_left(ns: NetSuiteHttp) -> None:
    customer = new_customer(ns)
    _, invoice = _billed_order(ns, customer)
    _pay(ns, customer, invoice, 2500)

    answer = ns.post(
        "/customerPayment",
        {
            "customer": {"id": customer},
            "payment": 600,
            "apply": {"items": [{"doc": {"id": invoice}, "apply": True, "amount": 600}]},
        },
    )

    assert answer.status_code == 400
    detail = error_detail(answer)
    assert detail["o:errorCode"] == "INVALID_FLD_VALUE"
    assert detail["o:errorPath"] == "apply.items[0].amount"
    assert ns.record(f"/invoice/{invoice}")["amountRemaining"] == 500


def test_a_payment_cannot_apply_more_than_it_brings(ns: NetSuiteHttp) -> None:
    customer = new_customer(ns)
    _, invoice = _billed_order(ns, customer)

    answer = ns.post(
        "/customerPayment",
        {
            "customer": {"id": customer},
            "payment": 100,
            "apply": {"items": [{"doc": {"id": invoice}, "apply": True, "amount": 200}]},
        },
    )

    assert answer.status_code == 400
    assert error_detail(answer)["o:errorPath"] == "apply"


def test_a_payment_applies_only_to_its_customers_invoices(ns: NetSuiteHttp) -> None:
    payer, other = new_customer(ns), new_customer(ns)
    _, invoice = _billed_order(ns, other)

    answer = ns.post(
        "/customerPayment",
        {
            "customer": {"id": payer},
            "payment": 100,
            "apply": {"items": [{"doc": {"id": invoice}, "amount": 100}]},
        },
    )

    assert answer.status_code == 400
    detail = error_detail(answer)
    assert detail["o:errorCode"] == "INVALID_KEY_OR_REF"
    assert detail["o:errorPath"] == "apply.items[0].doc"


def test_a_payment_in_another_currency_is_refused(ns: NetSuiteHttp) -> None:
    customer = new_customer(ns, subsidiary={"id": "2"})  # Accord Demo Ltd: GBP
    _, invoice = _billed_order(ns, customer)

    answer = ns.post(
        "/customerPayment",
        {
            "customer": {"id": customer},
            "currency": {"id": "1"},
            "payment": 100,
            "apply": {"items": [{"doc": {"id": invoice}, "amount": 100}]},
        },
    )

    assert answer.status_code == 400
    assert error_detail(answer)["o:errorPath"] == "currency"
    assert ns.record(f"/invoice/{invoice}")["amountPaid"] == 0


def test_unapplying_a_line_frees_the_invoice(ns: NetSuiteHttp) -> None:
    customer = new_customer(ns)
    _, invoice = _billed_order(ns, customer)
    payment = _pay(ns, customer, invoice, 700)

    ns.patch(
        f"/customerPayment/{payment}",
        {"apply": {"items": [{"doc": {"id": invoice}, "apply": False}]}},
    )

    body = ns.record(f"/customerPayment/{payment}")
    assert (body["applied"], body["unapplied"]) == (0, 700)
    assert ns.record(f"/invoice/{invoice}")["amountRemaining"] == 3000
