"""The Salesforce client: one org's REST API, in its own terms (sObjects and SOQL).

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
import functools
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, TypeVar

import requests
from simple_salesforce import exceptions as sfx
from simple_salesforce.api import Salesforce
from simple_salesforce.login import SalesforceLogin

from sources import soql
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
from sources.instruments import allowance_samples
from sources.resilience import Resilience, ResiliencePolicy, ResilienceSnapshot
from sources.salesforce_records import normalise_id, strip_attributes
from telemetry import metrics
from telemetry.tracing import outgoing_headers

SOURCE = "salesforce"
T = TypeVar("T")

AuthMode = Literal["client_credentials", "password", "jwt", "session"]


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


class _TimeoutSession(requests.Session):
    """A session whose every request has a timeout: simple-salesforce's writes take none, and
    a worker thread must not wait forever on a silent connection."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        trace = _TRACE.get()
        if trace:  # the caller's trace goes on to Salesforce
            kwargs["headers"] = {**(kwargs.get("headers") or {}), **trace}
        return super().request(method, url, *args, **kwargs)


# The trace headers of the call a worker thread is making (set around it, in that thread).
_TRACE: ContextVar[dict[str, str] | None] = ContextVar("salesforce_trace", default=None)


class SalesforceClient:
    """One org's REST API through simple-salesforce: log in, call, query, write, in its own
    terms (sObjects and SOQL). Create with a config, `await start()`, `await close()`."""

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
        metrics.watch(self, allowance_samples)

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

        def run(trace: dict[str, str]) -> T:
            token = _TRACE.set(trace)
            try:
                return self._invoke(operation)
            except SourceError:
                raise
            except Exception as exc:
                raise map_error(exc) from exc
            finally:
                _TRACE.reset(token)

        # Each attempt reads the trace headers within its own span (the resilience layer's).
        return await self.resilience.call(
            lambda: self._offload(functools.partial(run, outgoing_headers())),
            name=name,
            idempotent=idempotent,
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
        return [strip_attributes(record) for record in page["records"]]

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
        return strip_attributes(record)

    async def get_by_external_id(self, sobject: str, field_name: str, value: str) -> dict[str, Any]:
        record = await self.call(
            f"get {sobject} by {field_name}",
            lambda sf: getattr(sf, sobject).get_by_custom_id(field_name, value),
            idempotent=True,
        )
        return strip_attributes(record)

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
