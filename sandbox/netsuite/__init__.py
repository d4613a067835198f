"""An emulator of NetSuite REST web services: OAuth 2.0, the record API v1 and SuiteQL.

`NetSuiteEmulator` loads a `sandbox.world.World` into a `Store` and serves it as an ASGI app:
the handlers of `sandbox.netsuite.app`, the control API and fault injection of
`sandbox.control`, and NetSuite's account concurrency limit (`sandbox.netsuite.limits`).
Committed writes are posted as record change notifications to the webhook targets registered
through ``/__sandbox__/webhooks`` (`sandbox.webhooks`, `sandbox.netsuite.webhooks`).
docs/sandbox-netsuite.md describes what it speaks.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp

from sandbox.clock import DateHeader
from sandbox.control import ControlMiddleware, ControlState
from sandbox.netsuite.app import NetSuiteApi
from sandbox.netsuite.auth import AuthSettings, TokenIssuer
from sandbox.netsuite.errors import injected_error
from sandbox.netsuite.limits import ConcurrencyGate, RejectOverLimit
from sandbox.netsuite.paths import normalize
from sandbox.netsuite.query import run_page
from sandbox.netsuite.seed import build_store
from sandbox.netsuite.store import Store
from sandbox.netsuite.tables import SuiteQlTables
from sandbox.netsuite.webhooks import RecordChangeNotifier
from sandbox.webhooks import Webhooks
from sandbox.world import World

__all__ = ["NetSuiteEmulator", "NetSuiteSettings"]


@dataclass(frozen=True)
class NetSuiteSettings:
    account_id: str = "1234567_SB1"
    client_id: str = "accord-sandbox-ns-client"
    client_secret: str = "accord-sandbox-ns-secret"
    concurrency_limit: int = 15
    token_ttl_seconds: int = 3600
    # The certificate id (JWT header ``kid``) of the integration's M2M key; with a PEM public
    # key the JWT client assertion's signature is verified, without one only its claims are.
    certificate_id: str = "accord-sandbox-ns-certificate"
    jwt_public_key_pem: str | None = None


class NetSuiteEmulator:
    def __init__(self, world: World, settings: NetSuiteSettings | None = None) -> None:
        self.settings = settings or NetSuiteSettings()
        self.store: Store = build_store(world)
        self.tables = SuiteQlTables(self.store)
        self.tables.warm()
        self.issuer = TokenIssuer(
            AuthSettings(
                client_id=self.settings.client_id,
                client_secret=self.settings.client_secret,
                certificate_id=self.settings.certificate_id,
                public_key_pem=self.settings.jwt_public_key_pem,
                token_ttl_seconds=self.settings.token_ttl_seconds,
            )
        )
        self.api = NetSuiteApi(self.store, self.tables, self.issuer, run_page)
        self.control = ControlState(normalize)
        inner = RejectOverLimit(self.api.starlette())
        self.gate = ConcurrencyGate(
            ControlMiddleware(inner, self.control, injected_error), self.settings.concurrency_limit
        )
        self.control.extra["concurrency"] = (self.gate.stats, self.gate.restart)
        # Record change notifications for writes from here on (the seed is not announced).
        self.webhooks = Webhooks("netsuite")
        self.notifier = RecordChangeNotifier(self.store, self.webhooks)
        self.app: ASGIApp = DateHeader(self.webhooks.wrap(self.gate), world.clock)
