"""Accord's Tryton JSON-RPC client against a real trytond: login and context, exact values,
and every failure mapped into the source error tree.

The tests that write get a Tryton of their own (a copy of the session's prepared database,
started in seconds), so the seed tests keep reading the world untouched.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import pytest

from sandbox.endpoints import Endpoints, TrytonEndpoint
from sandbox.process import SandboxProcess
from sources.errors import (
    RecordNotFound,
    SourceAuthError,
    SourceConflict,
    SourceForbidden,
    SourceTimeout,
    SourceUnavailable,
    SourceValidationError,
    SourceWarning,
)
from sources.resilience import ResiliencePolicy
from sources.tryton.rpc import TrytonRpc
from tests.sandbox.tryton_support import rpc_for

pytestmark = pytest.mark.second_erp


@pytest.fixture(scope="module")
def tryton(tryton_sandbox: Endpoints) -> Iterator[TrytonEndpoint]:
    """A Tryton of this module's own, on a copy of the session's prepared world."""
    info = tryton_sandbox.sandbox
    process = SandboxProcess(seed=info.seed, customers=info.customers, erp="tryton")
    endpoints = process.start(timeout=900)
    yield endpoints.tryton
    process.stop()


@pytest.fixture
async def rpc(tryton: TrytonEndpoint) -> AsyncIterator[TrytonRpc]:
    client = rpc_for(tryton)
    yield client
    await client.close()


async def a_customer(rpc: TrytonRpc) -> dict[str, Any]:
    """A seeded customer with a credit limit, its company and its address."""
    await rpc.login()
    for company in rpc.context["companies"]:
        rows = await rpc.search_read(
            "party.party",
            [["code", "like", "CUST-%"]],
            ["code", "credit_limit_amount", "receivable", "addresses"],
            order=[("code", "ASC")],
            context={"company": company},
        )
        for row in rows:
            if row["credit_limit_amount"] is not None:
                return {**row, "company": company}
    raise AssertionError("no customer with a credit limit")


async def test_login_gives_the_integration_user_and_its_context(
    rpc: TrytonRpc, tryton: TrytonEndpoint
) -> None:
    # when the client logs in
    await rpc.login()

    # then it knows the user and the context Tryton gave it: every company, language en
    assert rpc.user_id is not None
    context = rpc.context
    assert context["company_filter"] == "all"
    assert len(context["companies"]) == 7
    assert context["company"] in context["companies"]
    assert context["language"] == "en"
    (user,) = await rpc.call("res.user", "read", [rpc.user_id], ["login"])
    assert user["login"] == tryton.user


async def test_money_and_dates_travel_exactly(rpc: TrytonRpc) -> None:
    # given a customer and a credit limit with cents that a float would not keep
    customer = await a_customer(rpc)
    limit = Decimal("123456789.07")
    in_company = {"company": customer["company"]}

    # when it is written and read back, and invoices are searched by date
    await rpc.call(
        "party.party", "write", [customer["id"]], {"credit_limit_amount": limit}, context=in_company
    )
    (row,) = await rpc.call(
        "party.party", "read", [customer["id"]], ["credit_limit_amount"], context=in_company
    )
    since = dt.date(2026, 1, 1)
    invoices = await rpc.search_read(
        "account.invoice", [["invoice_date", ">=", since]], ["invoice_date", "total_amount"]
    )

    # then the amount is the same Decimal and dates are dates
    assert row["credit_limit_amount"] == limit
    assert isinstance(row["credit_limit_amount"], Decimal)
    assert invoices
    assert all(isinstance(i["invoice_date"], dt.date) for i in invoices)
    assert all(i["invoice_date"] >= since for i in invoices)
    assert all(isinstance(i["total_amount"], Decimal) for i in invoices)


async def test_a_wrong_password_is_an_auth_error(tryton: TrytonEndpoint) -> None:
    client = rpc_for(tryton, password="not-the-password")
    try:
        with pytest.raises(SourceAuthError) as caught:
            await client.login()
    finally:
        await client.close()
    assert caught.value.status == 401
    assert caught.value.source == "tryton"
    assert "not-the-password" not in str(caught.value)


async def test_a_refused_session_from_elsewhere_is_replaced_by_a_login(
    tryton: TrytonEndpoint,
) -> None:
    # given a client handed a session the server never issued, and the password
    client = rpc_for(tryton, session="1:forged-token")
    try:
        # when it calls
        rows = await client.search_read("party.party", [["code", "=", "CUST-000001"]], ["code"])
        user_id = client.user_id
    finally:
        await client.close()

    # then the server refused the session (401) and the client logged in by itself
    assert rows == [{"id": rows[0]["id"], "code": "CUST-000001"}]
    assert user_id not in {None, 1}


async def test_a_refused_session_without_a_password_is_an_auth_error(
    tryton: TrytonEndpoint,
) -> None:
    client = rpc_for(tryton, password="", session="1:forged-token")
    try:
        with pytest.raises(SourceAuthError):
            await client.login()
    finally:
        await client.close()


async def test_an_invalid_write_is_a_validation_error_with_tryton_s_message(
    rpc: TrytonRpc,
) -> None:
    # when a party is created with a code another party has
    with pytest.raises(SourceValidationError) as caught:
        await rpc.create("party.party", [{"name": "Copycat Ltd", "code": "CUST-000001"}])

    # then Tryton's own words come back, for operators and the caller's error
    assert type(caught.value) is SourceValidationError
    assert caught.value.message == "The code on party must be unique."
    assert caught.value.upstream_code == "UserError"


async def test_writing_a_field_tryton_keeps_read_only_is_forbidden(rpc: TrytonRpc) -> None:
    (sale,) = await rpc.search_read("sale.sale", [], ["id"], limit=1)
    with pytest.raises(SourceForbidden) as caught:
        await rpc.call("sale.sale", "write", [sale["id"]], {"number": "SO999999"})
    assert 'field "Number"' in caught.value.message


async def test_reading_a_record_that_does_not_exist_is_not_found(rpc: TrytonRpc) -> None:
    with pytest.raises(RecordNotFound):
        await rpc.call("party.party", "read", [987654321], ["name"])


async def test_a_method_tryton_does_not_expose_is_forbidden(rpc: TrytonRpc) -> None:
    with pytest.raises(SourceForbidden) as caught:
        await rpc.call("party.party", "check_code", [1])
    assert caught.value.status == 403


async def test_a_sale_over_the_credit_limit_stops_with_a_warning_that_an_approval_lets_through(
    rpc: TrytonRpc,
) -> None:
    # given a quoted sale worth more than its customer's credit limit
    customer = await a_customer(rpc)
    in_company = {"company": customer["company"]}
    (product,) = await rpc.search_read(
        "product.product", [["code", "=", "ACC-PLAT"]], ["default_uom"]
    )
    over = customer["credit_limit_amount"] + Decimal(1000)
    (sale,) = await rpc.create(
        "sale.sale",
        [
            {
                "company": customer["company"],
                "party": customer["id"],
                "invoice_address": customer["addresses"][0],
                "shipment_address": customer["addresses"][0],
                "lines": [
                    (
                        "create",
                        [
                            {
                                "product": product["id"],
                                "unit": product["default_uom"],
                                "quantity": 1.0,
                                "unit_price": over,
                            }
                        ],
                    )
                ],
            }
        ],
        context=in_company,
    )
    await rpc.call("sale.sale", "quote", [sale], context=in_company)

    # when it is confirmed
    with pytest.raises(SourceWarning) as caught:
        await rpc.call("sale.sale", "confirm", [sale], context=in_company)

    # then Tryton names the warning, explains it, and confirmed nothing
    warning = caught.value
    assert warning.warning.endswith(".credit_limit_amount")
    assert "credit limit" in warning.message
    (state,) = await rpc.call("sale.sale", "read", [sale], ["state"], context=in_company)
    assert state["state"] == "quotation"

    # and once the warning is approved, the same call goes through
    await rpc.approve_warning(warning.warning)
    await rpc.call("sale.sale", "confirm", [sale], context=in_company)
    (state,) = await rpc.call("sale.sale", "read", [sale], ["state"], context=in_company)
    assert state["state"] in {"confirmed", "processing"}


async def test_a_write_over_a_newer_change_is_a_conflict(rpc: TrytonRpc) -> None:
    # given a party read with its timestamp, then changed by someone else
    customer = await a_customer(rpc)
    (read,) = await rpc.call("party.party", "read", [customer["id"]], ["_timestamp"])
    await asyncio.sleep(1.1)  # Tryton's timestamps have their own resolution
    await rpc.call("party.party", "write", [customer["id"]], {"name": "Renamed Elsewhere Ltd"})

    # when a write sends the timestamp it read
    stamp = {f"party.party,{customer['id']}": read["_timestamp"]}
    with pytest.raises(SourceConflict) as caught:
        await rpc.call(
            "party.party",
            "write",
            [customer["id"]],
            {"name": "Renamed Here Ltd"},
            context={"_timestamp": stamp},
        )

    # then it is refused as a conflict
    assert caught.value.upstream_code == "ConcurrencyException"


async def test_an_unreachable_server_is_unavailable(tryton: TrytonEndpoint) -> None:
    # given a loopback port nothing listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = rpc_for(tryton, url=f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(SourceUnavailable) as caught:
            await client.login()
    finally:
        await client.close()
    assert caught.value.retryable is True


async def test_a_server_that_does_not_answer_in_time_is_a_timeout(tryton: TrytonEndpoint) -> None:
    # given a server that accepts connections and never answers
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await asyncio.sleep(30)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = rpc_for(
        tryton,
        url=f"http://127.0.0.1:{port}",
        policy=ResiliencePolicy(timeout=0.5, max_attempts=1),
    )
    try:
        with pytest.raises(SourceTimeout):
            await client.login()
    finally:
        await client.close()
        server.close()


async def test_a_database_the_server_does_not_have_is_unavailable_for_good(
    tryton: TrytonEndpoint,
) -> None:
    client = rpc_for(tryton, database="no_such_database")
    try:
        with pytest.raises(SourceUnavailable) as caught:
            await client.login()
    finally:
        await client.close()
    assert caught.value.status == 404
    assert caught.value.retryable is False
