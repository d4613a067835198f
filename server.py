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
import logging
import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from api.graphql_http import GraphQLHttp
from api.health import Readiness, healthz
from config.settings import Settings, SettingsError, load_settings
from resolvers.context import AccordContext, Sources
from sandbox.endpoints import Endpoints
from schema import build_schema
from sources.netsuite import NetSuiteErp
from sources.netsuite_http import NetSuiteConfig
from sources.resilience import ResiliencePolicy
from sources.salesforce import SalesforceConfig, SalesforceCrm

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


def create_app(salesforce: SalesforceConfig, netsuite: NetSuiteConfig) -> Starlette:
    crm = SalesforceCrm(salesforce)
    erp = NetSuiteErp(netsuite)
    sources = Sources(crm=crm, erp=erp)

    async def context(request: Request) -> AccordContext:
        return AccordContext.for_request(sources)

    graphql = GraphQLHttp(build_schema(), context)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for name, start in (("Salesforce", crm.start), ("NetSuite", erp.start)):
            try:
                await start()
            except Exception as exc:  # a source down at start is served as down, not fatal
                logger.warning("%s is not usable at start: %s", name, exc)
        try:
            yield
        finally:
            await crm.close()
            await erp.close()

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
        print(
            "Accord runs on its sandbox with state in memory: for trying Accord and development.",
            flush=True,
        )
    try:
        salesforce, netsuite = source_configs(settings, endpoints_file)
        app = create_app(salesforce, netsuite)
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
