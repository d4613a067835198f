"""Accord's composition root: settings, lifespan (source clients), routes. Builds, never decides.

    python server.py                      # embedded default: starts the sandbox emulators
    python server.py --sandbox F          # attach to a sandbox already running (its endpoints file)
    python server.py --endpoints-file F   # also write the started sandbox's endpoints to F
    ACCORD_SALESFORCE_...=... ACCORD_NETSUITE_...=... python server.py   # real systems

Settings come from ``ACCORD_*`` environment variables (see `config.settings`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import os
import shutil
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from api.auth import DEMO_KEYS, ApiKeyAuthenticator, AuthenticationFailed
from api.graphql_http import GraphQLHttp
from api.health import Readiness, healthz
from config.settings import Settings, SettingsError, load_settings
from mutations.audit import AuditTrail
from mutations.book_order import BOOK_ORDER_STEPS
from mutations.common import WriteServices
from mutations.workflow import EngineSettings, WorkflowEngine, WorkflowKind, WorkflowStore
from resolvers.context import AccordContext, Sources
from sandbox.endpoints import Endpoints
from schema.build import build_schema
from schema.ownership import Role
from sources.netsuite import NetSuiteErp
from sources.netsuite_http import NetSuiteConfig
from sources.resilience import ResiliencePolicy
from sources.salesforce import SalesforceConfig, SalesforceCrm
from state.backend import open_backend
from state.idempotency import IdempotencyStore

logger = logging.getLogger("accord")


def configs_from_endpoints(
    endpoints: Endpoints, policy: ResiliencePolicy
) -> tuple[SalesforceConfig, NetSuiteConfig]:
    """Source configurations for a running sandbox, with the clients its endpoints file names."""
    sf, ns = endpoints.salesforce, endpoints.netsuite
    return (
        SalesforceConfig(
            instance_url=sf.instance_url,
            auth="client_credentials",
            client_id=sf.client_id,
            client_secret=sf.client_secret,
            ca_file=sf.ca_file,
            policy=policy,
        ),
        NetSuiteConfig(
            account_id=ns.account_id,
            base_url=ns.base_url,
            token_url=ns.token_url,
            client_id=ns.client_id,
            client_secret=ns.client_secret,
            ca_file=ns.ca_file,
            policy=policy,
        ),
    )


def source_configs(
    settings: Settings, endpoints_file: Path | None
) -> tuple[SalesforceConfig, NetSuiteConfig]:
    """The two sources' configurations: from the settings, or from a sandbox's endpoints."""
    if settings.salesforce is not None and settings.netsuite is not None:
        return settings.salesforce, settings.netsuite
    if endpoints_file is None:
        raise SettingsError(["no sources configured and no sandbox to attach to"])
    try:
        endpoints = Endpoints.read(endpoints_file)
    except (OSError, ValueError) as exc:
        raise SettingsError([f"--sandbox {endpoints_file}: {exc}"]) from None
    return configs_from_endpoints(endpoints, settings.policy)


@dataclass(frozen=True)
class AppOptions:
    """What the application needs beyond its two sources."""

    redis_url: str | None = None  # None: state in memory
    state_prefix: str = "accord:"  # keys in Redis start with it
    api_keys: Mapping[str, Role] = field(default_factory=dict)
    anonymous_reads: bool = True
    engine: EngineSettings = field(default_factory=EngineSettings)
    idempotency_claim: float = 10.0  # a dead process's claim on a key lapses after this
    recover_workflows: bool = True
    today: Callable[[], dt.date] = dt.date.today


def options_from(settings: Settings) -> AppOptions:
    keys = dict(settings.api_keys)
    if settings.sandbox:
        keys.update(DEMO_KEYS)
    return AppOptions(
        redis_url=settings.redis_url,
        state_prefix=settings.redis_prefix,
        api_keys=keys,
        anonymous_reads=settings.anonymous_reads,
        engine=EngineSettings(
            lease_ttl=settings.workflow_lease, recover_every=settings.workflow_recovery
        ),
    )


def create_app(
    salesforce: SalesforceConfig, netsuite: NetSuiteConfig, options: AppOptions = AppOptions()
) -> Starlette:
    crm = SalesforceCrm(salesforce)
    erp = NetSuiteErp(netsuite)
    sources = Sources(crm=crm, erp=erp)
    backend = open_backend(options.redis_url, prefix=options.state_prefix)
    workflows = WorkflowStore(backend)
    audit = AuditTrail(backend)
    services = WriteServices(
        crm=crm,
        erp=erp,
        backend=backend,
        audit=audit,
        idempotency=IdempotencyStore(backend, running_ttl=options.idempotency_claim),
        workflows=workflows,
        today=options.today,
    )
    services.engine = WorkflowEngine(
        workflows,
        audit,
        {WorkflowKind.BOOK_ORDER: BOOK_ORDER_STEPS},
        services=services,
        settings=options.engine,
    )
    authenticator = ApiKeyAuthenticator(options.api_keys)

    async def context(request: Request) -> AccordContext:
        caller = authenticator.authenticate(request)
        if caller.anonymous and not options.anonymous_reads:
            raise AuthenticationFailed("send Authorization: Bearer <API key>")
        return AccordContext.for_request(sources, caller, services)

    graphql = GraphQLHttp(build_schema(), context)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for name, start in (("Salesforce", crm.start), ("NetSuite", erp.start)):
            try:
                await start()
            except Exception as exc:  # a source down at start is served as down, not fatal
                logger.warning("%s is not usable at start: %s", name, exc)
        recovery = None
        if options.recover_workflows and services.engine is not None:
            recovery = asyncio.create_task(services.engine.recover_forever())
        try:
            yield
        finally:
            if recovery is not None:
                recovery.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await recovery
            await crm.close()
            await erp.close()
            await backend.close()

    return Starlette(
        routes=[
            Route("/graphql", graphql.handle, methods=["GET", "POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", Readiness([crm, erp]).handle, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python server.py", description="Run Accord.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--endpoints-file", type=Path, help="write the started sandbox's endpoints here"
    )
    parser.add_argument(
        "--sandbox", type=Path, help="attach to a running sandbox described by this endpoints file"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings(os.environ)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per upstream call is noise

    process = None
    endpoints_file: Path | None = args.sandbox
    if settings.sandbox and endpoints_file is None:
        from sandbox.process import SandboxProcess

        process = SandboxProcess(customers=settings.sandbox_customers)
        print("Starting the embedded sandbox (Salesforce and NetSuite emulators)...", flush=True)
        process.start()
        endpoints_file = process.endpoints_file
        if args.endpoints_file:
            shutil.copyfile(endpoints_file, args.endpoints_file)
    if settings.sandbox:
        state = "in Redis" if settings.redis_url else "in memory"
        print(
            f"Accord runs on its sandbox with state {state}: for trying Accord and development. "
            "Demo API keys: demo-sales, demo-finance, demo-ops, demo-analytics.",
            flush=True,
        )
    try:
        salesforce, netsuite = source_configs(settings, endpoints_file)
        app = create_app(salesforce, netsuite, options_from(settings))
        print(f"Accord serves GraphQL at http://{args.host}:{args.port}/graphql", flush=True)
        config = uvicorn.Config(
            app, host=args.host, port=args.port, log_level=settings.log_level, access_log=False
        )
        asyncio.run(uvicorn.Server(config).serve())
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    finally:
        if process is not None:
            process.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
