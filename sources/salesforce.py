"""The Salesforce adapter: the CRM behind an async interface in canonical terms.

It drives the real ``simple-salesforce`` client, which is synchronous, on a bounded thread
pool so the event loop never blocks; every call passes through the source's `Resilience`
(timeout, retries for idempotent calls, circuit breaker, concurrency limit). Vendor failures
become `sources.errors`. Long IN lists are split under the URI limit and every query page is
followed to the end.

Authentication (`SalesforceConfig.auth`):

- ``client_credentials``: OAuth 2.0 client credentials at ``token_url`` (the sandbox's mode);
- ``password``: SOAP login with username, password and security token at ``domain``;
- ``jwt``: the OAuth 2.0 JWT bearer flow with a connected app's private key;
- ``session``: a session id obtained elsewhere (it cannot be refreshed).

An expired session (401 ``INVALID_SESSION_ID``) is refreshed once and the call repeated.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, TypeVar

import requests
from simple_salesforce import exceptions as sfx
from simple_salesforce.api import Salesforce
from simple_salesforce.login import SalesforceLogin

from sources import sfid, soql
from sources.clock import SourceClock
from sources.errors import (
    FieldProblem,
    RecordNotFound,
    SourceAuthError,
    SourceConflict,
    SourceError,
    SourceForbidden,
    SourceProtocolError,
    SourceRateLimited,
    SourceTimeout,
    SourceUnavailable,
    SourceValidationError,
)
from sources.records import AccountFields, Address, CrmAccount, CrmOpportunity, Line
from sources.resilience import Resilience, ResiliencePolicy, ResilienceSnapshot

SOURCE = "salesforce"
T = TypeVar("T")

AuthMode = Literal["client_credentials", "password", "jwt", "session"]

ACCOUNT_FIELDS = (
    "Id",
    "Name",
    "AccountNumber",
    "Industry",
    "Owner.Name",
    "Phone",
    "Website",
    "BillingStreet",
    "BillingCity",
    "BillingState",
    "BillingPostalCode",
    "BillingCountryCode",
    "CurrencyIsoCode",
    "ERP_Customer_Id__c",
    "Credit_Status__c",
    "Tax_Id__c",
    "LastModifiedDate",
)
OPPORTUNITY_FIELDS = (
    "Id",
    "AccountId",
    "Name",
    "StageName",
    "CloseDate",
    "Amount",
    "CurrencyIsoCode",
    "IsClosed",
    "IsWon",
    "ERP_Order_Id__c",
    "ERP_Order_Status__c",
)
OPPORTUNITY_LINE_FIELDS = (
    "Id",
    "OpportunityId",
    "ProductCode",
    "Product2.Name",
    "Quantity",
    "UnitPrice",
    "TotalPrice",
)


@dataclass(frozen=True)
class SalesforceConfig:
    instance_url: str | None = None
    auth: AuthMode = "client_credentials"
    username: str | None = None
    password: str | None = None
    security_token: str | None = None
    domain: str = "login"
    session_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    token_url: str | None = None  # default: instance_url + /services/oauth2/token
    private_key_file: str | None = None
    ca_file: str | None = None
    api_version: str = "59.0"
    max_threads: int = 8
    max_query_uri: int = soql.MAX_QUERY_URI
    policy: ResiliencePolicy = field(default_factory=ResiliencePolicy)

    def __post_init__(self) -> None:
        required: dict[AuthMode, tuple[str, ...]] = {
            "client_credentials": ("instance_url", "client_id", "client_secret"),
            "password": ("username", "password", "security_token"),
            "jwt": ("username", "client_id", "private_key_file"),
            "session": ("instance_url", "session_id"),
        }
        if self.auth not in required:
            raise ValueError(f"unknown Salesforce auth mode {self.auth!r}")
        missing = [name for name in required[self.auth] if not getattr(self, name)]
        if missing:
            raise ValueError(f"Salesforce auth {self.auth!r} needs {', '.join(missing)}")


@dataclass(frozen=True, slots=True)
class UpsertResult:
    id: str
    created: bool


# --------------------------------------------------------------------------- error mapping


def _first_error(content: Any) -> tuple[str | None, str]:
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return content[0].get("errorCode"), str(content[0].get("message", ""))
    if isinstance(content, dict):
        return content.get("errorCode") or content.get("error"), str(
            content.get("message") or content.get("error_description") or ""
        )
    return None, str(content)[:200]


def _problems(content: Any) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    if isinstance(content, list):
        for item in content:
            if not isinstance(item, dict):
                continue
            fields = item.get("fields") or [None]
            for name in fields:
                problems.append(
                    FieldProblem(name, str(item.get("errorCode", "")), str(item.get("message", "")))
                )
    return problems


def map_error(exc: Exception) -> SourceError:
    """The `SourceError` for a simple-salesforce or requests failure."""
    if isinstance(exc, SourceError):
        return exc
    if isinstance(exc, requests.Timeout):
        return SourceTimeout(SOURCE, f"no answer in time: {exc}")
    if isinstance(exc, requests.ConnectionError):
        return SourceUnavailable(SOURCE, f"cannot reach Salesforce: {exc}")
    if isinstance(exc, ValueError) and not isinstance(exc, sfx.SalesforceError):
        # requests' JSONDecodeError: a 2xx body that is not JSON.
        return SourceProtocolError(SOURCE, f"unparseable answer: {exc}")
    if isinstance(exc, sfx.SalesforceAuthenticationFailed):
        return SourceAuthError(SOURCE, f"login failed: {exc.message}", upstream_code=str(exc.code))
    if isinstance(exc, sfx.SalesforceError):
        code, message = _first_error(exc.content)
        status = exc.status
        kwargs: dict[str, Any] = {
            "status": status,
            "upstream_code": code,
            "details": str(exc.content),
        }
        if isinstance(exc, sfx.SalesforceMoreThanOneRecord):
            return SourceConflict(SOURCE, "several records match the external id", **kwargs)
        if isinstance(exc, sfx.SalesforceResourceNotFound):
            return RecordNotFound(SOURCE, message or "no such record", **kwargs)
        if isinstance(exc, sfx.SalesforceExpiredSession):
            return SourceAuthError(SOURCE, message or "session expired or invalid", **kwargs)
        if isinstance(exc, sfx.SalesforceRefusedRequest):
            if code == "REQUEST_LIMIT_EXCEEDED":
                return SourceRateLimited(
                    SOURCE, message or "API request limit exceeded", retryable=False, **kwargs
                )
            return SourceForbidden(SOURCE, message or "request refused", **kwargs)
        if isinstance(exc, sfx.SalesforceMalformedRequest):
            return SourceValidationError(
                SOURCE, message or "malformed request", problems=_problems(exc.content), **kwargs
            )
        if status == 429:
            return SourceRateLimited(SOURCE, message or "too many requests", **kwargs)
        if status >= 500:
            return SourceUnavailable(SOURCE, message or f"HTTP {status}", **kwargs)
        return SourceProtocolError(SOURCE, message or f"unexpected HTTP {status}", **kwargs)
    raise exc


# --------------------------------------------------------------------------- value parsing


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise SourceProtocolError(SOURCE, f"not a number: {value!r}") from exc


def _date(value: Any) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise SourceProtocolError(SOURCE, f"not a date: {value!r}") from exc


def _datetime(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    text = str(value)
    if text.endswith(("+0000", "-0000")):
        text = text[:-5] + "+00:00"
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SourceProtocolError(SOURCE, f"not a datetime: {value!r}") from exc


def _path(record: Mapping[str, Any], dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def to_account(record: Mapping[str, Any]) -> CrmAccount:
    try:
        return CrmAccount(
            salesforce_id=str(record["Id"]),
            erp_key=record.get("ERP_Customer_Id__c"),
            name=str(record["Name"]),
            account_number=record.get("AccountNumber"),
            industry=record.get("Industry"),
            owner=_path(record, "Owner.Name"),
            phone=record.get("Phone"),
            website=record.get("Website"),
            billing_address=Address(
                street=record.get("BillingStreet"),
                city=record.get("BillingCity"),
                state=record.get("BillingState"),
                postal_code=record.get("BillingPostalCode"),
                country=record.get("BillingCountryCode"),
            ),
            currency=record.get("CurrencyIsoCode"),
            credit_status_mirror=record.get("Credit_Status__c"),
            tax_id=record.get("Tax_Id__c"),
            last_modified=_datetime(record.get("LastModifiedDate")),
        )
    except KeyError as exc:
        raise SourceProtocolError(SOURCE, f"Account record without {exc}") from exc


def to_opportunity(record: Mapping[str, Any], lines: Sequence[Line] = ()) -> CrmOpportunity:
    try:
        return CrmOpportunity(
            salesforce_id=str(record["Id"]),
            account_id=record.get("AccountId"),
            name=str(record["Name"]),
            stage=str(record["StageName"]),
            close_date=_date(record.get("CloseDate")),
            amount=_decimal(record.get("Amount")),
            currency=record.get("CurrencyIsoCode"),
            is_closed=bool(record.get("IsClosed")),
            is_won=bool(record.get("IsWon")),
            erp_order_number=record.get("ERP_Order_Id__c"),
            erp_order_status=record.get("ERP_Order_Status__c"),
            lines=tuple(lines),
        )
    except KeyError as exc:
        raise SourceProtocolError(SOURCE, f"Opportunity record without {exc}") from exc


def to_line(number: int, record: Mapping[str, Any]) -> Line:
    return Line(
        number=number,
        sku=record.get("ProductCode"),
        description=_path(record, "Product2.Name"),
        quantity=_decimal(record.get("Quantity")) or Decimal(0),
        unit_price=_decimal(record.get("UnitPrice")) or Decimal(0),
        amount=_decimal(record.get("TotalPrice")) or Decimal(0),
    )


def _strip_attributes(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: _strip_attributes(value) if isinstance(value, Mapping) else value
        for key, value in record.items()
        if key != "attributes"
    }


def normalise_id(record_id: str) -> str:
    """The 18-character form of a Salesforce id; `SourceValidationError` if malformed."""
    try:
        return sfid.to18(record_id)
    except ValueError as exc:
        raise SourceValidationError(
            SOURCE, str(exc), problems=[FieldProblem("Id", "MALFORMED_ID", str(exc))]
        ) from exc


# --------------------------------------------------------------------------- the adapter


class _TimeoutSession(requests.Session):
    """A session whose every request has a timeout: simple-salesforce's writes take none, and
    a worker thread must not wait forever on a silent connection."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


class SalesforceCrm:
    """Salesforce as Accord's CRM. Create with a config, `await start()`, `await close()`."""

    source = SOURCE

    def __init__(self, config: SalesforceConfig, *, resilience: Resilience | None = None) -> None:
        self.config = config
        self.resilience = resilience or Resilience(SOURCE, config.policy)
        self._executor = ThreadPoolExecutor(config.max_threads, thread_name_prefix="salesforce")
        self._session = _TimeoutSession(config.policy.timeout)
        self._session.trust_env = False
        if config.ca_file:
            self._session.verify = config.ca_file
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=4, pool_maxsize=config.max_threads, max_retries=0
        )
        self._session.mount("https://", adapter)
        self.clock = SourceClock()  # Salesforce's own time, from its answers' Date header
        self._session.hooks["response"].append(
            lambda response, *args, **kwargs: self.clock.observe(response.headers.get("Date"))
        )
        self._client: Salesforce | None = None
        self._login_lock = threading.Lock()
        self._generation = 0  # bumps on every login, so concurrent 401s refresh once

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Log in (a network call except in ``session`` mode)."""
        await self._offload(lambda: self._login(expected_generation=self._generation))

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._session.close()

    async def ping(self) -> None:
        """One cheap authenticated call: the org's limits."""
        await self.call("limits", lambda sf: sf.limits(), idempotent=True)

    def health(self) -> ResilienceSnapshot:
        return self.resilience.snapshot()

    @property
    def api_usage(self) -> dict[str, Any]:
        client = self._client
        if client is None:
            return {}
        return {name: tuple(usage) for name, usage in client.api_usage.items()}

    # ------------------------------------------------------------------ authentication

    def _token_url(self) -> str:
        if self.config.token_url:
            return self.config.token_url
        return f"{(self.config.instance_url or '').rstrip('/')}/services/oauth2/token"

    def _login(self, expected_generation: int) -> None:
        with self._login_lock:
            if self._generation != expected_generation and self._client is not None:
                return  # another thread refreshed the session meanwhile
            config = self.config
            timeout = config.policy.timeout
            if config.auth == "session":
                if self._client is not None:
                    raise SourceAuthError(SOURCE, "the configured session id expired or is invalid")
                session_id, instance_url = config.session_id, config.instance_url
            elif config.auth == "client_credentials":
                response = self._session.post(
                    self._token_url(),
                    data={
                        "grant_type": "client_credentials",
                        "client_id": config.client_id,
                        "client_secret": config.client_secret,
                    },
                    timeout=timeout,
                )
                session_id, instance_url = self._read_token(response)
            else:
                kwargs: dict[str, Any] = {
                    "session": self._session,
                    "domain": config.domain,
                    "sf_version": config.api_version,
                }
                if config.auth == "password":
                    kwargs.update(
                        username=config.username,
                        password=config.password,
                        security_token=config.security_token,
                    )
                else:
                    kwargs.update(
                        username=config.username,
                        consumer_key=config.client_id,
                        privatekey_file=config.private_key_file,
                    )
                session_id, instance = SalesforceLogin(**kwargs)
                instance_url = f"https://{instance}"
            self._client = Salesforce(
                session_id=session_id,
                instance_url=instance_url,
                session=self._session,
                version=config.api_version,
                parse_float=Decimal,  # money must not pass through a binary float
            )
            self._generation += 1

    def _read_token(self, response: requests.Response) -> tuple[str, str]:
        try:
            body = response.json()
        except ValueError as exc:
            raise SourceProtocolError(
                SOURCE,
                "token endpoint answered non-JSON",
                status=response.status_code,
                details=response.text,
            ) from exc
        if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            code, message = _first_error(body)
            if response.status_code >= 500:
                raise SourceUnavailable(
                    SOURCE,
                    f"token endpoint failed: {message}",
                    status=response.status_code,
                    upstream_code=code,
                )
            raise SourceAuthError(
                SOURCE,
                f"token request refused: {message}",
                status=response.status_code,
                upstream_code=code,
            )
        return str(body["access_token"]), str(body.get("instance_url") or self.config.instance_url)

    # ------------------------------------------------------------------ calling

    async def _offload(self, work: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, work)

    def _invoke(self, operation: Callable[[Salesforce], T]) -> T:
        """Run one vendor call in a worker thread, refreshing the session once on a 401."""
        for attempt in (1, 2):
            generation = self._generation
            if self._client is None:
                self._login(expected_generation=generation)
                generation = self._generation
            assert self._client is not None
            try:
                return operation(self._client)
            except sfx.SalesforceExpiredSession:
                if attempt == 2 or self.config.auth == "session":
                    raise
                self._login(expected_generation=generation)
            except Exception as exc:
                raise map_error(exc) from exc
        raise AssertionError("unreachable")

    async def call(self, name: str, operation: Callable[[Salesforce], T], *, idempotent: bool) -> T:
        """One vendor call, through the resilience layer and off the event loop."""

        def run() -> T:
            try:
                return self._invoke(operation)
            except SourceError:
                raise
            except Exception as exc:
                raise map_error(exc) from exc

        return await self.resilience.call(
            lambda: self._offload(run), name=name, idempotent=idempotent
        )

    # ------------------------------------------------------------------ generic operations

    async def query(self, text: str) -> list[dict[str, Any]]:
        """Every record the SOQL query matches, following ``nextRecordsUrl`` to the end."""
        page: Any = await self.call("query", lambda sf: sf.query(text), idempotent=True)
        records = self._records(page)
        while not page.get("done", True):
            next_url = page.get("nextRecordsUrl")
            if not isinstance(next_url, str):
                raise SourceProtocolError(SOURCE, "query page not done but without nextRecordsUrl")

            def more(sf: Salesforce, url: str = next_url) -> Any:
                return sf.query_more(url, identifier_is_url=True)

            page = await self.call("query_more", more, idempotent=True)
            records.extend(self._records(page))
        return records

    @staticmethod
    def _records(page: Any) -> list[dict[str, Any]]:
        if not isinstance(page, dict) or not isinstance(page.get("records"), list):
            raise SourceProtocolError(SOURCE, "query answer without records", details=str(page))
        return [_strip_attributes(record) for record in page["records"]]

    async def count(self, text: str) -> int:
        page = await self.call("query", lambda sf: sf.query(text), idempotent=True)
        if not isinstance(page, dict) or not isinstance(page.get("totalSize"), int):
            raise SourceProtocolError(SOURCE, "count answer without totalSize", details=str(page))
        return int(page["totalSize"])

    async def query_in(self, template: str, values: Sequence[str]) -> list[dict[str, Any]]:
        """Run ``template`` (with ``{in_list}``) for all ``values``, split under the URI limit;
        the chunks run concurrently."""
        queries = list(soql.in_chunks(template, values, max_uri=self.config.max_query_uri))
        pages = await asyncio.gather(*(self.query(text) for text in queries))
        return [record for page in pages for record in page]

    async def get(self, sobject: str, record_id: str) -> dict[str, Any]:
        record_id = normalise_id(record_id)
        record = await self.call(
            f"get {sobject}",
            lambda sf: getattr(sf, sobject).get(record_id),
            idempotent=True,
        )
        return _strip_attributes(record)

    async def get_by_external_id(self, sobject: str, field_name: str, value: str) -> dict[str, Any]:
        record = await self.call(
            f"get {sobject} by {field_name}",
            lambda sf: getattr(sf, sobject).get_by_custom_id(field_name, value),
            idempotent=True,
        )
        return _strip_attributes(record)

    async def create(
        self, sobject: str, fields: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> str:
        """Create a record and return its id. Salesforce has no idempotency header, so a create
        is never retried blindly; use `upsert` on an external id for a repeatable create."""
        payload = dict(fields)
        result = await self.call(
            f"create {sobject}",
            lambda sf: getattr(sf, sobject).create(payload),
            idempotent=False,
        )
        if not isinstance(result, dict) or not result.get("id"):
            raise SourceProtocolError(SOURCE, "create answered without an id", details=str(result))
        return str(result["id"])

    async def update(
        self, sobject: str, record_id: str, fields: Mapping[str, Any], *, idempotency_key: str
    ) -> None:
        """Set fields on a record. Setting the same values twice is harmless, so an update
        that carries an idempotency key is retried."""
        record_id = normalise_id(record_id)
        payload = dict(fields)
        await self.call(
            f"update {sobject}",
            lambda sf: getattr(sf, sobject).update(record_id, payload),
            idempotent=bool(idempotency_key),
        )

    async def upsert(
        self,
        sobject: str,
        field_name: str,
        value: str,
        fields: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> UpsertResult:
        """Create or update the record whose external id ``field_name`` is ``value``; safe to
        repeat, so it is retried."""
        payload = dict(fields)
        response = await self.call(
            f"upsert {sobject}",
            lambda sf: getattr(sf, sobject).upsert(
                f"{field_name}/{value}", payload, raw_response=True
            ),
            idempotent=True,
        )
        body: Any = None
        if response.content:
            try:
                body = response.json()
            except ValueError as exc:
                raise SourceProtocolError(
                    SOURCE, "upsert answered non-JSON", details=response.text
                ) from exc
        if isinstance(body, dict) and body.get("id"):
            return UpsertResult(id=str(body["id"]), created=bool(body.get("created")))
        # Older API versions answer 204 on update: look the record up by its external id.
        record = await self.get_by_external_id(sobject, field_name, value)
        return UpsertResult(id=str(record["Id"]), created=response.status_code == 201)

    async def delete(self, sobject: str, record_id: str) -> None:
        record_id = normalise_id(record_id)
        await self.call(
            f"delete {sobject}",
            lambda sf: getattr(sf, sobject).delete(record_id),
            idempotent=True,
        )

    async def composite_update(
        self,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        *,
        all_or_none: bool = True,
        idempotency_key: str,
    ) -> list[dict[str, Any]]:
        """Update up to 200 records of one type in one call (sObject collections)."""
        return await self.composite_update_mixed(
            [(sobject, record) for record in records],
            all_or_none=all_or_none,
            idempotency_key=idempotency_key,
        )

    async def composite_update_mixed(
        self,
        records: Sequence[tuple[str, Mapping[str, Any]]],
        *,
        all_or_none: bool = True,
        idempotency_key: str,
    ) -> list[dict[str, Any]]:
        """Update up to 200 records, of any types, in one call; each record has an Id. With
        ``all_or_none`` a refusal of one record rolls back all of them."""
        if len(records) > 200:
            raise ValueError("an sObject collection holds at most 200 records")
        body = {
            "allOrNone": all_or_none,
            "records": [{"attributes": {"type": sobject}, **record} for sobject, record in records],
        }
        result = await self.call(
            "composite update",
            lambda sf: sf.restful("composite/sobjects", method="PATCH", data=json.dumps(body)),
            idempotent=bool(idempotency_key),
        )
        if not isinstance(result, list):
            raise SourceProtocolError(SOURCE, "composite answer is not a list", details=str(result))
        failures = [item for item in result if isinstance(item, dict) and not item.get("success")]
        if failures:
            problems = [
                FieldProblem(name, str(err.get("statusCode")), str(err.get("message")))
                for item in failures
                for err in item.get("errors", [])
                for name in (err.get("fields") or [None])
            ]
            raise SourceValidationError(
                SOURCE,
                "Salesforce refused the update",
                problems=problems,
                details=json.dumps(result),
            )
        return result

    # ------------------------------------------------------------------ canonical reads

    async def accounts_by_ids(self, ids: Sequence[str]) -> dict[str, CrmAccount]:
        """Accounts by record id (15 or 18 characters); keys are the 18-character ids."""
        wanted = [normalise_id(record_id) for record_id in ids]
        template = f"SELECT {', '.join(ACCOUNT_FIELDS)} FROM Account WHERE Id IN ({{in_list}})"
        records = await self.query_in(template, wanted)
        return {account.salesforce_id: account for account in map(to_account, records)}

    async def accounts_by_erp_keys(self, keys: Sequence[str]) -> dict[str, CrmAccount]:
        template = (
            f"SELECT {', '.join(ACCOUNT_FIELDS)} FROM Account "
            "WHERE ERP_Customer_Id__c IN ({in_list})"
        )
        records = await self.query_in(template, keys)
        found: dict[str, CrmAccount] = {}
        for account in map(to_account, records):
            if account.erp_key is not None:
                found.setdefault(account.erp_key, account)
        return found

    async def search_accounts(
        self,
        *,
        name_contains: str | None = None,
        country: str | None = None,
        keys: Sequence[str] | None = None,
        after_key: str | None = None,
        limit: int | None = None,
    ) -> list[CrmAccount]:
        """Accounts cross-referenced to the ERP, ordered by their cross-reference key."""
        conditions = ["ERP_Customer_Id__c != null"]
        if name_contains:
            conditions.append(f"Name LIKE {soql.like_contains(name_contains)}")
        if country:
            conditions.append(f"BillingCountryCode = {soql.quote(country)}")
        if after_key is not None:
            conditions.append(f"ERP_Customer_Id__c > {soql.quote(after_key)}")
        text = (
            f"SELECT {', '.join(ACCOUNT_FIELDS)} FROM Account WHERE {' AND '.join(conditions)}"
            " ORDER BY ERP_Customer_Id__c ASC"
        )
        if keys is not None:
            text = text.replace(" ORDER BY", " AND ERP_Customer_Id__c IN ({in_list}) ORDER BY")
            found = [to_account(r) for r in await self.query_in(text, keys)]
            found.sort(key=lambda account: account.erp_key or "")
            return found[:limit] if limit is not None else found
        if limit is not None:
            text += f" LIMIT {int(limit)}"
        return [to_account(record) for record in await self.query(text)]

    async def opportunities_by_account_ids(
        self, account_ids: Sequence[str]
    ) -> dict[str, list[CrmOpportunity]]:
        wanted = [normalise_id(record_id) for record_id in account_ids]
        template = (
            f"SELECT {', '.join(OPPORTUNITY_FIELDS)} FROM Opportunity "
            "WHERE AccountId IN ({in_list}) ORDER BY CloseDate DESC, Id ASC"
        )
        grouped: dict[str, list[CrmOpportunity]] = {record_id: [] for record_id in wanted}
        for record in await self.query_in(template, wanted):
            grouped.setdefault(str(record.get("AccountId")), []).append(to_opportunity(record))
        return grouped

    async def opportunities_by_ids(self, ids: Sequence[str]) -> dict[str, CrmOpportunity]:
        wanted = [normalise_id(record_id) for record_id in ids]
        template = (
            f"SELECT {', '.join(OPPORTUNITY_FIELDS)} FROM Opportunity WHERE Id IN ({{in_list}})"
        )
        return {
            opportunity.salesforce_id: opportunity
            for opportunity in map(to_opportunity, await self.query_in(template, wanted))
        }

    # ------------------------------------------------------------------ canonical writes

    async def update_account(
        self, account_id: str, fields: AccountFields, *, idempotency_key: str
    ) -> None:
        body = account_body(fields)
        if body:
            await self.update("Account", account_id, body, idempotency_key=idempotency_key)

    async def write_back_booking(
        self,
        *,
        opportunity_id: str,
        order_number: str | None,
        order_status: str | None,
        account_id: str,
        erp_key: str | None,
        idempotency_key: str,
    ) -> None:
        """Record a booking on the CRM side, atomically: the ERP order number and status on
        the opportunity and the ERP customer key on the account (all or none). None empties
        a field."""
        await self.composite_update_mixed(
            [
                (
                    "Opportunity",
                    {
                        "Id": normalise_id(opportunity_id),
                        "ERP_Order_Id__c": order_number,
                        "ERP_Order_Status__c": order_status,
                    },
                ),
                ("Account", {"Id": normalise_id(account_id), "ERP_Customer_Id__c": erp_key}),
            ],
            idempotency_key=idempotency_key,
        )

    async def opportunity_lines(self, opportunity_ids: Sequence[str]) -> dict[str, list[Line]]:
        wanted = [normalise_id(record_id) for record_id in opportunity_ids]
        template = (
            f"SELECT {', '.join(OPPORTUNITY_LINE_FIELDS)} FROM OpportunityLineItem "
            "WHERE OpportunityId IN ({in_list}) ORDER BY OpportunityId, Id"
        )
        grouped: dict[str, list[Line]] = {record_id: [] for record_id in wanted}
        for record in await self.query_in(template, wanted):
            lines = grouped.setdefault(str(record.get("OpportunityId")), [])
            lines.append(to_line(len(lines) + 1, record))
        return grouped


_ACCOUNT_FIELDS = {
    "name": ("Name",),
    "industry": ("Industry",),
    "phone": ("Phone",),
    "website": ("Website",),
    "erp_key": ("ERP_Customer_Id__c",),
    "credit_status_mirror": ("Credit_Status__c",),
    "billing_address": (
        "BillingStreet",
        "BillingCity",
        "BillingState",
        "BillingPostalCode",
        "BillingCountryCode",
    ),
}


def account_body(fields: AccountFields) -> dict[str, Any]:
    """Salesforce Account fields for canonical account changes."""
    unknown = set(fields.cleared) - set(_ACCOUNT_FIELDS)
    if unknown:
        raise ValueError(f"cannot clear {sorted(unknown)}: not account fields")
    # Emptied first: a value given for the same field wins.
    body: dict[str, Any] = {
        name: None for field in sorted(fields.cleared) for name in _ACCOUNT_FIELDS[field]
    }
    if fields.name is not None:
        body["Name"] = fields.name
    if fields.industry is not None:
        body["Industry"] = fields.industry
    if fields.phone is not None:
        body["Phone"] = fields.phone
    if fields.website is not None:
        body["Website"] = fields.website
    if fields.erp_key is not None:
        body["ERP_Customer_Id__c"] = fields.erp_key
    if fields.credit_status_mirror is not None:
        body["Credit_Status__c"] = fields.credit_status_mirror
    address = fields.billing_address
    if address is not None:
        body.update(
            BillingStreet=address.street,
            BillingCity=address.city,
            BillingState=address.state,
            BillingPostalCode=address.postal_code,
            BillingCountryCode=address.country,
        )
    return body
