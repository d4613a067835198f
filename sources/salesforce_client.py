"""The Salesforce client: one org's REST API, in its own terms (sObjects and SOQL).

Calls are made with ``httpx`` on the event loop (the REST API is plain JSON over HTTPS);
every call passes through the source's `Resilience` (timeout, retries for idempotent calls,
circuit breaker, concurrency limit). Vendor failures become `sources.errors`. Long IN lists
are split under the URI limit and every query page is followed to the end.

Authentication (`SalesforceConfig.auth`):

- ``client_credentials``: OAuth 2.0 client credentials at ``token_url`` (the sandbox's mode);
- ``password``: SOAP login with username, password and security token at ``domain``
  (through ``simple-salesforce``, on a worker thread);
- ``jwt``: the OAuth 2.0 JWT bearer flow with a connected app's private key (the same);
- ``session``: a session id obtained elsewhere (it cannot be refreshed).

An expired session (401 ``INVALID_SESSION_ID``) is refreshed once and the call repeated.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

import httpx

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
from sources.upstream_http import upstream_client
from telemetry import metrics
from telemetry.tracing import outgoing_headers

SOURCE = "salesforce"

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
    max_threads: int = 8  # connections to the org at once (and login threads)
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


class _ExpiredSession(Exception):
    """Salesforce answered 401: the session expired or was revoked."""


def _content(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return response.text


def error_for(response: httpx.Response) -> SourceError:
    """The `SourceError` for a Salesforce REST answer that is not a success (not 401)."""
    status = response.status_code
    content = _content(response)
    code, message = _first_error(content)
    kwargs: dict[str, Any] = {"status": status, "upstream_code": code, "details": str(content)}
    if status == 300:
        return SourceConflict(SOURCE, "several records match the external id", **kwargs)
    if status == 404:
        return RecordNotFound(SOURCE, message or "no such record", **kwargs)
    if status == 403:
        if code == "REQUEST_LIMIT_EXCEEDED":
            return SourceRateLimited(
                SOURCE, message or "API request limit exceeded", retryable=False, **kwargs
            )
        return SourceForbidden(SOURCE, message or "request refused", **kwargs)
    if status == 400:
        return SourceValidationError(
            SOURCE, message or "malformed request", problems=_problems(content), **kwargs
        )
    if status == 429:
        return SourceRateLimited(SOURCE, message or "too many requests", **kwargs)
    if status >= 500:
        return SourceUnavailable(SOURCE, message or f"HTTP {status}", **kwargs)
    return SourceProtocolError(SOURCE, message or f"unexpected HTTP {status}", **kwargs)


def map_error(exc: Exception) -> SourceError:
    """The `SourceError` for a failure of the HTTP client (or of a simple-salesforce login)."""
    if isinstance(exc, SourceError):
        return exc
    if isinstance(exc, httpx.TimeoutException):
        return SourceTimeout(SOURCE, f"no answer in time: {exc}")
    if isinstance(exc, httpx.TransportError):
        return SourceUnavailable(SOURCE, f"cannot reach Salesforce: {exc}")
    name = type(exc).__name__
    if name == "SalesforceAuthenticationFailed":
        return SourceAuthError(
            SOURCE, f"login failed: {getattr(exc, 'message', exc)}", upstream_code=None
        )
    if name in ("Timeout", "ReadTimeout", "ConnectTimeout"):  # requests, in a login
        return SourceTimeout(SOURCE, f"no answer in time: {exc}")
    if name in ("ConnectionError", "SSLError"):
        return SourceUnavailable(SOURCE, f"cannot reach Salesforce: {exc}")
    raise exc


_USAGE = re.compile(r"(?:^|[;\s])api-usage=(\d+)/(\d+)")


class SalesforceClient:
    """One org's REST API: log in, call, query, write, in its own terms (sObjects and SOQL).
    Create with a config, `await start()`, `await close()`.

    Calls go through one `httpx.AsyncClient` (keep-alive connections, at most
    ``config.max_threads`` of them) on the event loop. simple-salesforce does what it does
    well and nothing else: the SOAP username-password login and the JWT bearer flow, run on a
    worker thread and imported only by the processes that use those modes."""

    source = SOURCE

    def __init__(self, config: SalesforceConfig, *, resilience: Resilience | None = None) -> None:
        self.config = config
        self.resilience = resilience or Resilience(SOURCE, config.policy)
        self._http = upstream_client(
            timeout=config.policy.timeout,
            verify=ssl.create_default_context(cafile=config.ca_file) if config.ca_file else True,
            trust_env=False,
            limits=httpx.Limits(
                max_connections=config.max_threads, max_keepalive_connections=config.max_threads
            ),
        )
        self.clock = SourceClock()  # Salesforce's own time, from its answers' Date header
        self.session_id: str | None = None
        self._instance = ""  # https://<instance>, from the login
        self._base = ""  # <instance>/services/data/v<version>/
        self._headers: dict[str, str] = {}
        self._login_lock = asyncio.Lock()
        self._generation = 0  # bumps on every login, so concurrent 401s refresh once
        self._usage: dict[str, tuple[int, int]] = {}
        metrics.watch(self, allowance_samples)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Log in (a network call except in ``session`` mode)."""
        await self.resilience.call(
            lambda: self._login(self._generation), name="login", idempotent=True
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def ping(self) -> None:
        """One cheap authenticated call: the org's limits."""
        await self.call("limits", "GET", "limits/", idempotent=True)

    def health(self) -> ResilienceSnapshot:
        return self.resilience.snapshot()

    @property
    def api_usage(self) -> dict[str, Any]:
        """The org's API usage as its last answer reported it: ``{"api-usage": (used, total)}``."""
        return dict(self._usage)

    # ------------------------------------------------------------------ authentication

    def _token_url(self) -> str:
        if self.config.token_url:
            return self.config.token_url
        return f"{(self.config.instance_url or '').rstrip('/')}/services/oauth2/token"

    async def _login(self, expected_generation: int) -> None:
        async with self._login_lock:
            if self._generation != expected_generation and self.session_id is not None:
                return  # another call refreshed the session meanwhile
            config = self.config
            if config.auth == "session":
                if self.session_id is not None:
                    raise SourceAuthError(SOURCE, "the configured session id expired or is invalid")
                session_id, instance_url = config.session_id or "", config.instance_url or ""
            elif config.auth == "client_credentials":
                try:
                    response = await self._http.post(
                        self._token_url(),
                        data={
                            "grant_type": "client_credentials",
                            "client_id": config.client_id or "",
                            "client_secret": config.client_secret or "",
                        },
                    )
                except httpx.HTTPError as exc:
                    raise map_error(exc) from exc
                self.clock.observe(response.headers.get("Date"))
                session_id, instance_url = self._read_token(response)
            else:
                try:
                    session_id, instance_url = await asyncio.to_thread(self._vendor_login)
                except Exception as exc:
                    raise map_error(exc) from exc
            self.session_id = session_id
            self._instance = instance_url.rstrip("/")
            self._base = f"{self._instance}/services/data/v{config.api_version}/"
            self._headers = {
                "Authorization": f"Bearer {session_id}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            }
            self._generation += 1

    def _vendor_login(self) -> tuple[str, str]:
        """The password (SOAP) and JWT bearer logins, through simple-salesforce."""
        import requests
        from simple_salesforce.login import SalesforceLogin

        config = self.config
        session = requests.Session()
        session.trust_env = False
        if config.ca_file:
            session.verify = config.ca_file
        kwargs: dict[str, Any] = {
            "session": session,
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
        try:
            session_id, instance = SalesforceLogin(**kwargs)
        finally:
            session.close()
        return str(session_id), f"https://{instance}"

    def _read_token(self, response: httpx.Response) -> tuple[str, str]:
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

    async def _send(
        self, method: str, path: str, params: dict[str, str] | None, body: Any
    ) -> httpx.Response:
        """One request with the current session; refreshes it once on a 401."""
        for attempt in (1, 2):
            generation = self._generation
            if self.session_id is None:
                await self._login(generation)
                generation = self._generation
            url = self._instance + path if path.startswith("/") else self._base + path
            content = None if body is None else json.dumps(body, default=str).encode()
            try:
                trace = outgoing_headers()  # the caller's trace goes on to Salesforce
                response = await self._http.request(
                    method,
                    url,
                    params=params,
                    content=content,
                    headers={**self._headers, **trace} if trace else self._headers,
                )
            except httpx.HTTPError as exc:
                raise map_error(exc) from exc
            self.clock.observe(response.headers.get("Date"))
            usage = response.headers.get("Sforce-Limit-Info")
            if usage:
                found = _USAGE.search(usage)
                if found:
                    self._usage["api-usage"] = (int(found[1]), int(found[2]))
            if response.status_code != 401:
                return response
            if attempt == 2 or self.config.auth == "session":
                code, message = _first_error(_content(response))
                raise SourceAuthError(
                    SOURCE,
                    message or "session expired or invalid",
                    status=401,
                    upstream_code=code,
                )
            await self._login(generation)
        raise AssertionError("unreachable")

    async def _answer(
        self, method: str, path: str, params: dict[str, str] | None, body: Any
    ) -> httpx.Response:
        """`_send`, with an answer that is not a success raised as its `SourceError`."""
        response = await self._send(method, path, params, body)
        if response.status_code >= 300:
            raise error_for(response)
        return response

    async def call(
        self,
        name: str,
        method: str,
        path: str,
        *,
        idempotent: bool,
        params: dict[str, str] | None = None,
        body: Any = None,
    ) -> httpx.Response:
        """One REST call (``path`` under ``/services/data/v<version>/``, or an absolute path
        such as a query's ``nextRecordsUrl``) through the resilience layer: the answer of a
        success, a `SourceError` otherwise."""
        return await self.resilience.call(
            lambda: self._answer(method, path, params, body), name=name, idempotent=idempotent
        )

    async def call_json(
        self,
        name: str,
        method: str,
        path: str,
        *,
        idempotent: bool,
        params: dict[str, str] | None = None,
        body: Any = None,
    ) -> Any:
        """`call`, and its answer's JSON body (numbers with a fraction as `Decimal`: money
        must not pass through a binary float); None for an empty answer. An answer that is
        not JSON fails inside the resilience layer, like any other broken answer."""

        async def run() -> Any:
            response = await self._answer(method, path, params, body)
            if not response.content:
                return None
            try:
                return json.loads(response.content, parse_float=Decimal)
            except ValueError as exc:
                raise SourceProtocolError(
                    SOURCE, f"unparseable answer: {exc}", status=response.status_code
                ) from exc

        return await self.resilience.call(run, name=name, idempotent=idempotent)

    # ------------------------------------------------------------------ generic operations

    async def query(self, text: str) -> list[dict[str, Any]]:
        """Every record the SOQL query matches, following ``nextRecordsUrl`` to the end."""
        page: Any = await self.call_json(
            "query", "GET", "query/", params={"q": text}, idempotent=True
        )
        records = self._records(page)
        while not page.get("done", True):
            next_url = page.get("nextRecordsUrl")
            if not isinstance(next_url, str):
                raise SourceProtocolError(SOURCE, "query page not done but without nextRecordsUrl")
            page = await self.call_json("query_more", "GET", next_url, idempotent=True)
            records.extend(self._records(page))
        return records

    @staticmethod
    def _records(page: Any) -> list[dict[str, Any]]:
        if not isinstance(page, dict) or not isinstance(page.get("records"), list):
            raise SourceProtocolError(SOURCE, "query answer without records", details=str(page))
        return [strip_attributes(record) for record in page["records"]]

    async def count(self, text: str) -> int:
        page = await self.call_json("query", "GET", "query/", params={"q": text}, idempotent=True)
        if not isinstance(page, dict) or not isinstance(page.get("totalSize"), int):
            raise SourceProtocolError(SOURCE, "count answer without totalSize", details=str(page))
        return int(page["totalSize"])

    async def query_in(self, template: str, values: Sequence[str]) -> list[dict[str, Any]]:
        """Run ``template`` (with ``{in_list}``) for all ``values``, split under the URI limit;
        the chunks run concurrently."""
        queries = list(soql.in_chunks(template, values, max_uri=self.config.max_query_uri))
        if len(queries) == 1:
            return await self.query(queries[0])
        pages = await asyncio.gather(*(self.query(text) for text in queries))
        return [record for page in pages for record in page]

    @staticmethod
    def _record(answer: Any) -> dict[str, Any]:
        if not isinstance(answer, dict):
            raise SourceProtocolError(SOURCE, "record answer is not an object", details=str(answer))
        return strip_attributes(answer)

    async def get(self, sobject: str, record_id: str) -> dict[str, Any]:
        record_id = normalise_id(record_id)
        path = f"sobjects/{quote(sobject)}/{quote(record_id)}"
        return self._record(await self.call_json(f"get {sobject}", "GET", path, idempotent=True))

    async def get_by_external_id(self, sobject: str, field_name: str, value: str) -> dict[str, Any]:
        path = f"sobjects/{quote(sobject)}/{quote(field_name)}/{quote(value, safe='')}"
        answer = await self.call_json(
            f"get {sobject} by {field_name}", "GET", path, idempotent=True
        )
        return self._record(answer)

    async def create(
        self, sobject: str, fields: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> str:
        """Create a record and return its id. Salesforce has no idempotency header, so a create
        is never retried blindly; use `upsert` on an external id for a repeatable create."""
        result = await self.call_json(
            f"create {sobject}",
            "POST",
            f"sobjects/{quote(sobject)}/",
            body=dict(fields),
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
        await self.call(
            f"update {sobject}",
            "PATCH",
            f"sobjects/{quote(sobject)}/{quote(record_id)}",
            body=dict(fields),
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
        response = await self.call(
            f"upsert {sobject}",
            "PATCH",
            f"sobjects/{quote(sobject)}/{quote(field_name)}/{quote(value, safe='')}",
            body=dict(fields),
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
            "DELETE",
            f"sobjects/{quote(sobject)}/{quote(record_id)}",
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
        result = await self.call_json(
            "composite update",
            "PATCH",
            "composite/sobjects",
            body=body,
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
