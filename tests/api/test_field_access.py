"""Field access from the registry's classifications, end to end: each role reads what its rule
allows, masked or refused at the field's path otherwise, on every way in, after the cache;
upstream query text reaches ops only; introspection and GraphiQL as configured."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from graphql import GraphQLError

from api.auth import DEMO_KEYS
from api.exposure import Exposure
from api.pipeline import Introspection
from api.responses import format_error
from domain.ownership import Role
from resolvers.errors import SourceFieldError
from sandbox.endpoints import Endpoints
from server import AppOptions
from sources.errors import SourceError
from sources.salesforce import SalesforceCrm
from tests.accord import AccordServer, Emulators
from tests.api.ws_support import connect, run

CUSTOMER = """query($id: ID) { customer(id: $id) {
  id name phone taxId billingAddress { city } credit { status } orders(first: 1) { totalCount }
} }"""


@pytest.fixture(scope="module")
def customer_id(emulators: Emulators) -> str:
    """A customer with a phone number in the CRM and a tax id in the ERP."""
    rows = emulators.suiteql(
        "SELECT externalid, vatregnumber FROM customer WHERE externalid IS NOT NULL ORDER BY id"
    )
    keys = [row["externalid"] for row in rows if len(row.get("vatregnumber") or "") > 4]
    accounts = emulators.soql(
        "SELECT ERP_Customer_Id__c FROM Account WHERE Phone != null AND BillingCity != null"
    )
    with_phone = {account["ERP_Customer_Id__c"] for account in accounts}
    return f"cus:{next(key for key in keys if key in with_phone)}"


def forbidden(body: dict[str, Any]) -> dict[str, str]:
    """The FORBIDDEN_FIELD errors of an answer: path -> classification."""
    return {
        ".".join(map(str, error["path"])): error["extensions"]["classification"]
        for error in body.get("errors", [])
        if error["extensions"]["code"] == "FORBIDDEN_FIELD"
    }


def test_each_role_reads_what_its_rule_allows(accord: AccordServer, customer_id: str) -> None:
    answers = {
        key: accord.graphql(CUSTOMER, {"id": customer_id}, key=key)
        for key in ("demo-finance", "demo-sales", "demo-ops", "demo-analytics", None)
    }
    full = answers["demo-finance"]["data"]["customer"]

    # finance, sales and ops read everything, as the owners hold it
    assert "errors" not in answers["demo-finance"]
    assert full["phone"]
    assert full["taxId"]
    assert full["billingAddress"]["city"]
    for key in ("demo-sales", "demo-ops"):
        assert answers[key] == answers["demo-finance"]

    # analytics: a tax id shows its last four characters; PII and money are withheld
    analytics = answers["demo-analytics"]
    seen = analytics["data"]["customer"]
    assert seen["taxId"] == "•" * (len(full["taxId"]) - 4) + full["taxId"][-4:]
    assert (seen["phone"], seen["billingAddress"], seen["credit"]) == (None, None, None)
    assert (seen["name"], seen["orders"]) == (full["name"], full["orders"])
    assert forbidden(analytics) == {
        "customer.phone": "PII",
        "customer.billingAddress": "PII",
        "customer.credit": "CONFIDENTIAL",
    }

    # anonymous: public and internal data only
    anonymous = answers[None]
    seen = anonymous["data"]["customer"]
    assert (seen["id"], seen["name"], seen["orders"]) == (full["id"], full["name"], full["orders"])
    assert forbidden(anonymous) == {
        "customer.phone": "PII",
        "customer.billingAddress": "PII",
        "customer.taxId": "CONFIDENTIAL",
        "customer.credit": "CONFIDENTIAL",
    }
    assert "anonymous caller may not read Customer.taxId" in str(anonymous["errors"])


def test_what_one_role_read_into_the_cache_is_masked_for_the_next(
    accord: AccordServer, customer_id: str
) -> None:
    query = "query($id: ID) { customer(id: $id) { taxId phone } }"

    # Given the records cached by an analytics read, then a finance read, then analytics again
    first = accord.graphql(query, {"id": customer_id}, key="demo-analytics")
    finance = accord.graphql(query, {"id": customer_id}, key="demo-finance")
    again = accord.graphql(query, {"id": customer_id}, key="demo-analytics")

    # then each saw its own view of the same records
    tax_id = finance["data"]["customer"]["taxId"]
    assert not tax_id.startswith("•")
    assert finance["data"]["customer"]["phone"]
    assert first == again
    assert first["data"]["customer"] == {
        "taxId": "•" * (len(tax_id) - 4) + tax_id[-4:],
        "phone": None,
    }


async def test_the_rules_hold_over_the_websocket(accord: AccordServer, customer_id: str) -> None:
    socket = await connect(accord.url, "demo-analytics")
    try:
        answer = await run(socket, CUSTOMER, {"id": customer_id})
    finally:
        await socket.close()

    assert answer["type"] == "next"
    assert answer["payload"]["data"]["customer"]["phone"] is None
    assert forbidden(answer["payload"])["customer.phone"] == "PII"


def test_a_persisted_query_answers_each_role_by_its_own_rights(
    accord: AccordServer, customer_id: str
) -> None:
    document = f"query Shared{uuid.uuid4().hex}($id: ID) {{ customer(id: $id) {{ taxId }} }}"
    extensions = {
        "persistedQuery": {
            "version": 1,
            "sha256Hash": hashlib.sha256(document.encode()).hexdigest(),
        }
    }
    with accord.client() as client:
        registered = client.post(
            "/graphql",
            json={"query": document, "extensions": extensions, "variables": {"id": customer_id}},
            headers={"Authorization": "Bearer demo-finance"},
        ).json()
        by_hash = client.post(
            "/graphql",
            json={"extensions": extensions, "variables": {"id": customer_id}},
            headers={"Authorization": "Bearer demo-analytics"},
        ).json()

    tax_id = registered["data"]["customer"]["taxId"]
    assert by_hash["data"]["customer"]["taxId"] == "•" * (len(tax_id) - 4) + tax_id[-4:]


async def test_upstream_query_text_reaches_the_ops_role_only(crm: SalesforceCrm) -> None:
    # Given a real error of the Salesforce emulator quoting the SOQL it refused
    with pytest.raises(SourceError) as failed:
        await crm.query("SELECT Id, Secret__c FROM Account WHERE Secret__c = 'x'")
    field_error = SourceFieldError.from_source_error(failed.value)
    error = GraphQLError(
        field_error.message,
        path=["customer", "name"],
        extensions=field_error.extensions,
        original_error=field_error,
    )

    # when it is told to each role
    told = {role: format_error(error, reader=role)["message"] for role in (*Role, None)}

    # then only ops reads the query; everyone reads what went wrong
    assert "Secret__c" in told[Role.OPS]
    assert "SELECT" in told[Role.OPS]
    for role, message in told.items():
        assert message.startswith("salesforce"), message
        if role is not Role.OPS:
            assert "SELECT" not in message, (role, message)
            assert "[query text withheld]" in message


@pytest.fixture(scope="module")
def keeps_its_schema(sandbox: Endpoints) -> Iterator[AccordServer]:
    """Accord against real systems' defaults: introspection for callers with credentials
    only, no GraphiQL."""
    exposure = Exposure(introspection=Introspection.AUTHENTICATED, graphiql=False)
    with AccordServer(sandbox, options=AppOptions(api_keys=DEMO_KEYS, exposure=exposure)) as s:
        yield s


def test_introspection_is_for_callers_with_credentials_when_so_configured(
    keeps_its_schema: AccordServer,
) -> None:
    introspect = "{ __schema { queryType { name } } }"
    anonymous = keeps_its_schema.graphql(introspect, key=None)
    keyed = keeps_its_schema.graphql(introspect, key="demo-analytics")
    typename = keeps_its_schema.graphql("{ __typename }", key=None)
    typo = keeps_its_schema.graphql("{ customr { id } }", key=None)
    with keeps_its_schema.client() as client:
        page = client.get("/graphql", headers={"accept": "text/html"})

    assert anonymous["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
    assert keyed["data"] == {"__schema": {"queryType": {"name": "Query"}}}
    assert typename["data"] == {"__typename": "Query"}
    assert "Did you mean" not in typo["errors"][0]["message"]  # no schema through suggestions
    assert page.status_code == 404


def _schema_as_text(server: AccordServer, key: str | None) -> dict[str, Any]:
    """What ``key``'s holder gets of the schema as text: both SDL downloads, and federation's
    ``_service { sdl }``."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with server.client(headers=headers) as client:
        main = client.get("/graphql/schema.graphql")
        sub = client.get("/graphql/federation/schema.graphql")
        service = client.post("/graphql/federation", json={"query": "{ _service { sdl } }"})
    body = service.json()
    return {
        "downloads": (main.status_code, sub.status_code),
        "cache": (main.headers.get("cache-control"), sub.headers.get("cache-control")),
        "service": body["errors"][0]["extensions"]["code"]
        if "errors" in body
        else "type Query" in body["data"]["_service"]["sdl"],
    }


def test_the_schema_as_text_is_for_callers_with_credentials_when_introspection_is(
    keeps_its_schema: AccordServer,
) -> None:
    anonymous = _schema_as_text(keeps_its_schema, None)
    unknown = _schema_as_text(keeps_its_schema, "not-a-key-of-anyone-at-all")
    keyed = _schema_as_text(keeps_its_schema, "demo-analytics")

    assert anonymous["downloads"] == (401, 401)
    assert anonymous["service"] == "INTROSPECTION_DISABLED"
    assert unknown["downloads"] == (401, 401)
    assert keyed["downloads"] == (200, 200)
    assert keyed["cache"] == ("private, max-age=300", "private, max-age=300")
    assert keyed["service"] is True


def test_the_schema_as_text_is_not_published_when_introspection_is_off(
    sandbox: Endpoints,
) -> None:
    exposure = Exposure(introspection=Introspection.OFF, graphiql=False)
    with AccordServer(sandbox, options=AppOptions(api_keys=DEMO_KEYS, exposure=exposure)) as s:
        keyed = _schema_as_text(s, "demo-ops")

    assert keyed["downloads"] == (404, 404)
    assert keyed["service"] == "INTROSPECTION_DISABLED"


def test_the_sandbox_publishes_its_schema_as_text_to_anyone(accord: AccordServer) -> None:
    anonymous = _schema_as_text(accord, None)

    assert anonymous["downloads"] == (200, 200)
    assert anonymous["cache"] == ("public, max-age=300", "public, max-age=300")
    assert anonymous["service"] is True


def test_the_sandbox_shows_its_schema_to_anyone(accord: AccordServer) -> None:
    body = accord.graphql("{ __schema { queryType { name } } }", key=None)
    typo = accord.graphql("{ customr { id } }", key=None)
    with accord.client() as client:
        page = client.get("/graphql", headers={"accept": "text/html"})

    assert body["data"] == {"__schema": {"queryType": {"name": "Query"}}}
    assert "Did you mean" in typo["errors"][0]["message"]
    assert page.status_code == 200
