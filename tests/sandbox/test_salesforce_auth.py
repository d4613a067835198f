"""Authentication, sessions, the API allowance and the service surface of the Salesforce
emulator, over HTTPS: OAuth grants, SOAP faults, the 401 body, Sforce-Limit-Info, API versions,
control actions and injected faults.
"""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Iterator

import httpx
import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed

from sandbox.endpoints import Endpoints, SalesforceEndpoint
from sandbox.salesforce.client import emulator_session
from tests.conftest import SandboxControl

API = "/services/data/v59.0"


@pytest.fixture(scope="module")
def endpoint(sandbox: Endpoints) -> SalesforceEndpoint:
    return sandbox.salesforce


@pytest.fixture(scope="module")
def web(endpoint: SalesforceEndpoint) -> Iterator[httpx.Client]:
    """An unauthenticated client of the emulator."""
    client = httpx.Client(
        base_url=endpoint.instance_url,
        timeout=30.0,
        verify=ssl.create_default_context(cafile=endpoint.ca_file),
    )
    yield client
    client.close()


@pytest.fixture
def session(endpoint: SalesforceEndpoint) -> Iterator[requests.Session]:
    """HTTP for simple-salesforce: the emulator's CA, logins routed to the emulator."""
    http = emulator_session(endpoint.instance_url, endpoint.ca_file)
    yield http
    http.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def oauth_password_form(endpoint: SalesforceEndpoint, **changes: str) -> dict[str, str]:
    form = {
        "grant_type": "password",
        "client_id": endpoint.client_id,
        "client_secret": endpoint.client_secret,
        "username": endpoint.username,
        "password": endpoint.password + endpoint.security_token,
    }
    form.update(changes)
    return form


# --- OAuth -----------------------------------------------------------------------------------


def test_password_grant_issues_a_working_bearer_token(
    web: httpx.Client, endpoint: SalesforceEndpoint
) -> None:
    response = web.post("/services/oauth2/token", data=oauth_password_form(endpoint))

    assert response.status_code == 200
    token = response.json()
    assert set(token) == {
        "access_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
        "signature",
    }
    assert token["token_type"] == "Bearer"
    assert token["instance_url"] == endpoint.instance_url
    assert token["id"].startswith(f"{endpoint.instance_url}/id/00D")
    assert web.get(f"{API}/limits/", headers=bearer(token["access_token"])).status_code == 200


@pytest.mark.parametrize(
    ("changes", "error", "description"),
    [
        ({"password": "wrong"}, "invalid_grant", "authentication failure"),
        ({"username": "someone@else.example"}, "invalid_grant", "authentication failure"),
        ({"client_id": "unknown-app"}, "invalid_client_id", "client identifier invalid"),
        ({"client_secret": "wrong"}, "invalid_client", "invalid client credentials"),
        (
            {"grant_type": "authorization_code"},
            "unsupported_grant_type",
            "grant type not supported",
        ),
    ],
)
def test_password_grant_refusals(
    web: httpx.Client,
    endpoint: SalesforceEndpoint,
    changes: dict[str, str],
    error: str,
    description: str,
) -> None:
    response = web.post("/services/oauth2/token", data=oauth_password_form(endpoint, **changes))

    assert response.status_code == 400
    assert response.json() == {"error": error, "error_description": description}


def test_client_credentials_grant_with_http_basic(
    web: httpx.Client, endpoint: SalesforceEndpoint
) -> None:
    response = web.post(
        "/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(endpoint.client_id, endpoint.client_secret),
    )
    refused = web.post(
        "/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(endpoint.client_id, "wrong"),
    )

    assert response.status_code == 200
    assert web.get(f"{API}/", headers=bearer(response.json()["access_token"])).status_code == 200
    assert refused.json()["error"] == "invalid_client"


def test_simple_salesforce_oauth_password_flow(
    endpoint: SalesforceEndpoint, session: requests.Session
) -> None:
    sf = Salesforce(
        username=endpoint.username,
        password=endpoint.password + endpoint.security_token,
        consumer_key=endpoint.client_id,
        consumer_secret=endpoint.client_secret,
        session=session,
    )

    assert sf.query("SELECT COUNT() FROM Pricebook2")["totalSize"] == 1


def test_simple_salesforce_jwt_bearer_flow(
    endpoint: SalesforceEndpoint, session: requests.Session
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()

    sf = Salesforce(
        username=endpoint.username, consumer_key=endpoint.client_id, privatekey=pem, session=session
    )
    with (
        pytest.raises(SalesforceAuthenticationFailed) as other_user,
        pytest.warns(UserWarning, match="self-authorize"),  # the client's hint for this error
    ):
        Salesforce(
            username="nobody@example.com",
            consumer_key=endpoint.client_id,
            privatekey=pem,
            session=session,
        )

    assert sf.query("SELECT COUNT() FROM Pricebook2")["totalSize"] == 1
    assert other_user.value.code == "invalid_grant"


def test_an_expired_jwt_assertion_is_refused(
    web: httpx.Client, endpoint: SalesforceEndpoint
) -> None:
    assertion = jwt.encode(
        {
            "iss": endpoint.client_id,
            "sub": endpoint.username,
            "aud": "https://login.salesforce.com",
            "exp": int((dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).timestamp()),
        },
        "an unregistered key the emulated org does not check",
        algorithm="HS256",
    )

    response = web.post(
        "/services/oauth2/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_revoked_token_no_longer_works(web: httpx.Client, endpoint: SalesforceEndpoint) -> None:
    token = web.post("/services/oauth2/token", data=oauth_password_form(endpoint)).json()[
        "access_token"
    ]

    revoked = web.post("/services/oauth2/revoke", data={"token": token})

    assert revoked.status_code == 200
    assert web.get(f"{API}/limits/", headers=bearer(token)).status_code == 401


# --- SOAP ------------------------------------------------------------------------------------

ENVELOPE = """<?xml version="1.0" encoding="utf-8" ?>
<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:urn="urn:partner.soap.sforce.com">
  <env:Body><urn:login><urn:username>{username}</urn:username>
  <urn:password>{password}</urn:password></urn:login></env:Body>
</env:Envelope>"""


def test_soap_login_answers_the_partner_login_result(
    web: httpx.Client, endpoint: SalesforceEndpoint
) -> None:
    body = ENVELOPE.format(
        username=endpoint.username, password=endpoint.password + endpoint.security_token
    )

    response = web.post(
        "/services/Soap/u/59.0",
        content=body,
        headers={"Content-Type": "text/xml", "SOAPAction": "login"},
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    text = response.text
    assert "<loginResponse><result><metadataServerUrl>" in text
    assert f"<serverUrl>{endpoint.instance_url}/services/Soap/u/59.0/00D" in text
    assert "<passwordExpired>false</passwordExpired>" in text
    assert f"<userName>{endpoint.username}</userName>" in text
    assert "<organizationMultiCurrency>true</organizationMultiCurrency>" in text


@pytest.mark.parametrize(
    ("body", "faultcode"),
    [
        (
            ENVELOPE.format(username="integration@accord.sandbox", password="nope"),
            "sf:INVALID_LOGIN",
        ),
        (
            '<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol">]>'
            '<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/">'
            "<env:Body>&lol;</env:Body></env:Envelope>",
            "soapenv:Client",
        ),
        ("<not-xml", "soapenv:Client"),
        (
            '<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body>'
            '<urn:query xmlns:urn="urn:partner.soap.sforce.com"/></env:Body></env:Envelope>',
            "soapenv:Client",
        ),
        ("<Envelope/>", "soapenv:VersionMismatch"),
    ],
)
def test_soap_faults_answer_500_with_a_fault_envelope(
    web: httpx.Client, body: str, faultcode: str
) -> None:
    response = web.post(
        "/services/Soap/u/59.0",
        content=body,
        headers={"Content-Type": "text/xml", "SOAPAction": "login"},
    )

    assert response.status_code == 500
    assert "<soapenv:Fault>" in response.text
    assert f"<faultcode>{faultcode}</faultcode>" in response.text


def test_invalid_login_fault_carries_the_login_fault_detail(web: httpx.Client) -> None:
    body = ENVELOPE.format(username="integration@accord.sandbox", password="nope")

    text = web.post("/services/Soap/u/59.0", content=body).text

    assert (
        "<sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode><sf:exceptionMessage>Invalid "
        "username, password, security token; or user locked out.</sf:exceptionMessage>"
    ) in text


# --- sessions and the allowance --------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer 00D000000000000!nope"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
)
def test_missing_or_unknown_session_is_401_with_a_json_list(
    web: httpx.Client, headers: dict[str, str]
) -> None:
    response = web.get(f"{API}/sobjects", headers=headers)

    assert response.status_code == 401
    assert response.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_every_rest_answer_reports_api_usage(
    web: httpx.Client, endpoint: SalesforceEndpoint
) -> None:
    first = web.get(f"{API}/limits/", headers=bearer(endpoint.session_id))
    second = web.get(f"{API}/sobjects/Nope/describe", headers=bearer(endpoint.session_id))

    used_first, limit = map(
        int, first.headers["Sforce-Limit-Info"].removeprefix("api-usage=").split("/")
    )
    used_second = int(second.headers["Sforce-Limit-Info"].removeprefix("api-usage=").split("/")[0])
    assert limit == 5_000_000
    assert used_second == used_first + 1
    assert first.json()["DailyApiRequests"] == {"Max": limit, "Remaining": limit - used_first}


def test_allowance_control_validates_its_input(web: httpx.Client) -> None:
    bad = web.post("/__sandbox__/salesforce/limits", json={"used": -1})
    unknown = web.post("/__sandbox__/salesforce/limits", json={"colour": 1})
    current = web.get("/__sandbox__/salesforce/limits")

    assert bad.status_code == 400
    assert unknown.status_code == 400
    assert set(current.json()) == {"daily_api_limit", "used", "remaining"}


# --- the service surface ---------------------------------------------------------------------


def test_versions_list_needs_no_session(web: httpx.Client) -> None:
    versions = web.get("/services/data/").json()

    assert versions[0] == {"label": "Summer '14", "url": "/services/data/v31.0", "version": "31.0"}
    assert versions[-1] == {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"}


@pytest.mark.parametrize("version", ["v30.0", "v60.0", "v59.1", "59.0", "vXX.0"])
def test_unknown_api_versions_are_not_found(
    web: httpx.Client, endpoint: SalesforceEndpoint, version: str
) -> None:
    response = web.get(f"/services/data/{version}/sobjects", headers=bearer(endpoint.session_id))

    assert response.status_code == 404
    assert response.json() == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    ]


def test_an_older_version_answers_with_its_own_urls(
    web: httpx.Client, endpoint: SalesforceEndpoint
) -> None:
    result = web.get(
        "/services/data/v52.0/query",
        params={"q": "SELECT Id FROM Pricebook2"},
        headers=bearer(endpoint.session_id),
    ).json()

    assert result["records"][0]["attributes"]["url"].startswith("/services/data/v52.0/")


def test_sobject_basic_info_lists_recent_items(
    web: httpx.Client, endpoint: SalesforceEndpoint
) -> None:
    info = web.get(f"{API}/sobjects/Product2", headers=bearer(endpoint.session_id)).json()

    assert info["objectDescribe"]["keyPrefix"] == "01t"
    assert 1 <= len(info["recentItems"]) <= 5
    assert set(info["recentItems"][0]) == {"attributes", "Id", "Name"}


def test_stats_count_requests_by_normalised_endpoint(
    web: httpx.Client, endpoint: SalesforceEndpoint, sf_control: SandboxControl
) -> None:
    headers = bearer(endpoint.session_id)
    web.get(f"{API}/sobjects/Account/0015g0000004EClAAM", headers=headers)
    web.get(f"{API}/sobjects/Account/0015g0000004GGUAA2/", headers=headers)
    web.get(f"{API}/sobjects/Account/ERP_Customer_Id__c/CUST-000001", headers=headers)
    web.get(f"{API}/query/", params={"q": "SELECT Id FROM User"}, headers=headers)

    stats = sf_control.stats()

    assert stats["by_endpoint"] == {
        "GET /services/data/v59.0/sobjects/Account/{id}": 2,
        "GET /services/data/v59.0/sobjects/Account/ERP_Customer_Id__c/{id}": 1,
        "GET /services/data/v59.0/query": 1,
    }
    assert stats["total"] == 4


def test_injected_faults_answer_in_salesforce_shape(
    web: httpx.Client, endpoint: SalesforceEndpoint, sf_control: SandboxControl
) -> None:
    sf_control.fault(pattern="/services/data/v59.0/limits*", error_rate=1.0, error_status=503)

    failed = web.get(f"{API}/limits/", headers=bearer(endpoint.session_id))
    other = web.get(f"{API}/sobjects/Pricebook2/describe", headers=bearer(endpoint.session_id))

    assert failed.status_code == 503
    assert failed.json()[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert other.status_code == 200
