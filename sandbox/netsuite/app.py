"""The HTTP surface of the NetSuite emulator (a Starlette app).

- ``POST /services/rest/auth/oauth2/v1/token`` - OAuth 2.0 client credentials
- ``/services/rest/record/v1/<type>[/<id>|/eid:<externalId>[/<sublist>[/<line>]]]`` - records
- ``POST /services/rest/query/v1/suiteql`` - SuiteQL (``Prefer: transient``)

Anything else answers NetSuite's 404/405 error. Handlers never let an exception escape: a
`NetSuiteError` becomes its response, anything unexpected a 500 in NetSuite's shape.
"""

from __future__ import annotations

import json
import sys
import traceback
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.netsuite.auth import OAuthError, TokenIssuer
from sandbox.netsuite.errors import (
    NetSuiteError,
    invalid_content,
    invalid_login,
    invalid_parameter,
    invalid_query,
    nonexistent_id,
    user_error,
)
from sandbox.netsuite.model import TransactionRec
from sandbox.netsuite.paths import RECORD_PREFIX, record_segments
from sandbox.netsuite.render import BY_TRAN_TYPE, CUSTOMER, RecordType, Renderer, record_type
from sandbox.netsuite.store import Record, Store
from sandbox.netsuite.tables import SuiteQlTables
from sandbox.netsuite.wire import COLLECTION, SINGULAR, dumps, suiteql_value
from sandbox.netsuite.writes import Commit, Writer

TOKEN_PATH = "/services/rest/auth/oauth2/v1/token"
SUITEQL_PATH = "/services/rest/query/v1/suiteql"
MAX_PAGE = 1000
MAX_BODY = 5_000_000
IDEMPOTENCY_HEADER = "X-NetSuite-Idempotency-Key"
_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

# (query text, tables, offset, limit) -> (the page's rows, the answer's total length)
QueryRunner = Callable[[str, SuiteQlTables, int, int], tuple[list[dict[str, Any]], int]]
"""Runs SuiteQL text over the tables; raises an exception with ``.detail`` for a bad query."""

Handler = Callable[[Request], Awaitable[Response]]


def _guard(handler: Handler) -> Handler:
    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except NetSuiteError as exc:
            return exc.response()
        except Exception:
            traceback.print_exc(file=sys.stderr)
            return NetSuiteError(
                500, "UNEXPECTED_ERROR", "An unexpected error occurred. Error ID: sandbox"
            ).response()

    return guarded


class NetSuiteApi:
    """The request handlers over one store."""

    def __init__(
        self,
        store: Store,
        tables: SuiteQlTables,
        issuer: TokenIssuer,
        run_query: QueryRunner,
    ) -> None:
        self.store = store
        self.tables = tables
        self.issuer = issuer
        self.run_query = run_query

    def starlette(self) -> Starlette:
        return Starlette(
            routes=[
                Route(TOKEN_PATH, _guard(self.token), methods=["POST"]),
                Route(SUITEQL_PATH, _guard(self.suiteql), methods=["POST"]),
                Route(RECORD_PREFIX + "/{rest:path}", _guard(self.record), methods=_ALL_METHODS),
                Route("/{rest:path}", _guard(self.unknown), methods=_ALL_METHODS),
            ]
        )

    # ------------------------------------------------------------------ helpers

    def _authorize(self, request: Request) -> None:
        if not self.issuer.valid(request.headers.get("authorization")):
            raise invalid_login()

    @staticmethod
    def _base(request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}"

    @staticmethod
    async def _json_body(request: Request) -> Any:
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise NetSuiteError(413, "INVALID_CONTENT", "The request body is too large.")
        try:
            return json.loads(raw, parse_float=Decimal, parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:
            raise invalid_content(
                "Invalid content in the request body. The body is not valid JSON."
            ) from exc

    @staticmethod
    def _page_params(request: Request) -> tuple[int, int]:
        def number(name: str, default: int, low: int, high: int) -> int:
            text = request.query_params.get(name)
            if text is None:
                return default
            if not _digits(text, 10) or not low <= int(text) <= high:
                raise invalid_parameter(
                    f"Invalid '{name}' query parameter value {text[:40]}. "
                    f"Provide a whole number from {low} to {high}.",
                    name,
                )
            return int(text)

        return number("limit", MAX_PAGE, 1, MAX_PAGE), number("offset", 0, 0, 10**9)

    @staticmethod
    def _paging_links(
        base_href: str, limit: int, offset: int, total: int, self_href: str
    ) -> list[dict[str, str]]:
        def page(at: int) -> str:
            return f"{base_href}?limit={limit}&offset={at}"

        links: list[dict[str, str]] = []
        if total > limit or offset > 0:  # more than one page: first/prev/next/last as they apply
            last = max(0, (total - 1) // limit * limit)
            if offset > 0:
                links.append({"rel": "first", "href": page(0)})
                links.append({"rel": "prev", "href": page(max(0, offset - limit))})
            if offset + limit < total:
                links.append({"rel": "next", "href": page(offset + limit)})
            links.append({"rel": "last", "href": page(last)})
        links.append({"rel": "self", "href": self_href})
        return links

    # ------------------------------------------------------------------ OAuth

    async def token(self, request: Request) -> Response:
        raw = await request.body()
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded" or len(raw) > 64_000:
            return OAuthError(
                400, "invalid_request", "the body must be application/x-www-form-urlencoded"
            ).response()
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            return OAuthError(400, "invalid_request", "the body is not a form").response()
        fields: dict[str, str] = {}
        for name, value in pairs:
            if name in fields:
                return OAuthError(400, "invalid_request", f"{name} is repeated").response()
            fields[name] = value
        token_url = f"{self._base(request)}{TOKEN_PATH}"
        try:
            token = self.issuer.grant(fields, request.headers.get("authorization"), token_url)
        except OAuthError as exc:
            return exc.response()
        return JSONResponse(self.issuer.token_body(token), headers={"Cache-Control": "no-store"})

    # ------------------------------------------------------------------ unknown paths

    async def unknown(self, request: Request) -> Response:
        path = request.url.path
        if path in (TOKEN_PATH, SUITEQL_PATH):
            raise NetSuiteError(
                405,
                "INVALID_REQUEST",
                f"The HTTP method {request.method} is not allowed for {path}.",
            )
        raise NetSuiteError(
            404, "NONEXISTENT_ID", f"The resource {path} does not exist.", {"o:errorUrl": path}
        )

    # ------------------------------------------------------------------ records

    async def record(self, request: Request) -> Response:
        self._authorize(request)
        segments = record_segments(request.scope.get("raw_path") or request.url.path.encode())
        if not segments:
            raise NetSuiteError(
                404,
                "NONEXISTENT_ID",
                "Record type '' does not exist.",
                {"o:errorUrl": request.url.path},
            )
        rtype = record_type(segments[0])
        if rtype is None:
            raise NetSuiteError(
                404,
                "NONEXISTENT_ID",
                f"Record type '{segments[0][:100]}' does not exist.",
                {"o:errorUrl": request.url.path},
            )
        method = request.method
        if len(segments) == 1:
            if method == "GET":
                return self._list(request, rtype)
            if method == "POST":
                return await self._write(request, rtype, None, None)
            raise self._not_allowed(method, request)
        key = segments[1]
        if len(segments) == 2:
            if method == "GET":
                return self._get(request, rtype, self._find(rtype, key))
            if method == "PATCH":
                return await self._write(request, rtype, self._find(rtype, key), None)
            if method == "PUT":
                if not key.lower().startswith("eid:") or len(key) <= 4:
                    raise user_error(
                        "The upsert operation requires an external ID (PUT .../eid:<externalId>)."
                    )
                return await self._write(request, rtype, self._find_eid(rtype, key[4:]), key[4:])
            if method == "DELETE":
                return self._delete(rtype, self._find(rtype, key))
            raise self._not_allowed(method, request)
        if method != "GET" or len(segments) > 4:
            raise self._not_allowed(method, request) if method != "GET" else nonexistent_id()
        record = self._find(rtype, key)
        sublist = next((s for s in rtype.sublists if s.lower() == segments[2].lower()), None)
        if sublist is None:
            raise NetSuiteError(
                404,
                "NONEXISTENT_ID",
                f"The sublist '{segments[2][:100]}' does not exist.",
                {"o:errorUrl": request.url.path},
            )
        return self._get_sublist(
            request, rtype, record, sublist, segments[3] if len(segments) == 4 else None
        )

    @staticmethod
    def _not_allowed(method: str, request: Request) -> NetSuiteError:
        return NetSuiteError(
            405,
            "INVALID_REQUEST",
            f"The HTTP method {method} is not allowed for {request.url.path}.",
        )

    def _find(self, rtype: RecordType, key: str) -> Record:
        if key.lower().startswith("eid:"):
            found = self._find_eid(rtype, key[4:])
            if found is None:
                raise nonexistent_id()
            return found
        if not _digits(key, 18):
            raise nonexistent_id()
        record_id = int(key)
        if rtype is CUSTOMER:
            customer = self.store.customers.get(record_id)
            if customer is None:
                raise nonexistent_id()
            return customer
        tran = self.store.transactions.get(record_id)
        if tran is None:
            raise nonexistent_id()
        if tran.type != rtype.tran_type:
            raise user_error("Transaction type specified is incorrect.")
        return tran

    def _find_eid(self, rtype: RecordType, external_id: str) -> Record | None:
        if rtype is CUSTOMER:
            return self.store.customer_by_eid(external_id)
        assert rtype.tran_type is not None
        return self.store.transaction_by_eid(rtype.tran_type, external_id)

    def _get(self, request: Request, rtype: RecordType, record: Record) -> Response:
        expand = _flag(request, "expandSubResources")
        renderer = Renderer(self.store, self._base(request))
        body = renderer.record(rtype, record, expand=expand, self_href=str(request.url))
        fields = request.query_params.get("fields")
        if fields is not None:
            wanted = [f.strip() for f in fields.split(",") if f.strip()]
            full = renderer.record(rtype, record, expand=True, self_href=str(request.url))
            known = set(full) | _OPTIONAL_FIELDS.get(rtype.name, set())
            for name in wanted:
                if name not in known:
                    raise invalid_parameter(
                        f"Invalid 'fields' query parameter value. The field '{name[:100]}' "
                        f"does not exist on record type '{rtype.name}'.",
                        "fields",
                    )
            body = {k: v for k, v in body.items() if k in wanted or k in ("links", "id")}
        return Response(dumps(body), media_type=SINGULAR)

    def _get_sublist(
        self,
        request: Request,
        rtype: RecordType,
        record: Record,
        sublist: str,
        line_key: str | None,
    ) -> Response:
        renderer = Renderer(self.store, self._base(request))
        lines = renderer.sublist_lines(rtype, record, sublist)
        if line_key is None:
            body: dict[str, Any] = {
                "links": renderer.links(str(request.url)),
                "items": lines,
                "totalResults": len(lines),
            }
            return Response(dumps(body), media_type=COLLECTION)
        for line in lines:
            href = line["links"][0]["href"]
            if href.rsplit("/", 1)[-1] == line_key:
                return Response(dumps(line), media_type=SINGULAR)
        raise nonexistent_id()

    def _list(self, request: Request, rtype: RecordType) -> Response:
        if "q" in request.query_params:
            raise invalid_parameter(
                "The sandbox does not evaluate the 'q' record filter; use SuiteQL.", "q"
            )
        limit, offset = self._page_params(request)
        if rtype is CUSTOMER:
            ids = sorted(self.store.customers)
        else:
            ids = sorted(
                t.id for t in self.store.transactions.values() if t.type == rtype.tran_type
            )
        renderer = Renderer(self.store, self._base(request))
        page = ids[offset : offset + limit]
        base_href = f"{self._base(request)}{RECORD_PREFIX}/{rtype.link_name}"
        body = {
            "links": self._paging_links(base_href, limit, offset, len(ids), str(request.url)),
            "count": len(page),
            "hasMore": offset + limit < len(ids),
            "items": [
                {"links": renderer.links(renderer.href(rtype.link_name, i)), "id": str(i)}
                for i in page
            ],
            "offset": offset,
            "totalResults": len(ids),
        }
        return Response(dumps(body), media_type=COLLECTION)

    # ------------------------------------------------------------------ writes

    async def _write(
        self,
        request: Request,
        rtype: RecordType,
        existing: Record | None,
        upsert_eid: str | None,
    ) -> Response:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        base = self._base(request)
        if key is not None:
            key = key.strip()
            try:
                uuid.UUID(key)
            except ValueError as exc:
                raise NetSuiteError(
                    400,
                    "INVALID_HEADER",
                    f"Invalid {IDEMPOTENCY_HEADER} header value. Provide a UUID.",
                    {"o:errorHeader": IDEMPOTENCY_HEADER},
                ) from exc
            earlier = self.store.idempotent_write(key)
            if earlier is not None:
                raise self._duplicate_key(base, earlier)
        strict = self._name_validation(request)
        replace = self._replace_param(request, rtype)
        body = await self._json_body(request)
        if not isinstance(body, dict):
            raise invalid_content("Invalid content in the request body. Provide a JSON object.")
        writer = Writer(self.store, strict_names=strict)
        commits: list[Commit]
        if existing is None:
            commits = writer.create(rtype, body, external_id=upsert_eid)
        else:
            if upsert_eid is not None and "externalId" in body and body["externalId"] != upsert_eid:
                raise user_error(
                    "The external ID in the body differs from the one in the URL.", "externalId"
                )
            commits = writer.update(rtype, existing, body, replace_sublists=replace)
        record_id = commits[0][1]
        for index, (commit_kind, commit_id, after) in enumerate(commits):
            self.store.commit(commit_kind, commit_id, after, key if index == 0 else None)
        location = f"{base}{RECORD_PREFIX}/{rtype.link_name}/{record_id}"
        return Response(status_code=204, headers={"Location": location})

    def _delete(self, rtype: RecordType, existing: Record) -> Response:
        for kind, record_id, after in Writer(self.store).delete(existing):
            self.store.commit(kind, record_id, after)
        return Response(status_code=204)

    def _duplicate_key(self, base: str, earlier: tuple[str, int]) -> NetSuiteError:
        kind, record_id = earlier
        if kind == "customer":
            link_name = "customer"
        else:
            tran = self.store.transactions.get(record_id)
            link_name = _link_for(tran) if tran else "transaction"
        return NetSuiteError(
            400,
            "IDEMPOTENCY_ERROR",
            "A request with the same idempotency key is already submitted. "
            'See the "Location" header for a link to the previously submitted job',
            title="Conflict",
            type="https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.10",
            headers={"Location": f"{base}{RECORD_PREFIX}/{link_name}/{record_id}"},
        )

    @staticmethod
    def _name_validation(request: Request) -> bool:
        value = request.headers.get("X-NetSuite-PropertyNameValidation")
        if value is None:
            return True
        mode = value.strip().lower()
        if mode not in ("error", "warning", "ignore"):
            raise NetSuiteError(
                400,
                "INVALID_HEADER",
                "Invalid X-NetSuite-PropertyNameValidation header value. "
                "Provide Error, Warning or Ignore.",
                {"o:errorHeader": "X-NetSuite-PropertyNameValidation"},
            )
        return mode == "error"

    @staticmethod
    def _replace_param(request: Request, rtype: RecordType) -> set[str]:
        value = request.query_params.get("replace")
        if not value:
            return set()
        result: set[str] = set()
        for name in (part.strip() for part in value.split(",")):
            match = next((s for s in rtype.sublists if s.lower() == name.lower()), None)
            if match is None:
                raise invalid_parameter(
                    f"Invalid 'replace' query parameter value. '{name[:100]}' is not a sublist "
                    f"of record type '{rtype.name}'.",
                    "replace",
                )
            result.add(match)
        return result

    # ------------------------------------------------------------------ SuiteQL

    async def suiteql(self, request: Request) -> Response:
        self._authorize(request)
        prefer = request.headers.get("prefer", "")
        if "transient" not in [p.strip().lower() for p in prefer.split(",")]:
            raise NetSuiteError(
                400,
                "INVALID_HEADER",
                "Invalid Prefer header value. SuiteQL queries must be sent with the header "
                "Prefer: transient.",
                {"o:errorHeader": "Prefer"},
            )
        limit, offset = self._page_params(request)
        body = await self._json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("q"), str):
            raise invalid_content(
                "Invalid content in the request body. Provide the query as a string in 'q'.",
                "q",
            )
        text = body["q"]
        if not text.strip():
            raise invalid_query("Search error occurred: the query is empty.")
        page, total = self._run(text, offset, limit)
        base_href = f"{self._base(request)}{SUITEQL_PATH}"
        items = []
        for row in page:
            item: dict[str, Any] = {"links": []}
            for column, value in row.items():
                shown = suiteql_value(value)
                if shown is not None:
                    item[column.lower()] = shown
            items.append(item)
        answer = {
            "links": self._paging_links(base_href, limit, offset, total, str(request.url)),
            "count": len(items),
            "hasMore": offset + limit < total,
            "items": items,
            "offset": offset,
            "totalResults": total,
        }
        return Response(dumps(answer), media_type=COLLECTION)

    def _run(self, text: str, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        try:
            return self.run_query(text, self.tables, offset, limit)
        except NetSuiteError:
            raise
        except RecursionError as exc:
            raise invalid_query("Search error occurred: Invalid or unsupported search.") from exc
        except Exception as exc:
            detail = getattr(exc, "detail", None)
            if isinstance(detail, str):
                raise invalid_parameter(detail, "q") from exc
            traceback.print_exc(file=sys.stderr)
            raise invalid_query("Search error occurred: Invalid or unsupported search.") from exc


# Fields a record may have without a value (left out of its body), still valid in ?fields=.
_OPTIONAL_FIELDS = {
    "customer": {
        "email",
        "phone",
        "externalId",
        "terms",
        "creditLimit",
        "vatRegNumber",
        "defaultAddress",
    },
    "salesOrder": {"externalId", "memo", "otherRefNum"},
    "invoice": {"externalId", "memo", "otherRefNum", "createdFrom", "dueDate"},
    "customerPayment": {"externalId", "memo"},
}


def _link_for(tran: TransactionRec) -> str:
    return BY_TRAN_TYPE[tran.type].link_name


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name)
    if value is None:
        return False
    lowered = value.strip().lower()
    if lowered in ("true", "t", "1"):
        return True
    if lowered in ("false", "f", "0", ""):
        return False
    raise invalid_parameter(f"Invalid '{name}' query parameter value. Provide true or false.", name)


def _digits(text: str, most: int) -> bool:
    """ASCII digits only (``str.isdigit`` also accepts "²"), at most ``most`` of them."""
    return 0 < len(text) <= most and text.isascii() and text.isdigit()


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


__all__ = ["NetSuiteApi", "QueryRunner"]
