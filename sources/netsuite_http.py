"""NetSuite REST web services over HTTP: OAuth 2.0 tokens, the record API and SuiteQL.

`NetSuiteClient` is the wire layer under `sources.netsuite.NetSuiteErp`: it knows URLs,
headers, paging and NetSuite's error bodies, and maps every failure into `sources.errors`.
Every request passes through the source's `Resilience`; a 401 refreshes the token once.

Tokens come from the OAuth 2.0 client-credentials flow at ``token_url``: either with a client
secret (form body), or, as NetSuite's machine-to-machine integrations do, with a JWT client
assertion signed by the integration's certificate key (``certificate_id`` + ``private_key``).
"""

from __future__ import annotations

import asyncio
import ssl
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from sources.clock import SourceClock
from sources.concurrency import ConcurrencyBudget
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
    parse_retry_after,
)
from sources.instruments import account_slot
from sources.resilience import Resilience, ResiliencePolicy
from sources.upstream_http import upstream_client
from telemetry.tracing import outgoing_headers

SOURCE = "netsuite"
RECORD_PATH = "/services/rest/record/v1"
SUITEQL_PATH = "/services/rest/query/v1/suiteql"
PAGE_LIMIT = 1000  # NetSuite's largest page for both the record list and SuiteQL
SUITEQL_MAX_RESULTS = 100_000  # NetSuite stops paging a SuiteQL query here


@dataclass(frozen=True)
class NetSuiteConfig:
    account_id: str
    base_url: str | None = None  # default https://<account>.suitetalk.api.netsuite.com
    token_url: str | None = None  # default <base_url>/services/rest/auth/oauth2/v1/token
    client_id: str | None = None
    client_secret: str | None = None
    certificate_id: str | None = None  # with private_key: JWT client assertion
    private_key: str | None = None  # PEM text
    scope: str = "restlets rest_webservices"
    ca_file: str | None = None
    max_connections: int = 10  # keep under the account's concurrency limit
    policy: ResiliencePolicy = field(default_factory=ResiliencePolicy)

    def __post_init__(self) -> None:
        if not self.account_id:
            raise ValueError("NetSuite needs account_id")
        if not self.client_id:
            raise ValueError("NetSuite needs client_id")
        if not self.client_secret and not (self.certificate_id and self.private_key):
            raise ValueError("NetSuite needs client_secret, or certificate_id and private_key")

    @property
    def root(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        host = self.account_id.lower().replace("_", "-")
        return f"https://{host}.suitetalk.api.netsuite.com"

    @property
    def token_endpoint(self) -> str:
        return self.token_url or f"{self.root}/services/rest/auth/oauth2/v1/token"


# --------------------------------------------------------------------------- error mapping


def _details(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, dict) and isinstance(body.get("o:errorDetails"), list):
        return [item for item in body["o:errorDetails"] if isinstance(item, dict)]
    return []


def map_response_error(response: httpx.Response) -> SourceError:
    """The `SourceError` for a NetSuite error response (status >= 400)."""
    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    details = _details(body)
    code = str(details[0].get("o:errorCode")) if details else None
    message = (
        str(details[0].get("detail"))
        if details
        else (
            str(body.get("title"))
            if isinstance(body, dict) and body.get("title")
            else f"HTTP {status}"
        )
    )
    kwargs: dict[str, Any] = {"status": status, "upstream_code": code, "details": response.text}
    if status == 429 or code in {"CONCURRENCY_LIMIT_EXCEEDED", "SSS_REQUEST_LIMIT_EXCEEDED"}:
        return SourceRateLimited(
            SOURCE,
            message,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            **kwargs,
        )
    if status >= 500:
        return SourceUnavailable(SOURCE, message, **kwargs)
    if status == 401:
        return SourceAuthError(SOURCE, message, **kwargs)
    if status == 403:
        return SourceForbidden(SOURCE, message, **kwargs)
    if status == 404:
        return RecordNotFound(SOURCE, message, **kwargs)
    if code == "IDEMPOTENCY_ERROR" or status == 409:
        return SourceConflict(SOURCE, message, **kwargs)
    if body is None:
        return SourceProtocolError(SOURCE, f"HTTP {status} with a body that is not JSON", **kwargs)
    problems = [
        FieldProblem(
            str(item["o:errorPath"]) if item.get("o:errorPath") else None,
            str(item.get("o:errorCode") or "ERROR"),
            str(item.get("detail") or ""),
        )
        for item in details
    ]
    return SourceValidationError(SOURCE, message, problems=problems, **kwargs)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise SourceProtocolError(
            SOURCE, "answer is not JSON", status=response.status_code, details=response.text
        ) from exc


def record_id_from_location(location: str | None) -> str:
    """The internal id at the end of a ``Location`` header."""
    if not location:
        raise SourceProtocolError(SOURCE, "write answered without a Location header")
    tail = location.rstrip("/").rsplit("/", 1)[-1]
    if not tail.isdigit():
        raise SourceProtocolError(SOURCE, f"Location without an internal id: {location}")
    return tail


def record_ref(record_id: str) -> str:
    """A path segment for an internal id or ``eid:<external id>``; rejects anything else."""
    if record_id.isdigit():
        return record_id
    if record_id.startswith("eid:") and len(record_id) > 4:
        return "eid:" + quote(record_id[4:], safe="")
    raise SourceValidationError(
        SOURCE,
        f"not a NetSuite record id: {record_id!r}",
        problems=[FieldProblem("id", "INVALID_KEY_OR_REF", "an internal id is a number")],
    )


# --------------------------------------------------------------------------- the client


class NetSuiteClient:
    def __init__(
        self,
        config: NetSuiteConfig,
        *,
        resilience: Resilience | None = None,
        budget: ConcurrencyBudget | None = None,
    ) -> None:
        self.config = config
        self.resilience = resilience or Resilience(SOURCE, config.policy)
        # the account's concurrency limit, shared with the other replicas when configured so
        self.budget = budget
        timeout = httpx.Timeout(config.policy.timeout, connect=min(5.0, config.policy.timeout))
        self._http = upstream_client(
            base_url=config.root,
            verify=ssl.create_default_context(cafile=config.ca_file) if config.ca_file else True,
            timeout=timeout,
            limits=httpx.Limits(
                max_connections=config.max_connections,
                max_keepalive_connections=config.max_connections,
            ),
            headers={"Accept": "application/json"},
        )
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()
        self.clock = SourceClock()  # NetSuite's own time, from its answers' Date header

    async def close(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ tokens

    def _assertion(self) -> str:
        import jwt  # PyJWT, installed with simple-salesforce

        now = int(time.time())
        claims = {
            "iss": self.config.client_id,
            "scope": self.config.scope.split(),
            "aud": self.config.token_endpoint,
            "iat": now,
            "exp": now + 300,
        }
        return jwt.encode(
            claims,
            self.config.private_key or "",
            algorithm="PS256",
            headers={"kid": self.config.certificate_id, "typ": "JWT"},
        )

    async def _fetch_token(self) -> None:
        config = self.config
        form: dict[str, str] = {"grant_type": "client_credentials"}
        if config.certificate_id and config.private_key:
            form.update(
                client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                client_assertion=self._assertion(),
            )
        else:
            form.update(client_id=config.client_id or "", client_secret=config.client_secret or "")
        try:
            response = await self._http.post(config.token_endpoint, data=form)
        except httpx.TimeoutException as exc:
            raise SourceTimeout(SOURCE, f"token endpoint gave no answer in time: {exc}") from exc
        except httpx.TransportError as exc:
            raise SourceUnavailable(SOURCE, f"cannot reach the token endpoint: {exc}") from exc
        if response.status_code >= 500:
            raise map_response_error(response)
        body = _json(response)
        if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            reason = body.get("error") if isinstance(body, dict) else None
            raise SourceAuthError(
                SOURCE,
                f"token request refused: {reason or response.status_code}",
                status=response.status_code,
                details=response.text,
            )
        self._token = str(body["access_token"])
        lifetime = float(body.get("expires_in") or 3600)
        self._token_expires = time.monotonic() + max(0.0, lifetime - 60)

    async def _bearer(self, stale: str | None = None) -> str:
        async with self._token_lock:
            if (
                self._token is None
                or self._token == stale
                or time.monotonic() >= self._token_expires
            ):
                await self._fetch_token()
            assert self._token is not None
            return self._token

    # ------------------------------------------------------------------ requests

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request with a valid token; a 401 refreshes the token and repeats it once."""
        token = await self._bearer()
        trace = outgoing_headers()  # the caller's trace goes on to NetSuite
        for attempt in (1, 2):
            headers = {**kwargs.pop("headers", {}), **trace, "Authorization": f"Bearer {token}"}
            try:
                if self.budget is None:
                    response = await self._http.request(method, url, headers=headers, **kwargs)
                else:
                    async with account_slot(self.budget, SOURCE):
                        response = await self._http.request(method, url, headers=headers, **kwargs)
            except httpx.TimeoutException as exc:
                raise SourceTimeout(SOURCE, f"{method} {url}: no answer in time") from exc
            except httpx.TransportError as exc:
                raise SourceUnavailable(SOURCE, f"{method} {url}: {exc!r}") from exc
            self.clock.observe(response.headers.get("date"))
            kwargs["headers"] = {k: v for k, v in headers.items() if k != "Authorization"}
            if response.status_code == 401 and attempt == 1:
                token = await self._bearer(stale=token)
                continue
            if response.status_code >= 400:
                raise map_response_error(response)
            return response
        raise AssertionError("unreachable")

    async def request(
        self, method: str, url: str, *, name: str, idempotent: bool, **kwargs: Any
    ) -> httpx.Response:
        return await self.resilience.call(
            lambda: self._send(method, url, **kwargs), name=name, idempotent=idempotent
        )

    # ------------------------------------------------------------------ record API

    async def get_record(
        self,
        record_type: str,
        record_id: str,
        *,
        expand: bool = False,
        fields: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        params: dict[str, str] = {}
        if expand:
            params["expandSubResources"] = "true"
        if fields:
            params["fields"] = ",".join(fields)
        response = await self.request(
            "GET",
            f"{RECORD_PATH}/{record_type}/{record_ref(record_id)}",
            params=params,
            name=f"get {record_type}",
            idempotent=True,
        )
        body = _json(response)
        if not isinstance(body, dict):
            raise SourceProtocolError(SOURCE, "a record is a JSON object", details=response.text)
        return body

    async def list_ids(self, record_type: str, *, limit: int = PAGE_LIMIT) -> list[str]:
        """Every internal id of a record type, following the list's pages."""
        ids: list[str] = []
        offset = 0
        while True:
            response = await self.request(
                "GET",
                f"{RECORD_PATH}/{record_type}",
                params={"limit": str(limit), "offset": str(offset)},
                name=f"list {record_type}",
                idempotent=True,
            )
            body = _json(response)
            if not isinstance(body, dict) or not isinstance(body.get("items"), list):
                raise SourceProtocolError(SOURCE, "a list answer has items", details=response.text)
            ids.extend(str(item["id"]) for item in body["items"] if isinstance(item, dict))
            if not body.get("hasMore"):
                return ids
            offset += len(body["items"]) or limit

    def _write_headers(self, idempotency_key: str | None) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if idempotency_key:
            headers["X-NetSuite-Idempotency-Key"] = _idempotency_uuid(idempotency_key)
        return headers

    async def create_record(
        self, record_type: str, body: Mapping[str, Any], *, idempotency_key: str | None
    ) -> str:
        """POST a new record; its internal id comes from the Location header. Only a create
        that carries an idempotency key is retried. NetSuite refuses a repeated key with
        IDEMPOTENCY_ERROR: the record the first request wrote is then found by its external
        id, which every create that must be repeatable carries."""
        try:
            response = await self.request(
                "POST",
                f"{RECORD_PATH}/{record_type}",
                json=dict(body),
                headers=self._write_headers(idempotency_key),
                name=f"create {record_type}",
                idempotent=idempotency_key is not None,
            )
        except SourceConflict as exc:
            external_id = body.get("externalId")
            if exc.upstream_code != "IDEMPOTENCY_ERROR" or not isinstance(external_id, str):
                raise
            record = await self.get_record(record_type, "eid:" + external_id, fields=("id",))
            return str(record["id"])
        return record_id_from_location(response.headers.get("Location"))

    async def update_record(
        self,
        record_type: str,
        record_id: str,
        body: Mapping[str, Any],
        *,
        idempotency_key: str | None,
        replace: tuple[str, ...] = (),
    ) -> None:
        """PATCH fields; a repeated idempotency key means the update was already applied."""
        params = {"replace": ",".join(replace)} if replace else {}
        try:
            await self.request(
                "PATCH",
                f"{RECORD_PATH}/{record_type}/{record_ref(record_id)}",
                json=dict(body),
                params=params,
                headers=self._write_headers(idempotency_key),
                name=f"update {record_type}",
                idempotent=idempotency_key is not None,
            )
        except SourceConflict as exc:
            if exc.upstream_code != "IDEMPOTENCY_ERROR":
                raise

    async def upsert_record(
        self,
        record_type: str,
        external_id: str,
        body: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> str:
        """PUT by external id: creates or updates, so it is always safe to repeat."""
        location = None
        try:
            response = await self.request(
                "PUT",
                f"{RECORD_PATH}/{record_type}/{record_ref('eid:' + external_id)}",
                json=dict(body),
                headers=self._write_headers(idempotency_key),
                name=f"upsert {record_type}",
                idempotent=True,
            )
            location = response.headers.get("Location")
        except SourceConflict as exc:
            if exc.upstream_code != "IDEMPOTENCY_ERROR":
                raise
        if location:
            return record_id_from_location(location)
        record = await self.get_record(record_type, "eid:" + external_id, fields=("id",))
        return str(record["id"])

    async def delete_record(self, record_type: str, record_id: str) -> None:
        await self.request(
            "DELETE",
            f"{RECORD_PATH}/{record_type}/{record_ref(record_id)}",
            name=f"delete {record_type}",
            idempotent=True,
        )

    # ------------------------------------------------------------------ SuiteQL

    async def suiteql(self, text: str, *, page_size: int = PAGE_LIMIT) -> list[dict[str, Any]]:
        """Every row of a SuiteQL query, following pages (NetSuite stops at 100,000 rows)."""
        rows: list[dict[str, Any]] = []
        while True:
            page, has_more, _ = await self.suiteql_page(text, limit=page_size, offset=len(rows))
            rows.extend(page)
            if not has_more or not page:
                return rows
            if len(rows) >= SUITEQL_MAX_RESULTS:
                raise SourceValidationError(
                    SOURCE,
                    "the SuiteQL query matches more than 100,000 rows; narrow it",
                    problems=[FieldProblem(None, "TOO_MANY_RESULTS", "narrow the query")],
                )

    async def suiteql_page(
        self, text: str, *, limit: int, offset: int = 0
    ) -> tuple[list[dict[str, Any]], bool, int | None]:
        """One page of a SuiteQL query: (rows, has_more, total_results)."""
        response = await self.request(
            "POST",
            SUITEQL_PATH,
            params={"limit": str(limit), "offset": str(offset)},
            json={"q": text},
            headers={"Prefer": "transient"},
            name="suiteql",
            idempotent=True,
        )
        body = _json(response)
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise SourceProtocolError(SOURCE, "a SuiteQL answer has items", details=response.text)
        rows = []
        for item in body["items"]:
            if not isinstance(item, dict):
                raise SourceProtocolError(SOURCE, "a SuiteQL row is an object")
            rows.append({key: value for key, value in item.items() if key != "links"})
        total = body.get("totalResults")
        return rows, bool(body.get("hasMore")), int(total) if isinstance(total, int) else None


def _idempotency_uuid(key: str) -> str:
    """NetSuite wants a UUID as the idempotency key; Accord's keys are any string, so each is
    mapped to a stable name-based UUID."""
    try:
        return str(uuid.UUID(key))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"accord:{key}"))
