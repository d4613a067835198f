"""Input that is wrong gets a clear error and nothing is posted: Decimals as plain ASCII
numbers, dates near today, text without control characters or bidirectional overrides, on
every way in."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest

from tests.accord import AccordServer
from tests.api.ws_support import connect, run
from tests.conftest import SandboxControl

PAY = """mutation($input: RecordPaymentInput!) { recordPayment(input: $input) {
  errors { code } payment { id } } }"""


def payment(**changes: Any) -> dict[str, Any]:
    return {
        "input": {
            "idempotencyKey": f"input-{uuid.uuid4()}",
            "customerId": "cus:CUST-000001",
            "amount": "100.00",
            "currency": "EUR",
            "applications": [{"invoiceId": "inv:1", "amount": "100.00"}],
            **changes,
        }
    }


def refused_untouched(
    body: dict[str, Any], sf_control: SandboxControl, ns_control: SandboxControl
) -> str:
    """The refusal's message, once it is clear nothing ran and nothing reached a system."""
    assert body.get("data") is None, body
    assert sf_control.stats()["total"] == ns_control.stats()["total"] == 0
    [error] = body["errors"]
    assert error["extensions"]["code"] in ("BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"), error
    message: str = error["message"]
    return message


@pytest.mark.parametrize(
    "amount",
    [
        "1_000.00",
        "１００.００",
        "+100.00",
        " 100.00",
        "100.00 ",
        "1e2",
        "100.",
        ".5",
        "NaN",
        "Infinity",
        "٣",
        "0x64",
        "1" * 41,
    ],
)
def test_a_decimal_is_plain_ascii_digits(
    accord: AccordServer, sf_control: SandboxControl, ns_control: SandboxControl, amount: str
) -> None:
    body = accord.graphql(PAY, payment(amount=amount), key="demo-finance")

    message = refused_untouched(body, sf_control, ns_control)
    assert "Decimal" in message or "decimal" in message


def test_a_decimal_written_in_the_document_is_read_as_strictly(
    accord: AccordServer, sf_control: SandboxControl, ns_control: SandboxControl
) -> None:
    document = (
        'mutation { recordPayment(input: {idempotencyKey: "k", customerId: "cus:X", '
        'amount: "+5", currency: EUR, applications: []}) { errors { code } } }'
    )
    body = accord.graphql(document, key="demo-finance")

    assert "not a plain decimal number" in refused_untouched(body, sf_control, ns_control)


@pytest.mark.parametrize(
    ("date", "reason"),
    [
        ("2999-01-01", "days from today"),
        ("1900-01-01", "days from today"),
        ("2026-02-30", "not a calendar date"),
        ("20260101", "YYYY-MM-DD"),
        ("２０２６-01-01", "YYYY-MM-DD"),
    ],
)
def test_a_date_is_iso_and_near_today(
    accord: AccordServer,
    sf_control: SandboxControl,
    ns_control: SandboxControl,
    date: str,
    reason: str,
) -> None:
    body = accord.graphql(PAY, payment(paymentDate=date), key="demo-finance")

    assert reason in refused_untouched(body, sf_control, ns_control)


def test_a_date_near_today_is_read(accord: AccordServer) -> None:
    today = dt.datetime.now(dt.UTC).date()
    body = accord.graphql(
        "query($d: Date) { invoices(first: 1, filter: {dueBefore: $d}) { totalCount } }",
        {"d": (today + dt.timedelta(days=30)).isoformat()},
    )

    assert "errors" not in body
    assert body["data"]["invoices"]["totalCount"] >= 0


@pytest.mark.parametrize(
    "memo",
    [
        "paid\u202eby wire",
        "tab\u2066isolate",
        "null\x00byte",
        "escape\x1b[31m",
        "bell\x07",
        "c1\x85",
    ],
)
def test_free_text_refuses_control_characters_and_bidi_overrides(
    accord: AccordServer, sf_control: SandboxControl, ns_control: SandboxControl, memo: str
) -> None:
    by_variable = accord.graphql(PAY, payment(memo=memo), key="demo-finance")
    literal = json.dumps(memo)  # \uXXXX escapes, as a GraphQL string literal has them
    by_literal = accord.graphql(
        f"{{ customers(first: 1, filter: {{nameContains: {literal}}}) {{ totalCount }} }}"
    )

    assert "control character" in refused_untouched(by_variable, sf_control, ns_control)
    assert "control character" in refused_untouched(by_literal, sf_control, ns_control)


def test_text_in_any_script_with_line_breaks_is_accepted(accord: AccordServer) -> None:
    body = accord.graphql(
        "query($n: String) { customers(first: 1, filter: {nameContains: $n}) { totalCount } }",
        {"n": "Müller & Søn — 東京\tشركة\n"},
    )

    assert "errors" not in body


async def test_the_same_rules_hold_over_the_websocket(
    accord: AccordServer, sf_control: SandboxControl, ns_control: SandboxControl
) -> None:
    socket = await connect(accord.url, "demo-finance")
    try:
        decimal = await run(socket, PAY, payment(amount="1_000"), operation="decimal")
        text = await run(socket, PAY, payment(memo="a\u202eb"), operation="text")
        date = await run(socket, PAY, payment(paymentDate="2999-01-01"), operation="date")
    finally:
        await socket.close()

    for answer in (decimal, text, date):
        assert answer["type"] == "error", answer
        assert answer["payload"][0]["extensions"]["code"] in (
            "BAD_USER_INPUT",
            "GRAPHQL_VALIDATION_FAILED",
        )
    assert sf_control.stats()["total"] == ns_control.stats()["total"] == 0
