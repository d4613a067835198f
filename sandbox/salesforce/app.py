"""The emulator's HTTP surface: SOAP login, OAuth, and the REST API under /services/data.

Paths are split on the raw (still percent-encoded) path and each segment decoded on its own,
so an external id value may contain ``/``. Every REST call under ``/services/data/vNN.0/``
is authenticated (``Authorization: Bearer <session id>``), charged to the daily allowance,
and answered with ``Sforce-Limit-Info``. Failures are Salesforce-shaped JSON lists; nothing
a client sends can produce a bare 500.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from domain import sfid
from sandbox.salesforce import oauth, soap
from sandbox.salesforce.describe import describe_global, describe_object, object_summary
from sandbox.salesforce.dml import MultipleMatches
from sandbox.salesforce.errors import ApiError, invalid_session, json_response, not_found
from sandbox.salesforce.records import attributes, render
from sandbox.salesforce.schema import FieldDef, ObjectDef

if TYPE_CHECKING:
    from sandbox.salesforce import SalesforceEmulator

log = logging.getLogger(__name__)

MIN_VERSION = 31
MAX_VERSION = 59
MAX_URI_BYTES = 16_384
MAX_BODY_BYTES = 50_000_000
COLLECTION_LIMIT = 200
_VERSION = re.compile(r"v(\d{2})\.0")
_SOAP_VERSION = re.compile(r"\d{1,2}\.\d")
_RELEASES = ("Winter", "Summer", "Spring")  # versions count down 59 Winter '24, 58 Summer '23...

Handler = Callable[[], Awaitable[Response]]


def release_label(version: int) -> str:
    back = MAX_VERSION - version
    season = _RELEASES[back % 3]
    year = 24 - (back + 2) // 3 if season != "Winter" else 24 - back // 3
    return f"{season} '{year:02d}"


def versions() -> list[dict[str, str]]:
    return [
        {"label": release_label(v), "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
        for v in range(MIN_VERSION, MAX_VERSION + 1)
    ]


def _method_not_allowed(method: str, allowed: list[str]) -> ApiError:
    return ApiError(
        "METHOD_NOT_ALLOWED",
        f"HTTP Method '{method}' not allowed. Allowed are {','.join(allowed)}",
    )


def _parse_json(body: bytes) -> Any:
    if not body.strip():
        raise ApiError(
            "JSON_PARSER_ERROR", "No content to map due to end-of-input at [line:1, column:0]"
        )
    try:
        return json.loads(body.decode("utf-8"), parse_float=Decimal)
    except UnicodeDecodeError:
        raise ApiError("JSON_PARSER_ERROR", "Invalid UTF-8 in the request body") from None
    except json.JSONDecodeError as exc:
        char = exc.doc[exc.pos] if exc.pos < len(exc.doc) else None
        if char is None:
            detail = "Unexpected end-of-input"
        else:
            detail = (
                f"Unexpected character ('{char}' (code {ord(char)})): expected a valid "
                "value (number, String, array, object, 'true', 'false' or 'null')"
            )
        raise ApiError(
            "JSON_PARSER_ERROR", f"{detail} at [line:{exc.lineno}, column:{exc.colno}]"
        ) from None
    except (ValueError, RecursionError):
        raise ApiError("JSON_PARSER_ERROR", "Unable to parse the request body") from None


class RestApi:
    """Dispatches one request; owned by the emulator, which holds the org's state."""

    def __init__(self, emulator: SalesforceEmulator) -> None:
        self.org = emulator

    def app(self) -> Starlette:
        # An ASGI endpoint takes every method; `dispatch` answers 405 in Salesforce's shape.
        return Starlette(routes=[Route("/{rest:path}", _Endpoint(self))])

    async def endpoint(self, request: Request) -> Response:
        if request.method == "HEAD":  # a GET whose body the server leaves out
            request = Request({**request.scope, "method": "GET"}, request.receive)
        try:
            return await self.dispatch(request)
        except ApiError as error:
            return error.response()
        except Exception:  # a bug here must still answer like Salesforce, never a bare 500
            log.exception("salesforce emulator failed on %s %s", request.method, request.url.path)
            return ApiError(
                "UNKNOWN_EXCEPTION",
                "An unexpected error occurred. Please include this ErrorId if you contact "
                "support: 1208153-55821 (-1563925853)",
            ).response()

    async def dispatch(self, request: Request) -> Response:
        raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string", b"")
        uri_bytes = len(raw_path) + (len(query) + 1 if query else 0)
        if uri_bytes > MAX_URI_BYTES:
            return Response(b"URI Too Long", 414, media_type="text/plain")
        header_bytes = sum(len(k) + len(v) + 4 for k, v in request.scope["headers"])
        if uri_bytes + header_bytes > MAX_URI_BYTES:
            return Response(b"Request Header Fields Too Large", 431, media_type="text/plain")
        raw = raw_path.decode("latin-1").split("/")[1:]
        if raw and raw[-1] == "":
            raw.pop()
        segments = [unquote(part, errors="replace") for part in raw]
        method = request.method
        if segments[:2] == ["services", "oauth2"] and len(segments) == 3:
            creds = self.org.credentials()
            if segments[2] == "token":
                if method != "POST":
                    raise _method_not_allowed(method, ["POST"])
                return await oauth.token(request, creds, self.org.sessions)
            if segments[2] == "revoke":
                return await oauth.revoke(request, self.org.sessions)
        if segments[:3] == ["services", "Soap", "u"] and len(segments) in (4, 5):
            return await self.soap_login(request, segments[3])
        if segments[:2] == ["services", "data"]:
            if len(segments) == 2:
                if method != "GET":
                    raise _method_not_allowed(method, ["GET"])
                return json_response(versions())
            match = _VERSION.fullmatch(segments[2])
            if match is None or not MIN_VERSION <= int(match[1]) <= MAX_VERSION:
                raise not_found()
            return await self.rest(request, f"{match[1]}.0", segments[3:])
        raise not_found()

    # ------------------------------------------------------------------ SOAP

    async def soap_login(self, request: Request, version: str) -> Response:
        if not _SOAP_VERSION.fullmatch(version):
            raise not_found()
        if request.method != "POST":
            raise _method_not_allowed(request.method, ["POST"])
        try:
            login = soap.parse_login(await request.body())
            return self.org.soap_login(request, login, version)
        except soap.SoapFault as fault:
            return fault.response()

    # ------------------------------------------------------------------ REST

    async def rest(self, request: Request, version: str, rest: list[str]) -> Response:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        session = None
        if scheme.lower() in ("bearer", "oauth") and token.strip():
            session = self.org.sessions.check(token.strip())
        if session is None:
            return invalid_session().response()
        usage = self.org.usage
        if not usage.charge():
            return ApiError("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.").response(
                {"Sforce-Limit-Info": usage.header()}
            )
        try:
            response = await self.route(request, version, rest)
        except ApiError as error:
            response = error.response()
        except MultipleMatches as multiple:
            response = json_response(
                [
                    f"/services/data/v{version}/sobjects/{multiple.sobject}/{record_id}"
                    for record_id in multiple.ids
                ],
                300,
            )
        response.headers["Sforce-Limit-Info"] = usage.header()
        return response

    async def route(self, request: Request, version: str, rest: list[str]) -> Response:
        method = request.method
        head = rest[0] if rest else ""
        if not rest:
            self._allow(method, ["GET"])
            return json_response(
                {
                    name: f"/services/data/v{version}/{name}"
                    for name in ("sobjects", "query", "queryAll", "limits", "composite")
                }
            )
        if head == "limits" and len(rest) == 1:
            self._allow(method, ["GET"])
            return json_response(self.org.limits())
        if head in ("query", "queryAll") and len(rest) <= 2:
            self._allow(method, ["GET"])
            if len(rest) == 2:
                return json_response(self.org.queries.more(rest[1], version))
            return self.query(request, version, include_deleted=head == "queryAll")
        if head == "sobjects":
            return await self.sobjects(request, version, rest[1:])
        if rest[:2] == ["composite", "sobjects"] and len(rest) == 2:
            return await self.collection(request, version)
        raise not_found()

    @staticmethod
    def _allow(method: str, allowed: list[str]) -> None:
        if method not in allowed:
            raise _method_not_allowed(method, allowed)

    def query(self, request: Request, version: str, *, include_deleted: bool) -> Response:
        text = request.query_params.get("q")
        if text is None or not text.strip():
            raise ApiError("MALFORMED_QUERY", "A query string has to be specified")
        batch = None
        options = request.headers.get("sforce-query-options", "")
        for option in options.split(","):
            key, _, value = option.strip().partition("=")
            if key.strip().lower() == "batchsize" and value.strip().isdigit():
                batch = int(value.strip())
        page = self.org.queries.run(
            text, include_deleted=include_deleted, version=version, batch_size=batch
        )
        return json_response(page)

    # ------------------------------------------------------------------ sobjects

    def _object(self, name: str) -> ObjectDef:
        obj = self.org.schema.object(name)
        if obj is None:
            raise not_found()
        return obj

    async def sobjects(self, request: Request, version: str, rest: list[str]) -> Response:
        method = request.method
        if not rest:
            self._allow(method, ["GET"])
            return json_response(describe_global(self.org.schema, version))
        obj = self._object(rest[0])
        dml = self.org.dml
        if len(rest) == 1:
            self._allow(method, ["GET", "POST"])
            if method == "GET":
                return json_response(
                    {
                        "objectDescribe": object_summary(obj, version),
                        "recentItems": self.org.recent_items(obj, version),
                    }
                )
            new_id = dml.create(obj, _parse_json(await self._body(request)))
            return json_response({"id": new_id, "success": True, "errors": []}, 201)
        second = rest[1]
        if len(rest) == 2 and second == "describe":
            self._allow(method, ["GET"])
            return json_response(describe_object(obj, version))
        if len(rest) == 2 and _looks_like_id(second, obj):
            self._allow(method, ["GET", "PATCH", "DELETE"])
            if method == "GET":
                record = dml.existing(obj, second)
                fields = self._fields_param(obj, request.query_params.get("fields"))
                return json_response(render(self.org.store, obj, record, version, fields))
            if method == "PATCH":
                dml.update(obj, second, _parse_json(await self._body(request)))
                return Response(status_code=204)
            dml.delete(obj, second)
            return Response(status_code=204)
        if len(rest) == 2:
            raise ApiError(
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {second}",
            )
        if len(rest) > 3 and _looks_like_id(second, obj):
            raise not_found()  # a relationship path under a record: not emulated
        value = "/".join(rest[2:])
        field = self._external_field(obj, second)
        return await self.by_external_id(request, version, obj, field, value)

    def _external_field(self, obj: ObjectDef, name: str) -> FieldDef:
        field = obj.field(name)
        if field is None or not (field.external_id or field.name == "Id"):
            raise ApiError(
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {name}",
            )
        return field

    async def by_external_id(
        self, request: Request, version: str, obj: ObjectDef, field: FieldDef, value: str
    ) -> Response:
        method = request.method
        self._allow(method, ["GET", "PATCH", "DELETE"])
        dml = self.org.dml
        if method == "PATCH":
            body = _parse_json(await self._body(request))
            record_id, created = dml.upsert(obj, field, value, body)
            if float(version) < 46 and not created:
                return Response(status_code=204)
            result = {"id": record_id, "success": True, "errors": [], "created": created}
            return json_response(result, 201 if created else 200)
        if field.name == "Id":
            matches = [dml.existing(obj, value)["Id"]]
        else:
            matches = dml.find_external(obj, field, value)
            if not matches and "+" in value:  # a client that quoted the value with quote_plus
                matches = dml.find_external(obj, field, value.replace("+", " "))
        if not matches:
            raise not_found()
        if len(matches) > 1:
            raise MultipleMatches(obj.name, matches)
        if method == "DELETE":
            dml.delete(obj, matches[0])
            return Response(status_code=204)
        record = self.org.store.tables[obj.name][matches[0]]
        fields = self._fields_param(obj, request.query_params.get("fields"))
        return json_response(render(self.org.store, obj, record, version, fields))

    def _fields_param(self, obj: ObjectDef, text: str | None) -> list[FieldDef] | None:
        if text is None:
            return None
        fields: list[FieldDef] = []
        for name in (part.strip() for part in text.split(",")):
            if not name:
                continue
            field = obj.field(name)
            if field is None:
                raise ApiError(
                    "INVALID_FIELD",
                    f"No such column '{name}' on entity '{obj.name}'. If you are attempting to "
                    "use a custom field, be sure to append the '__c' after the custom field "
                    "name. Please reference your WSDL or the describe call for the appropriate "
                    "names.",
                )
            if field not in fields:
                fields.append(field)
        return fields

    async def _body(self, request: Request) -> bytes:
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            raise ApiError("JSON_PARSER_ERROR", "The request body is too large", status=413)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise ApiError("JSON_PARSER_ERROR", "The request body is too large", status=413)
        return body

    # ------------------------------------------------------------------ composite

    async def collection(self, request: Request, version: str) -> Response:
        method = request.method
        self._allow(method, ["POST", "PATCH", "DELETE"])
        dml = self.org.dml
        if method == "DELETE":
            ids = [i.strip() for i in request.query_params.get("ids", "").split(",") if i.strip()]
            if not ids:
                raise ApiError("MISSING_ARGUMENT", "ids parameter is required")
            if len(ids) > COLLECTION_LIMIT:
                raise _too_many()
            all_or_none = request.query_params.get("allOrNone", "false").lower() == "true"
            return json_response(self.org.delete_many(ids, all_or_none=all_or_none))
        body = _parse_json(await self._body(request))
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise ApiError(
                "JSON_PARSER_ERROR", "The request body must be an object with a records array"
            )
        records = body["records"]
        all_or_none = body.get("allOrNone", False)
        if not isinstance(all_or_none, bool):
            raise ApiError("JSON_PARSER_ERROR", "allOrNone must be true or false")
        if len(records) > COLLECTION_LIMIT:
            raise _too_many()
        typed: list[tuple[ObjectDef | ApiError, Any]] = []
        for record in records:
            if not isinstance(record, dict):
                raise ApiError("JSON_PARSER_ERROR", "Each record must be a JSON object")
            attrs = record.get("attributes")
            type_name = attrs.get("type") if isinstance(attrs, dict) else None
            obj: ObjectDef | ApiError
            if not isinstance(type_name, str) or not type_name:
                obj = ApiError("INVALID_TYPE", "Must specify a type in attributes", [])
            else:
                found = self.org.schema.object(type_name)
                obj = (
                    found
                    if found is not None
                    else ApiError(
                        "INVALID_TYPE", f"sObject type '{type_name}' is not supported.", []
                    )
                )
            typed.append((obj, {k: v for k, v in record.items() if k != "attributes"}))
        results = dml.collection(typed, update=method == "PATCH", all_or_none=all_or_none)
        return json_response(results)


class _Endpoint:
    def __init__(self, api: RestApi) -> None:
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.api.endpoint(Request(scope, receive))
        await response(scope, receive, send)


def _too_many() -> ApiError:
    return ApiError(
        "EXCEEDED_ID_LIMIT",
        f"record limit reached. cannot submit more than {COLLECTION_LIMIT} records into this call",
    )


def _looks_like_id(segment: str, obj: ObjectDef) -> bool:
    """A record id of ``obj`` in form (15 or 18 characters of the object's key prefix)."""
    return (
        len(segment) in (15, 18)
        and segment.isalnum()
        and segment.isascii()
        and segment[:3] == obj.key_prefix
    ) or sfid.is_valid(segment)


def record_summary(obj: ObjectDef, record: dict[str, Any], version: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "attributes": attributes(obj, record["Id"], version),
        "Id": record["Id"],
    }
    if obj.name_field:
        item[obj.name_field] = record.get(obj.name_field)
    return item
