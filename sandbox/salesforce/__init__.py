"""An emulator of the Salesforce REST API v59.0 that ``simple-salesforce`` drives unmodified.

It serves SOAP login (``/services/Soap/u/NN.0``), the OAuth 2.0 token endpoint, and the REST
API (query/queryAll with query locators, sObject CRUD and upsert by external id, describe,
limits, composite sObject collections) over one org seeded from the sandbox `World`. The
instance URL is whatever host and port a request came in on. See docs/sandbox-salesforce.md.

    emulator = SalesforceEmulator(build_world(42, 300))
    emulator.app        # the ASGI app, control API included (/__sandbox__/...)
    emulator.webhooks   # change events posted to registered targets (sandbox.webhooks)
    emulator.issue_session()
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from domain import sfid
from sandbox.clock import DateHeader
from sandbox.control import ControlMiddleware, ControlState
from sandbox.salesforce import soap
from sandbox.salesforce.app import RestApi, record_summary
from sandbox.salesforce.dml import Dml
from sandbox.salesforce.errors import ApiError, injected_error
from sandbox.salesforce.oauth import Credentials
from sandbox.salesforce.objects import CORPORATE_CURRENCY, build_schema
from sandbox.salesforce.paths import normalize_path
from sandbox.salesforce.query import QueryEngine
from sandbox.salesforce.seed import load_world
from sandbox.salesforce.sessions import Sessions
from sandbox.salesforce.store import Store
from sandbox.salesforce.usage import ApiUsage, SalesforceControl
from sandbox.salesforce.webhooks import ChangeEventPublisher
from sandbox.webhooks import Webhooks
from sandbox.world import World

__all__ = ["SalesforceEmulator", "SalesforceSettings"]

ORG_NAME = "Accord Sandbox"
INTEGRATION_USER_NAME = "Integration User"


@dataclass(frozen=True)
class SalesforceSettings:
    username: str = "integration@accord.sandbox"
    password: str = "sandbox-password"
    security_token: str = "SANDBOXTOKEN"
    client_id: str = "accord-sandbox-client"
    client_secret: str = "accord-sandbox-secret"
    daily_api_limit: int = 5_000_000
    session_ttl_seconds: int = 7200


class SalesforceEmulator:
    """One emulated org: its records, sessions, API allowance and HTTP app."""

    def __init__(self, world: World, settings: SalesforceSettings | None = None) -> None:
        self.settings = settings or SalesforceSettings()
        self.world = world
        self.org_id = world.org_id
        self.integration_user_id = sfid.make("005", 1)
        self.schema = build_schema(tuple(currency.code for currency in world.currencies))
        self.store = Store(self.schema)
        self.dml = Dml(
            self.schema, self.store, user_id=self.integration_user_id, clock=world.clock.now
        )
        load_world(
            world,
            self.dml,
            integration_user=(
                self.integration_user_id,
                self.settings.username,
                INTEGRATION_USER_NAME,
            ),
        )
        self.sessions = Sessions(self.org_id, self.settings.session_ttl_seconds)
        self.usage = ApiUsage(self.settings.daily_api_limit, today=world.clock.today)
        self.queries = QueryEngine(self.schema, self.store, today=world.clock.today)
        self.control = ControlState(normalize_path)
        self.rest_api = RestApi(self)
        middleware = ControlMiddleware(self.rest_api.app(), self.control, injected_error)
        # Change events for writes from here on (the seed above is not announced).
        self.webhooks = Webhooks("salesforce")
        self.change_events = ChangeEventPublisher(self.store, self.webhooks)
        self.app: ASGIApp = DateHeader(
            self.webhooks.wrap(SalesforceControl(middleware, self.usage, self.sessions)),
            world.clock,
        )

    def issue_session(self) -> str:
        """A valid session id (access token) of the integration user."""
        return self.sessions.issue(self.integration_user_id).token

    # ------------------------------------------------------------------ used by the app

    def credentials(self) -> Credentials:
        s = self.settings
        return Credentials(
            username=s.username,
            password=s.password + s.security_token,
            client_id=s.client_id,
            client_secret=s.client_secret,
            user_id=self.integration_user_id,
            org_id=self.org_id,
        )

    def soap_login(self, request: Request, login: soap.LoginRequest, version: str) -> Response:
        s = self.settings
        if login.username.lower() != s.username.lower() or login.password != (
            s.password + s.security_token
        ):
            raise soap.invalid_login()
        session = self.sessions.issue(self.integration_user_id)
        return soap.login_response(
            soap.LoginResult(
                base_url=str(request.base_url).rstrip("/"),
                version=version,
                org_id=self.org_id,
                org_name=ORG_NAME,
                session_id=session.token,
                session_seconds=s.session_ttl_seconds,
                user_id=self.integration_user_id,
                username=s.username,
                user_full_name=INTEGRATION_USER_NAME,
                user_email=s.username,
                currency=CORPORATE_CURRENCY,
            )
        )

    def limits(self) -> dict[str, Any]:
        records = sum(len(table) for table in self.store.tables.values())
        storage = max(1, records * 2 // 1024)  # about 2 KB a record, as Salesforce counts
        return {
            "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
            "ConcurrentSyncReportRuns": {"Max": 20, "Remaining": 20},
            "DailyApiRequests": {"Max": self.usage.limit, "Remaining": self.usage.remaining},
            "DailyAsyncApexExecutions": {"Max": 250000, "Remaining": 250000},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DataStorageMB": {"Max": 10240, "Remaining": 10240 - storage},
            "FileStorageMB": {"Max": 20480, "Remaining": 20480},
            "HourlyTimeBasedWorkflow": {"Max": 1000, "Remaining": 1000},
            "SingleEmail": {"Max": 5000, "Remaining": 5000},
        }

    def recent_items(self, obj: Any, version: str) -> list[dict[str, Any]]:
        recent: list[dict[str, Any]] = []
        for record in reversed(self.store.tables[obj.name].values()):
            if not record.get("IsDeleted"):
                recent.append(record_summary(obj, record, version))
            if len(recent) == 5:
                break
        return recent

    def delete_many(self, ids: list[str], *, all_or_none: bool) -> list[dict[str, Any]]:
        """``DELETE /composite/sobjects?ids=...``: one result per id."""

        def plan(record_id: str) -> Any:
            try:
                full = sfid.to18(record_id)
            except ValueError:
                return ApiError("MALFORMED_ID", f"malformed id {record_id}", [])
            obj = self.schema.by_prefix(full[:3])
            if obj is None:
                return ApiError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
            return obj, full

        targets = [(record_id, plan(record_id)) for record_id in ids]

        def run(record_id: str, target: Any) -> dict[str, Any]:
            try:
                if isinstance(target, ApiError):
                    raise target
                obj, full = target
                self.dml.delete(obj, full)
                return {"id": full, "success": True, "errors": []}
            except ApiError as error:
                return {"id": record_id, "success": False, "errors": [error.record_error()]}

        if not all_or_none:
            return [run(record_id, target) for record_id, target in targets]
        results: list[dict[str, Any]] = []
        try:
            with self.store.transaction():
                results = [run(record_id, target) for record_id, target in targets]
                if any(not result["success"] for result in results):
                    raise _RolledBack
        except _RolledBack:
            rolled = ApiError(
                "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "Record rolled back because not all records were valid and the request was "
                "using AllOrNone header",
                [],
            ).record_error()
            return [
                {**result, "success": False, "errors": [rolled]} if result["success"] else result
                for result in results
            ]
        return results


class _RolledBack(Exception):
    pass
