"""The SOAP partner API's ``login`` call: the request envelope and the answers.

Only ``login`` is served. Envelopes are parsed with ``xml.etree`` after refusing any DOCTYPE
or entity declaration (no entity expansion, no external fetches). A success is HTTP 200 with
``loginResponse/result`` in the partner namespace, unprefixed as Salesforce sends it (clients
read ``sessionId`` and ``serverUrl`` by their bare names); bad credentials are HTTP 500 with a
``soapenv:Fault`` whose ``sf:LoginFault`` detail carries ``sf:exceptionCode`` and
``sf:exceptionMessage``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import escape

from starlette.responses import Response

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
PARTNER = "urn:partner.soap.sforce.com"
MAX_ENVELOPE_BYTES = 1_000_000
INVALID_LOGIN = "Invalid username, password, security token; or user locked out."


class SoapFault(Exception):
    """A fault answered with HTTP 500: ``code`` is the faultcode (``soapenv:Client``,
    ``sf:INVALID_LOGIN``); ``exception_code`` is set for faults with an sf: detail."""

    def __init__(self, code: str, message: str, exception_code: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.exception_code = exception_code

    def response(self) -> Response:
        detail = ""
        if self.exception_code is not None:
            detail = (
                '<detail><sf:LoginFault xsi:type="sf:LoginFault">'
                f"<sf:exceptionCode>{escape(self.exception_code)}</sf:exceptionCode>"
                f"<sf:exceptionMessage>{escape(self.message)}</sf:exceptionMessage>"
                "</sf:LoginFault></detail>"
            )
            faultstring = f"{self.exception_code}: {self.message}"
        else:
            faultstring = self.message
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" '
            'xmlns:sf="urn:fault.partner.soap.sforce.com" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            "<soapenv:Body><soapenv:Fault>"
            f"<faultcode>{escape(self.code)}</faultcode>"
            f"<faultstring>{escape(faultstring)}</faultstring>"
            f"{detail}"
            "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
        )
        return _xml(body, 500)


def invalid_login() -> SoapFault:
    return SoapFault("sf:INVALID_LOGIN", INVALID_LOGIN, "INVALID_LOGIN")


@dataclass(frozen=True)
class LoginRequest:
    username: str
    password: str


def parse_login(body: bytes) -> LoginRequest:
    """The credentials of a ``login`` envelope; `SoapFault` for anything else."""
    if len(body) > MAX_ENVELOPE_BYTES:
        raise SoapFault("soapenv:Client", "Request envelope too large")
    lowered = body.lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        raise SoapFault("soapenv:Client", "DOCTYPE is disallowed in a SOAP request")
    if not body.strip():
        raise SoapFault("soapenv:Client", "Premature end of file.")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise SoapFault("soapenv:Client", f"Unable to parse the request: {exc}") from None
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise SoapFault("soapenv:VersionMismatch", "Wrong SOAP envelope namespace or element")
    envelope_body = root.find(f"{{{SOAP_ENV}}}Body")
    operation = next(iter(envelope_body), None) if envelope_body is not None else None
    if operation is None:
        raise SoapFault("soapenv:Client", "No operation in the SOAP body")
    if operation.tag != f"{{{PARTNER}}}login":
        raise SoapFault("soapenv:Client", f"No operation available for request {operation.tag}")
    username = operation.findtext(f"{{{PARTNER}}}username") or ""
    password = operation.findtext(f"{{{PARTNER}}}password") or ""
    return LoginRequest(username.strip(), password)


@dataclass(frozen=True)
class LoginResult:
    base_url: str
    version: str
    org_id: str
    org_name: str
    session_id: str
    session_seconds: int
    user_id: str
    username: str
    user_full_name: str
    user_email: str
    currency: str


def login_response(result: LoginResult) -> Response:
    org15 = result.org_id[:15]
    server = f"{result.base_url}/services/Soap/u/{result.version}/{org15}"
    metadata = f"{result.base_url}/services/Soap/m/{result.version}/{org15}"
    fields = [
        ("accessibilityMode", "false"),
        ("chatterExternal", "false"),
        ("currencySymbol", "$"),
        ("orgAttachmentFileSizeLimit", "5242880"),
        ("orgDefaultCurrencyIsoCode", result.currency),
        ("orgDefaultCurrencyLocale", "en_US"),
        ("orgDisallowHtmlAttachments", "false"),
        ("orgHasPersonAccounts", "false"),
        ("organizationId", result.org_id),
        ("organizationMultiCurrency", "true"),
        ("organizationName", result.org_name),
        ("profileId", "00e" + result.org_id[3:15] + "AAA"),
        ("roleId", None),
        ("sessionSecondsValid", str(result.session_seconds)),
        ("userDefaultCurrencyIsoCode", None),
        ("userEmail", result.user_email),
        ("userFullName", result.user_full_name),
        ("userId", result.user_id),
        ("userLanguage", "en_US"),
        ("userLocale", "en_US"),
        ("userName", result.username),
        ("userTimeZone", "America/Los_Angeles"),
        ("userType", "Standard"),
        ("userUiSkin", "Theme3"),
    ]
    info = "".join(
        f'<{name} xsi:nil="true"/>' if value is None else f"<{name}>{escape(value)}</{name}>"
        for name, value in fields
    )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns="{PARTNER}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><loginResponse><result>"
        f"<metadataServerUrl>{escape(metadata)}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired>"
        "<sandbox>false</sandbox>"
        f"<serverUrl>{escape(server)}</serverUrl>"
        f"<sessionId>{escape(result.session_id)}</sessionId>"
        f"<userId>{escape(result.user_id)}</userId>"
        f"<userInfo>{info}</userInfo>"
        "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )
    return _xml(body, 200)


def _xml(body: str, status: int) -> Response:
    return Response(body.encode("utf-8"), status, media_type="text/xml;charset=UTF-8")
