"""simple-salesforce itself, unwrapped, against the Salesforce emulator over HTTPS.

Logins by SOAP (routed from login.salesforce.com to the emulator by a transport adapter) and
by session id; reads checked against the world the sandbox was seeded from; writes on records
the tests create themselves (the shared sandbox's seeded data stays as the world says); and
each simple-salesforce exception raised by the condition that causes it on the real service.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import requests
from simple_salesforce.api import Salesforce, SFType
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from sandbox.clock import parse_instant
from sandbox.endpoints import Endpoints
from sandbox.process import SandboxProcess
from sandbox.salesforce.client import emulator_session
from sandbox.world import World, build_world
from tests.conftest import SEED, SandboxControl

BIG_WORLD_CUSTOMERS = 600  # about 2,900 opportunity line items: more than one query page


@pytest.fixture
def session(sandbox: Endpoints) -> Iterator[requests.Session]:
    """HTTP for simple-salesforce: the emulator's CA, logins routed to the emulator."""
    endpoint = sandbox.salesforce
    http = emulator_session(endpoint.instance_url, endpoint.ca_file)
    yield http
    http.close()  # an idle TLS connection left open would hold up the sandbox's shutdown


@pytest.fixture
def sf(sandbox: Endpoints, session: requests.Session) -> Salesforce:
    """A client on the endpoints file's session id (no login call)."""
    endpoint = sandbox.salesforce
    return Salesforce(
        session_id=endpoint.session_id, instance_url=endpoint.instance_url, session=session
    )


def sobject(sf: Salesforce, name: str) -> SFType:
    """``sf.<name>``, the client's handle on one object type, typed."""
    handle = getattr(sf, name)
    assert isinstance(handle, SFType)
    return handle


def content(error: SalesforceError) -> Any:
    """The decoded error body simple-salesforce keeps on its exceptions."""
    return error.content


def trust(ca_file: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file)


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:10]}"


# --- logins ----------------------------------------------------------------------------------


def test_soap_login_with_password_and_token_reaches_the_emulator(
    sandbox: Endpoints, session: requests.Session
) -> None:
    endpoint = sandbox.salesforce

    sf = Salesforce(
        username=endpoint.username,
        password=endpoint.password,
        security_token=endpoint.security_token,
        session=session,
    )

    assert sf.sf_instance == endpoint.instance_url.removeprefix("https://")
    assert sf.session_id.startswith("00D")
    assert "!" in sf.session_id
    assert sf.session_id != endpoint.session_id
    assert sf.query("SELECT COUNT() FROM User")["totalSize"] >= 1


def test_soap_login_with_a_wrong_password_fails_with_invalid_login(
    sandbox: Endpoints, session: requests.Session
) -> None:
    endpoint = sandbox.salesforce

    with pytest.raises(SalesforceAuthenticationFailed) as failed:
        Salesforce(
            username=endpoint.username,
            password="not-the-password",
            security_token=endpoint.security_token,
            session=session,
        )

    assert failed.value.code == "INVALID_LOGIN"
    assert failed.value.auth_message == (
        "Invalid username, password, security token; or user locked out."
    )


def test_an_expired_soap_session_is_renewed_by_the_client_logging_in_again(
    sandbox: Endpoints, session: requests.Session, sf_control: SandboxControl
) -> None:
    endpoint = sandbox.salesforce
    sf = Salesforce(
        username=endpoint.username,
        password=endpoint.password,
        security_token=endpoint.security_token,
        session=session,
    )
    first_session = sf.session_id
    control = httpx.post(
        f"{endpoint.instance_url}/__sandbox__/salesforce/sessions",
        json={"expire": first_session},
        verify=trust(endpoint.ca_file),
    )
    assert control.json() == {"expired": 1}
    sf_control.reset()

    result = sf.query("SELECT Id FROM Pricebook2")

    assert result["totalSize"] == 1
    assert sf.session_id != first_session
    assert sf_control.count("POST /services/Soap/u/59.0") == 1  # the re-login
    assert sf_control.count("GET /services/data/v59.0/query") == 2  # the 401, then the retry


def test_a_bad_session_id_raises_expired_session(
    sandbox: Endpoints, session: requests.Session
) -> None:
    endpoint = sandbox.salesforce
    sf = Salesforce(
        session_id="00D000000000000!bogus", instance_url=endpoint.instance_url, session=session
    )

    with pytest.raises(SalesforceExpiredSession) as expired:
        sf.query("SELECT Id FROM Account LIMIT 1")

    assert expired.value.status == 401
    assert content(expired.value) == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


# --- reads -----------------------------------------------------------------------------------


def test_get_returns_every_account_field_with_world_values(sf: Salesforce, world: World) -> None:
    customer = next(c for c in world.customers if c.sf_account_id and c.address.state)
    assert customer.sf_account_id is not None

    accounts = sobject(sf, "Account")
    account = accounts.get(customer.sf_account_id)

    assert account["attributes"] == {
        "type": "Account",
        "url": f"/services/data/v59.0/sobjects/Account/{customer.sf_account_id}",
    }
    assert account["Id"] == customer.sf_account_id
    assert account["Name"] == customer.name
    assert account["ERP_Customer_Id__c"] == customer.key
    assert account["Tax_Id__c"] == customer.tax_id
    assert account["BillingCountryCode"] == customer.address.country
    assert account["BillingStateCode"] == customer.address.state
    assert account["BillingAddress"]["street"] == customer.address.street
    assert account["CurrencyIsoCode"] == customer.currency
    assert account["IsDeleted"] is False
    assert account["CreatedDate"] == customer.created.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    assert accounts.api_usage["api-usage"].total == 5_000_000


def test_get_with_fields_and_a_fifteen_character_id(sf: Salesforce, world: World) -> None:
    customer = next(c for c in world.customers if c.sf_account_id)
    assert customer.sf_account_id is not None

    accounts = sobject(sf, "Account")

    account = accounts.get(customer.sf_account_id[:15], params={"fields": "name,Industry"})

    assert list(account) == ["attributes", "Name", "Industry"]
    assert (account["Name"], account["Industry"]) == (customer.name, customer.industry)


def test_get_by_custom_id_finds_the_account_of_an_erp_customer(
    sf: Salesforce, world: World
) -> None:
    customer = next(c for c in world.customers if c.sf_account_id and c.key)
    assert customer.key is not None

    account = sobject(sf, "Account").get_by_custom_id("ERP_Customer_Id__c", customer.key.lower())

    assert account["Id"] == customer.sf_account_id


def test_missing_record_raises_resource_not_found(sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound) as missing:
        sobject(sf, "Account").get("001000000000000AAA")

    assert content(missing.value) == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    ]


@pytest.fixture(scope="module")
def big_sandbox() -> Iterator[Endpoints]:
    """A sandbox of its own with a world big enough for more than one page of line items."""
    process = SandboxProcess(seed=SEED, customers=BIG_WORLD_CUSTOMERS)
    yield process.start()
    process.stop()


def test_query_all_follows_next_records_url_across_pages(big_sandbox: Endpoints) -> None:
    world = build_world(SEED, BIG_WORLD_CUSTOMERS, now=parse_instant(big_sandbox.sandbox.now))
    expected = {
        line_id for c in world.customers for opp in c.opportunities for line_id in opp.line_sf_ids
    }
    assert len(expected) > 2_000
    endpoint = big_sandbox.salesforce
    soql = "SELECT Id, Quantity, Opportunity.Name FROM OpportunityLineItem"

    with emulator_session(endpoint.instance_url, endpoint.ca_file) as http:
        sf = Salesforce(
            session_id=endpoint.session_id, instance_url=endpoint.instance_url, session=http
        )
        first = sf.query(soql)
        everything = sf.query_all(soql)

    assert first["done"] is False
    assert len(first["records"]) == 2_000
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-2000")
    assert everything["totalSize"] == len(expected)
    assert {r["Id"] for r in everything["records"]} == expected
    stats = httpx.get(
        f"{endpoint.instance_url}/__sandbox__/stats", verify=trust(endpoint.ca_file)
    ).json()["by_endpoint"]
    assert stats["GET /services/data/v59.0/query/{id}"] == 1


def test_describe_global_and_per_object(sf: Salesforce) -> None:
    described = sf.describe()
    assert described is not None
    names = {entry["name"] for entry in described["sobjects"]}
    account = sobject(sf, "Account").describe()

    assert {
        "Account",
        "Contact",
        "Opportunity",
        "OpportunityLineItem",
        "Order",
        "OrderItem",
        "Product2",
        "Pricebook2",
        "PricebookEntry",
        "User",
    } <= names
    fields = {f["name"]: f for f in account["fields"]}
    assert account["keyPrefix"] == "001"
    assert fields["ERP_Customer_Id__c"]["externalId"] is True
    assert fields["ERP_Customer_Id__c"]["unique"] is True
    assert fields["Name"]["nillable"] is False
    assert [v["value"] for v in fields["Credit_Status__c"]["picklistValues"]] == [
        "Good Standing",
        "Over Limit",
        "On Hold",
    ]
    assert fields["OwnerId"]["referenceTo"] == ["User"]
    assert fields["OwnerId"]["relationshipName"] == "Owner"
    assert {"Contacts", "Opportunities", "Orders"} <= {
        rel["relationshipName"] for rel in account["childRelationships"]
    }


# --- writes ----------------------------------------------------------------------------------


def test_create_update_and_delete_an_account(sf: Salesforce) -> None:
    name = unique("Client Test")

    created = sobject(sf, "Account").create({"Name": name, "BillingCountryCode": "DE"})
    updated = sobject(sf, "Account").update(created["id"], {"Phone": "+49 30 1234"})
    after_update = sobject(sf, "Account").get(created["id"])
    deleted = sobject(sf, "Account").delete(created["id"])

    assert created["success"] is True
    assert created["errors"] == []
    assert created["id"].startswith("001")
    assert len(created["id"]) == 18
    assert updated == 204
    assert after_update["Phone"] == "+49 30 1234"
    assert after_update["BillingCountry"] == "Germany"
    assert deleted == 204
    with pytest.raises(SalesforceResourceNotFound) as gone:
        sobject(sf, "Account").get(created["id"])
    assert content(gone.value)[0]["errorCode"] == "ENTITY_IS_DELETED"
    deleted_rows = sf.query_all(
        f"SELECT Id, IsDeleted FROM Account WHERE Id = '{created['id']}'", include_deleted=True
    )
    assert deleted_rows["records"][0]["IsDeleted"] is True


def test_upsert_creates_then_updates_by_external_id(sf: Salesforce) -> None:
    key = f"TEST-C{uuid.uuid4().hex[:8].upper()}"

    accounts = sobject(sf, "Account")

    first = accounts.upsert(
        f"ERP_Customer_Id__c/{key}", {"Name": unique("Upsert")}, raw_response=True
    )
    second = accounts.upsert(
        f"ERP_Customer_Id__c/{key}", {"Credit_Status__c": "On Hold"}, raw_response=True
    )

    assert first.status_code == 201
    assert first.json()["created"] is True
    assert second.status_code == 200
    assert second.json() == {
        "id": first.json()["id"],
        "success": True,
        "errors": [],
        "created": False,
    }
    assert accounts.get_by_custom_id("ERP_Customer_Id__c", key)["Credit_Status__c"] == "On Hold"


def test_upsert_on_a_value_two_opportunities_share_raises_more_than_one_record(
    sf: Salesforce, world: World
) -> None:
    account_id = sobject(sf, "Account").create({"Name": unique("Dup parent")})["id"]
    order_number = f"TEST-SO{uuid.uuid4().hex[:8].upper()}"
    opportunities = sobject(sf, "Opportunity")
    for _ in range(2):
        opportunities.create(
            {
                "AccountId": account_id,
                "Name": unique("Dup"),
                "StageName": "Prospecting",
                "CloseDate": "2030-01-31",
                "ERP_Order_Id__c": order_number,
            }
        )

    with pytest.raises(SalesforceMoreThanOneRecord) as several:
        opportunities.upsert(f"ERP_Order_Id__c/{order_number}", {"StageName": "Closed Won"})

    assert several.value.status == 300
    assert len(content(several.value)) == 2
    assert all(
        url.startswith("/services/data/v59.0/sobjects/Opportunity/006")
        for url in content(several.value)
    )


def test_composite_collection_creates_and_updates(sf: Salesforce) -> None:
    names = [unique("Batch") for _ in range(3)]

    created = sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "allOrNone": True,
            "records": [{"attributes": {"type": "Account"}, "Name": name} for name in names],
        },
    )
    assert created is not None
    updated = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Account"}, "Id": result["id"], "Industry": "Retail"}
                for result in created
            ],
        },
    )
    assert updated is not None

    assert [result["success"] for result in created] == [True, True, True]
    assert [result["id"] for result in updated] == [result["id"] for result in created]
    ids = ",".join(f"'{result['id']}'" for result in created)
    rows = sf.query(f"SELECT Name, Industry FROM Account WHERE Id IN ({ids}) ORDER BY Name")
    assert [(r["Name"], r["Industry"]) for r in rows["records"]] == [
        (name, "Retail") for name in sorted(names)
    ]


def test_line_items_roll_up_into_the_opportunity_amount(sf: Salesforce, world: World) -> None:
    account = sobject(sf, "Account").create(
        {"Name": unique("Roll parent"), "CurrencyIsoCode": "EUR"}
    )
    product = world.products[0]
    entry_id = world.pricebook_entry_ids[(product.sku, "EUR")]
    opportunities, lines = sobject(sf, "Opportunity"), sobject(sf, "OpportunityLineItem")
    opp = opportunities.create(
        {
            "AccountId": account["id"],
            "Name": unique("Roll"),
            "StageName": "Qualification",
            "CloseDate": "2031-06-30",
            "CurrencyIsoCode": "EUR",
        }
    )

    lines.create(
        {
            "OpportunityId": opp["id"],
            "PricebookEntryId": entry_id,
            "Quantity": 3,
            "UnitPrice": 100.5,
        }
    )
    lines.create(
        {"OpportunityId": opp["id"], "PricebookEntryId": entry_id, "Quantity": 1, "UnitPrice": 10}
    )
    result = opportunities.get(opp["id"])

    assert Decimal(str(result["Amount"])) == Decimal("311.50")
    assert result["HasOpportunityLineItem"] is True
    assert result["Pricebook2Id"] == world.pricebook_id
    assert result["Probability"] == 10
    assert result["IsClosed"] is False


# --- refusals --------------------------------------------------------------------------------


def test_malformed_query_raises_malformed_request(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as malformed:
        sf.query("SELECT Id FROM Account WHERE")

    assert malformed.value.status == 400
    assert content(malformed.value)[0]["errorCode"] == "MALFORMED_QUERY"


def test_spent_allowance_raises_refused_request(sandbox: Endpoints, sf: Salesforce) -> None:
    endpoint = sandbox.salesforce
    limits_url = f"{endpoint.instance_url}/__sandbox__/salesforce/limits"
    before = httpx.get(limits_url, verify=trust(endpoint.ca_file)).json()
    httpx.post(
        limits_url, json={"daily_api_limit": 10, "used": 10}, verify=trust(endpoint.ca_file)
    ).raise_for_status()
    try:
        with pytest.raises(SalesforceRefusedRequest) as refused:
            sf.query("SELECT Id FROM Account LIMIT 1")
    finally:
        httpx.post(
            limits_url,
            json={"daily_api_limit": before["daily_api_limit"], "used": before["used"]},
            verify=trust(endpoint.ca_file),
        )

    assert refused.value.status == 403
    assert content(refused.value) == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
