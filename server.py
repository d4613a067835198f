"""Accord's composition root: settings, lifespan (source clients), routes. Builds, never decides.

    python server.py                      # embedded default: starts the sandbox emulators
    python server.py --sandbox F          # attach to a sandbox already running (its endpoints file)
    python server.py --endpoints-file F   # also write the started sandbox's endpoints to F
    python server.py --workers N          # N worker processes on one port (state in Redis)
    ACCORD_SALESFORCE_...=... ACCORD_NETSUITE_...=... python server.py   # real systems

Settings come from ``ACCORD_*`` environment variables (see `config.settings`).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import dataclasses
import datetime as dt
import functools
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route, WebSocketRoute

from api.auth import DEMO_KEYS, ApiKeyAuthenticator
from api.callers import CallerSlots
from api.console import console_assets, console_page
from api.cors import CorsMiddleware, CorsPolicy
from api.departure import Departure
from api.event_stream import EventStream
from api.exposure import Exposure, build_pipeline
from api.graphiql import graphiql_assets
from api.graphql_http import GraphQLHttp
from api.health import Readiness, healthz
from api.identity import BearerAuthenticator, OidcOptions, TokenVerifier
from api.listener import ListenError, address_of, listen
from api.persisted import PersistedQueries, PersistedQueryOptions
from api.response_cache import ResponseCache, ResponseCacheSettings
from api.sdl import SchemaDocument
from api.serving import serve
from api.subscriptions import SubscriptionLimits, SubscriptionServer
from api.telemetry import MetricsEndpoint, RequestTelemetry, caller_samples, registered_names
from api.webhooks import intake_routes
from api.workers import WorkerFailed, available_cores, run_workers
from cache import CacheSettings, InvalidatingCrm, InvalidatingErp, ReadCache
from config.settings import Settings, SettingsError, load_settings
from domain.caller import Caller
from domain.ownership import REGISTRY, Role, System
from events.bus import Bus, SubscriberOverflow, open_bus
from events.bus.errors import BusError
from events.bus.options import BusOptions
from events.normalize import Normalizer
from events.pollers import feed_poller
from events.propagation import CreditStatusPropagation
from mutations.booking_steps import BOOK_ORDER_STEPS
from mutations.common import WritePorts, WriteServices
from mutations.workflow import EngineSettings, WorkflowEngine, WorkflowKind, WorkflowStore
from mutations.workflow_events import counting, dead_letter_reading, publishing
from reconcile import Reconciler
from resolvers.context import AccordContext, Services, Sources
from sandbox.endpoints import Endpoints
from sandbox.intake import register_intake
from schema.build import build_schema, sdl_of
from schema.federation import build_subgraph_schema
from sources import erps
from sources.concurrency import ConcurrencyBudget, LocalBudget
from sources.erps import DEFAULT_ERP
from sources.errors import SourceError
from sources.netsuite_http import NetSuiteConfig
from sources.outage import OutageLog
from sources.ports import ErpPort
from sources.resilience import ResiliencePolicy
from sources.salesforce import SalesforceCrm
from sources.salesforce_client import SalesforceConfig
from state.audit import AuditTrail
from state.backend import StateBackend, open_backend
from state.budget import RedisBudget
from state.errors import StateError
from state.idempotency import IdempotencyStore
from state.preflight import RedisUnusable, check_redis
from telemetry import metrics, tracing
from telemetry.logs import configure_logging
from telemetry.options import TelemetryOptions

logger = logging.getLogger("accord")

# A sandbox Tryton posts every invoice itself (minutes for hundreds), so it seeds a world of
# 60 customers, which holds every case the world has; a prepared one starts in seconds.
TRYTON_SANDBOX_CUSTOMERS = 60
TRYTON_SANDBOX_START = 900.0  # seconds a first start (no prepared database yet) may take


def configs_of_crm(endpoints: Endpoints, policy: ResiliencePolicy) -> SalesforceConfig:
    """The CRM's configuration for a running sandbox, with the client its endpoints file names."""
    sf = endpoints.salesforce
    return SalesforceConfig(
        instance_url=sf.instance_url,
        auth="client_credentials",
        client_id=sf.client_id,
        client_secret=sf.client_secret,
        ca_file=sf.ca_file,
        policy=policy,
    )


def configs_from_endpoints(
    endpoints: Endpoints, policy: ResiliencePolicy
) -> tuple[SalesforceConfig, NetSuiteConfig]:
    """Source configurations for a running sandbox of NetSuite's emulator, with the clients
    its endpoints file names."""
    ns = endpoints.netsuite
    return (
        configs_of_crm(endpoints, policy),
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


def source_configs(settings: Settings, endpoints_file: Path | None) -> tuple[SalesforceConfig, Any]:
    """The CRM's and the ERP's configurations: from the settings (an ERP adapter that reads
    its own variables: from them), or from a sandbox's endpoints, whose ERP must be the one
    selected (``ACCORD_ERP``, ``--erp``)."""
    erp_config = settings.erp_config if settings.erp_config is not None else settings.netsuite
    if settings.salesforce is not None and erp_config is not None:
        return settings.salesforce, erp_config
    if endpoints_file is None:
        raise SettingsError(["no sources configured and no sandbox to attach to"])
    chosen = erps.adapter(settings.erp)
    try:
        endpoints = Endpoints.read(endpoints_file)
        if endpoints.sandbox.erp != chosen.name:
            raise ValueError(
                f"this sandbox runs {endpoints.sandbox.erp} as its ERP, not {chosen.product} "
                f"(start it with --erp {chosen.name}, or select {endpoints.sandbox.erp} with "
                "ACCORD_ERP or --erp)"
            )
        if chosen.from_sandbox is not None:
            salesforce = configs_of_crm(endpoints, settings.policy)
            return salesforce, erp_config or chosen.from_sandbox(endpoints, settings.policy)
        salesforce, netsuite = configs_from_endpoints(endpoints, settings.policy)
        return salesforce, erp_config if erp_config is not None else netsuite
    except (OSError, ValueError) as exc:
        raise SettingsError([f"--sandbox {endpoints_file}: {exc}"]) from None


@dataclass(frozen=True)
class AppOptions:
    """What the application needs beyond its two sources."""

    redis_url: str | None = None  # None: state in memory
    state_prefix: str = "accord:"  # keys in Redis start with it
    redis_timeout: float = 2.0  # seconds to connect and per command: a slow Redis fails fast
    netsuite_concurrency: int = 15  # the account's limit, shared by the replicas (Redis)
    erp: str = DEFAULT_ERP  # the ERP adapter (`sources.erps`)
    api_keys: Mapping[str, Role] = field(default_factory=dict)
    anonymous_reads: bool = True
    engine: EngineSettings = field(default_factory=EngineSettings)
    idempotency_claim: float = 10.0  # a dead process's claim on a key lapses after this
    recover_workflows: bool = True
    today: Callable[[], dt.date] | None = None  # None: the ERP's own date (sources.clock)
    cache: CacheSettings = field(default_factory=CacheSettings)  # the read cache (docs/caching.md)
    responses: ResponseCacheSettings = field(default_factory=ResponseCacheSettings)  # with it
    persisted_queries: PersistedQueryOptions = field(default_factory=PersistedQueryOptions)
    events: EventOptions = field(default_factory=lambda: EventOptions())
    subscriptions: SubscriptionLimits = field(default_factory=SubscriptionLimits)
    cors: CorsPolicy | None = None  # browser pages of other origins: none may call
    exposure: Exposure = field(default_factory=Exposure)  # limits, budgets, introspection
    oidc: OidcOptions | None = None  # the issuer whose bearer tokens name callers
    reconcile_every: float = 0.0  # seconds between scheduled reconciliations; 0: on demand only
    telemetry: TelemetryOptions = field(default_factory=TelemetryOptions)


@dataclass(frozen=True)
class EventOptions:
    """Changes coming in (webhooks, pollers) and going out (subscriptions, propagation)."""

    enabled: bool = True  # the bus; off, nothing below runs
    salesforce_secrets: tuple[str, ...] = ()  # no secret: no intake route for that source
    erp_secrets: tuple[str, ...] = ()
    poll_interval: float = 0.0  # seconds; 0: no pollers
    propagate: bool = True  # mirror the ERP's credit standing in the CRM
    sandbox: Endpoints | None = None  # register this Accord's intake with that sandbox
    public_url: str | None = None  # where the sandbox reaches this Accord


def options_from(
    settings: Settings, *, sandbox: Endpoints | None = None, public_url: str | None = None
) -> AppOptions:
    keys = dict(settings.api_keys)
    sf_secrets, erp_secrets = settings.salesforce_webhook_secrets, settings.erp_webhook_secrets
    if settings.sandbox:
        keys.update(DEMO_KEYS)
        # The sandbox sends its webhooks to this process: one secret for this run.
        secret = secrets.token_hex(24)
        sf_secrets, erp_secrets = sf_secrets or (secret,), erp_secrets or (secret,)
    events = EventOptions(
        salesforce_secrets=sf_secrets,
        erp_secrets=erp_secrets,
        poll_interval=settings.poll_seconds,
        propagate=settings.propagate,
        sandbox=sandbox if settings.sandbox else None,
        public_url=public_url,
    )
    return AppOptions(
        events=events,
        redis_url=settings.redis_url,
        state_prefix=settings.redis_prefix,
        redis_timeout=settings.redis_timeout,
        netsuite_concurrency=settings.netsuite_concurrency,
        erp=settings.erp,
        api_keys=keys,
        anonymous_reads=settings.anonymous_reads,
        cache=CacheSettings(
            enabled=settings.cache,
            max_entries=settings.cache_size,
            max_bytes=settings.cache_memory_mb * 2**20,
        ),
        engine=EngineSettings(
            lease_ttl=settings.workflow_lease,
            recover_every=settings.workflow_recovery,
            retry_for=settings.workflow_retry,
        ),
        responses=ResponseCacheSettings(enabled=settings.response_cache),
        persisted_queries=settings.persisted_queries,
        cors=settings.cors,
        exposure=settings.exposure,
        subscriptions=settings.subscriptions,
        oidc=settings.oidc,
        reconcile_every=settings.reconcile_seconds,
        telemetry=settings.telemetry,
    )


def erp_budget(options: AppOptions, name: str, *, hold: float) -> ConcurrencyBudget:
    """The ERP account's concurrency limit: shared by the replicas through Redis, or this
    process's own (``name``: the ERP adapter's)."""
    if options.redis_url is None:
        return LocalBudget(options.netsuite_concurrency)
    return RedisBudget(
        options.redis_url,
        name,
        options.netsuite_concurrency,
        prefix=options.state_prefix,
        hold=hold,
        timeout=options.redis_timeout,
    )


def create_app(
    salesforce: SalesforceConfig, erp_config: Any, options: AppOptions = AppOptions()
) -> Starlette:
    """Accord over the CRM and the ERP ``options.erp`` names (``erp_config``: its
    configuration, e.g. a `NetSuiteConfig`)."""
    crm = SalesforceCrm(salesforce)
    chosen = erps.adapter(options.erp)
    if not isinstance(erp_config, chosen.config_type):
        raise SettingsError([f"the {chosen.product} adapter needs a {chosen.config_type.__name__}"])
    policy = getattr(erp_config, "policy", None)
    hold = getattr(policy, "timeout", 10.0) + 30.0
    budget = erp_budget(options, chosen.name, hold=hold)
    # one notion of today, reads and writes
    erp = chosen.factory(erp_config, erps.ErpContext(today=options.today, budget=budget))
    unmapped = [
        *REGISTRY.unmapped(System.CRM, crm.customer_attributes, crm.writable_attributes),
        *REGISTRY.unmapped(System.ERP, erp.customer_attributes, erp.writable_attributes),
    ]
    if unmapped:  # the registry gives a system a field its adapter cannot serve
        raise SettingsError(unmapped)
    sources = Sources(crm=crm, erp=erp)
    # One read cache per process; Redis (when configured) shares it between replicas.
    cache = (
        ReadCache(
            options.cache,
            redis_url=options.redis_url,
            prefix=options.state_prefix,
            sources={System.CRM: crm.source, System.ERP: erp.source},
        )
        if options.cache.enabled
        else None
    )
    backend = open_backend(
        options.redis_url, prefix=options.state_prefix, timeout=options.redis_timeout
    )
    events = options.events
    bus = (
        open_bus(
            options.redis_url,
            prefix=options.state_prefix,
            options=BusOptions(
                connect_timeout=options.redis_timeout, command_timeout=options.redis_timeout
            ),
        )
        if events.enabled
        else None
    )
    normalizer = Normalizer(
        crm, erp, backend, publish=bus.publish if bus else None, today=erp.today
    )
    workflows = WorkflowStore(backend)
    audit = AuditTrail(backend)
    ports = WritePorts(
        # the write path's ports drop what each write changes from the read cache
        crm=InvalidatingCrm(crm, cache) if cache is not None else crm,
        erp=InvalidatingErp(erp, cache) if cache is not None else erp,
        backend=backend,
        audit=audit,
        idempotency=IdempotencyStore(backend, running_ttl=options.idempotency_claim),
        workflows=workflows,
        today=erp.today,
        # with events on, each write's events go out at once
        changes=normalizer.process if bus is not None else None,
    )
    engine = WorkflowEngine(
        workflows,
        audit,
        {WorkflowKind.BOOK_ORDER: BOOK_ORDER_STEPS},
        services=ports,
        settings=options.engine,
        on_change=counting(publishing(bus.publish) if bus is not None else None),
    )
    services = WriteServices.of(ports, engine)
    # Sweeps read the sources themselves: a comparison of the systems never reads a cached copy.
    reconciler = Reconciler(crm, erp, backend)
    authenticator = BearerAuthenticator(
        ApiKeyAuthenticator(options.api_keys, anonymous=options.anonymous_reads),
        TokenVerifier(options.oidc) if options.oidc else None,
    )
    propagation = CreditStatusPropagation(services.crm, services.erp, services.idempotency, audit)

    built = Services(sources, services, bus, reconciler, cache)

    def connection_context(caller: Caller) -> AccordContext:
        return AccordContext.for_request(built, caller)

    schema = build_schema()
    persisted = PersistedQueries(options.persisted_queries, backend)
    exposure = options.exposure
    sdl_document = SchemaDocument(sdl_of(schema), authenticator, exposure.introspection)
    # Answers to persisted queries, dropped with the records they hold (api/response_cache.py)
    responses = None
    if cache is not None and options.responses.enabled:
        responses = ResponseCache(options.responses, changed_since=cache.changed_since)
        cache.on_invalidate(responses.invalidated)
    pipeline = build_pipeline(schema, exposure, persisted, backend, responses)
    callers = CallerSlots(exposure.callers)
    metrics.watch(callers, caller_samples)
    metrics.OPERATION_NAMES.know(registered_names(options.persisted_queries.registered.values()))
    graphql = GraphQLHttp(pipeline, authenticator, connection_context, graphiql=exposure.graphiql)
    # The same types as a federation subgraph, for gateways (docs/federation.md), through a
    # pipeline of its own with the same limits and field rules.
    subgraph = build_subgraph_schema()
    federation = GraphQLHttp(
        build_pipeline(subgraph, exposure, persisted, backend),
        authenticator,
        connection_context,
        graphiql=False,
    )
    # announced when the server stops: it ends the event streams and WebSockets still open
    departure = Departure()
    subscriptions = SubscriptionServer(
        pipeline, authenticator, connection_context, options.subscriptions, callers, departure
    )
    stream = EventStream(pipeline, authenticator, connection_context, callers, departure)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.cache = cache  # for the event bus's invalidation, and for tests
        app.state.responses = responses  # for tests
        app.state.pipeline = pipeline  # for tests
        app.state.services = services  # the write path, for tests that watch its workflows
        app.state.callers = callers  # the subscription slots held, for tests
        for name, start in (("Salesforce", crm.start), (chosen.product, erp.start)):
            try:
                await start()
            except Exception as exc:  # a source down at start is served as down, not fatal
                logger.warning("%s is not usable at start: %s", name, exc)
        tasks: list[asyncio.Task[object]] = []
        if options.recover_workflows and services.engine is not None:
            tasks.append(asyncio.create_task(services.engine.recover_forever()))
        if options.reconcile_every > 0:
            tasks.append(asyncio.create_task(reconciler.run_forever(options.reconcile_every)))
        engine = services.engine
        assert engine is not None
        if bus is not None:
            await bus.start()
            tasks.extend(
                _event_tasks(
                    bus,
                    cache,
                    normalizer,
                    propagation,
                    crm,
                    erp,
                    backend,
                    events,
                    owner=engine.owner,
                )
            )
            if events.sandbox is not None and events.public_url is not None:
                try:
                    await _register(events, enabled=True)
                except httpx.HTTPError as exc:  # served all the same; pollers catch up
                    logger.warning("could not register webhooks with the sandbox: %s", exc)
        try:
            yield
        finally:
            if bus is not None and events.sandbox is not None and events.public_url is not None:
                await _within("stopping the sandbox's webhooks", _register(events, enabled=False))
            for task in tasks:
                task.cancel()
            if tasks:
                await _within("stopping the background work", asyncio.wait(tasks))
            if bus is not None:
                await _within("closing the event bus", bus.close())
            await _within("closing the Salesforce client", crm.close())
            await _within(f"closing the {chosen.product} client", erp.close())
            if isinstance(budget, RedisBudget):
                await _within("closing the ERP budget", budget.close())
            if cache is not None:
                await _within("closing the read cache", cache.close())
            await _within("closing the state backend", backend.close())
            await _within("closing the token verifier", authenticator.close())
            pipeline.close()

    intake = (
        intake_routes(
            backend=backend,
            process=normalizer.process,
            feeds=[
                (crm, events.salesforce_secrets or None),
                (erp, events.erp_secrets or None),
            ],
        )
        if bus is not None
        else []
    )
    app = Starlette(
        routes=[
            # the endpoint nearly every request is for, matched first
            Route("/graphql", graphql.handle, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", subscriptions),
            *intake,
            Route("/graphql/stream", stream.handle, methods=["GET", "POST"]),
            Route("/graphql/schema.graphql", sdl_document.handle, methods=["GET"]),
            Route(
                "/graphql/federation/schema.graphql",
                SchemaDocument(sdl_of(subgraph), authenticator, exposure.introspection).handle,
                methods=["GET"],
            ),
            Route("/graphql/federation", federation.handle, methods=["GET", "POST"]),
            graphiql_assets(),
            Route("/console", console_page, methods=["GET"]),
            console_assets(),
            Route("/healthz", healthz, methods=["GET"]),
            Route(
                "/metrics",
                MetricsEndpoint(
                    authenticator,
                    options.telemetry.metrics_token,
                    readings=[dead_letter_reading(workflows)],
                ).handle,
                methods=["GET"],
            ),
            Route("/readyz", Readiness([crm, erp], state=backend).handle, methods=["GET"]),
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(RequestTelemetry),  # outermost: request id and trace for everything
            *([Middleware(CorsMiddleware, policy=options.cors)] if options.cors else []),
        ],
    )
    app.state.departure = departure  # what `serve` announces when the server stops
    return app


SHUTDOWN_STEP = 5.0
"""Seconds each step of stopping may take: past it the step is abandoned with a warning, so
a stuck upstream or Redis never keeps a stopping process alive."""


async def _within(step: str, work: Awaitable[object], seconds: float = SHUTDOWN_STEP) -> None:
    """Await ``work`` (one step of stopping) for at most ``seconds``; a failure or overrun is a
    warning, and stopping goes on."""
    try:
        await asyncio.wait_for(work, seconds)
    except TimeoutError:
        logger.warning("stopping: %s took over %.0f seconds; abandoned", step, seconds)
    except Exception as exc:
        logger.warning("stopping: %s failed: %s", step, exc)


def _event_tasks(
    bus: Bus,
    cache: ReadCache | None,
    normalizer: Normalizer,
    propagation: CreditStatusPropagation,
    crm: SalesforceCrm,
    erp: ErpPort,
    backend: StateBackend,
    events: EventOptions,
    *,
    owner: str,
) -> list[asyncio.Task[object]]:
    """The background work of the event side: invalidation, propagation, polling."""
    tasks: list[asyncio.Task[object]] = []
    if cache is not None:
        tasks.append(asyncio.create_task(_invalidate_on_events(bus, cache)))
    if events.propagate:
        tasks.append(asyncio.create_task(bus.consume("propagation", owner, propagation.handle)))
    tasks.append(asyncio.create_task(_flush_outbox(normalizer)))
    if events.poll_interval > 0:
        for feed in (erp, crm):
            poller = feed_poller(
                feed, backend, normalizer.process, interval=events.poll_interval, owner=owner
            )
            tasks.append(asyncio.create_task(poller.run()))
    return tasks


async def _flush_outbox(normalizer: Normalizer) -> None:
    """Publish what a cut-short publication left in the outbox, even when no change comes in
    to trigger it (a quiet system after a crash would otherwise keep those events back)."""
    outage = OutageLog(logger, "publishing events left in the outbox")
    while True:
        await asyncio.sleep(normalizer.outbox_grace)
        try:
            published = await normalizer.flush_outbox()
        except asyncio.CancelledError:
            raise
        except (StateError, SourceError, BusError) as exc:  # an outage: retried later
            outage.failed(exc)
        except Exception:
            logger.exception("publishing events left in the outbox failed; retrying later")
        else:
            outage.succeeded()
            if published:
                logger.info("published %d events left in the outbox", len(published))


async def _invalidate_on_events(bus: Bus, cache: ReadCache) -> None:
    """Every replica drops its cached copies of what each event says changed."""
    while True:
        try:
            async for event in bus.subscribe():
                await cache.invalidate_event(event)
        except SubscriberOverflow:
            logger.warning("cache invalidation fell behind the bus; dropping local entries")
            cache.forget_local()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("cache invalidation failed; resubscribing")
            await asyncio.sleep(1)


async def _register(events: EventOptions, *, enabled: bool) -> None:
    """Point the sandbox's webhooks at this process (or stop them)."""
    assert events.sandbox is not None
    assert events.public_url is not None
    secret = events.erp_secrets[0] if events.erp_secrets else ""
    await register_intake(events.sandbox, events.public_url, secret, enabled=enabled)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python server.py", description="Run Accord.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=_port, default=8000, help="1 to 65535 (default 8000)")
    parser.add_argument(
        "--endpoints-file", type=Path, help="write the started sandbox's endpoints here"
    )
    parser.add_argument(
        "--sandbox", type=Path, help="attach to a running sandbox described by this endpoints file"
    )
    parser.add_argument(
        "--erp", metavar="NAME", help="the ERP adapter (default: ACCORD_ERP, else netsuite)"
    )
    parser.add_argument(
        "--workers",
        type=_workers,
        help="worker processes serving the port (default: one per core with Redis configured, "
        "1 with state in memory)",
    )
    return parser.parse_args(argv)


def _workers(text: str) -> int:
    try:
        workers = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers") from None
    if not 1 <= workers <= 256:
        raise argparse.ArgumentTypeError(f"{workers} workers: use 1 to 256")
    return workers


def worker_count(requested: int | None, settings: Settings) -> tuple[int, str]:
    """How many worker processes to run, and why that many (a line to print).

    Workers share nothing in memory, so with state in memory there can be one only: a second
    would have idempotency records, workflows, caches and events of its own."""
    if settings.redis_url is None:
        if requested is not None and requested > 1:
            raise SettingsError(
                [
                    f"--workers {requested}: state is in memory, which worker processes cannot "
                    "share; set ACCORD_REDIS_URL to run more than one"
                ]
            )
        return 1, "Accord runs 1 worker process: its state is in memory, which workers cannot share"
    if requested is not None:
        return requested, f"Accord runs {requested} worker process{'es' if requested > 1 else ''}"
    cores = available_cores()
    return cores, (
        f"Accord runs {cores} worker process{'es' if cores > 1 else ''}: one per core, "
        "state in Redis"
    )


@dataclass(frozen=True)
class WorkerApp:
    """What a worker process builds its application from (sent to it pickled)."""

    salesforce: SalesforceConfig
    erp_config: Any  # the chosen ERP adapter's configuration (a NetSuiteConfig...)
    options: AppOptions
    host: str
    port: int
    log_level: str
    telemetry: TelemetryOptions


def _observe(level: str, telemetry: TelemetryOptions) -> None:
    """Every line, uvicorn's included, in one format with the request's ids; traces recorded
    only when there is a collector (docs/operations.md)."""
    configure_logging(level, telemetry.log_format)
    if telemetry.otlp_endpoint:
        tracing.configure(endpoint=telemetry.otlp_endpoint, service_name=telemetry.service_name)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per upstream call is noise


def shared_metrics(workers: int) -> None:
    """Make the workers' metrics one set: each worker writes its instruments to a directory
    they share (prometheus-client's multiprocess mode), and /metrics on any worker adds them
    up. A directory given in ``PROMETHEUS_MULTIPROC_DIR`` is used as it is; otherwise a
    temporary one, removed when the supervisor exits. Set before the workers start."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    directory = tempfile.mkdtemp(prefix="accord-metrics-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    print(f"{workers} workers share their metrics through {directory}", flush=True)


def serve_worker(
    spec: WorkerApp, sock: socket.socket, index: int, started: Callable[[], None]
) -> None:
    """One worker process: its own application on its socket (`api.workers`)."""
    _observe(spec.log_level, spec.telemetry)
    options = spec.options
    if index > 0 and options.events.sandbox is not None:
        # one worker points the sandbox's webhooks at the shared port (and stops them at the
        # end); any worker may take each delivery
        options = dataclasses.replace(
            options, events=dataclasses.replace(options.events, sandbox=None)
        )
    app = create_app(spec.salesforce, spec.erp_config, options)
    serve(
        app,
        host=spec.host,
        port=spec.port,
        log_level=spec.log_level,
        sock=sock,
        on_started=started,
        on_stopping=app.state.departure.announce,
        log_config=None,  # uvicorn's lines go through the handler `_observe` set up
    )


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: use 1 to 65535")
    return port


class _Stop(Exception):
    """A supervisor's signal asked Accord to stop."""


def _stop_on_signal(signum: int, frame: object) -> None:
    raise _Stop(signum)


def callers_notice(settings: Settings) -> str | None:
    """One line for an Accord no caller can use: against real systems, anonymous reads off and
    neither an API key nor an OpenID Connect issuer configured, every request is refused."""
    if settings.sandbox or settings.anonymous_reads or settings.api_keys or settings.oidc:
        return None
    return (
        "Anonymous reads are off (ACCORD_ANONYMOUS_READS) and no API key (ACCORD_API_KEYS) or "
        "OpenID Connect issuer (ACCORD_OIDC_ISSUER) is configured: every request will be "
        "refused with 401."
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = dict(os.environ)
    if args.erp:
        try:
            erps.adapter(args.erp)
        except erps.UnknownErp as exc:
            print(f"--erp: {exc}", file=sys.stderr)
            return 2
        env["ACCORD_ERP"] = args.erp  # the command line wins over the environment
    try:
        settings = load_settings(env)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    _observe(settings.log_level, settings.telemetry)
    if settings.telemetry.otlp_endpoint:
        logger.info("traces go to %s (OTLP/HTTP)", settings.telemetry.otlp_endpoint)
    try:
        workers, why = worker_count(args.workers, settings)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    if settings.redis_url:  # before anything starts: one line, not a traceback, if unusable
        try:
            for warning in check_redis(settings.redis_url, timeout=settings.redis_timeout):
                logger.warning("%s", warning)
        except RedisUnusable as exc:
            print(exc, file=sys.stderr)
            return 2

    # SIGTERM (and Ctrl-C) must unwind through the `finally` below, which stops the sandbox
    # child on every way out. While serving, uvicorn handles the signal itself (a graceful
    # shutdown) and raises it again once done, which then lands here.
    signal.signal(signal.SIGTERM, _stop_on_signal)
    process = None
    try:
        endpoints_file: Path | None = args.sandbox
        if settings.sandbox and endpoints_file is None:
            from sandbox.process import SandboxProcess

            on_tryton = settings.erp == "tryton"
            process = SandboxProcess(
                customers=TRYTON_SANDBOX_CUSTOMERS if on_tryton else settings.sandbox_customers,
                erp=settings.erp,
            )
            erp = "a Tryton server" if on_tryton else "NetSuite emulators"
            print(f"Starting the embedded sandbox (Salesforce and {erp})...", flush=True)
            process.start(**({"timeout": TRYTON_SANDBOX_START} if on_tryton else {}))
            endpoints_file = process.endpoints_file
            if args.endpoints_file:
                try:
                    shutil.copyfile(endpoints_file, args.endpoints_file)
                except OSError as exc:
                    problem = f"--endpoints-file {args.endpoints_file}: {exc.strerror or exc}"
                    raise SettingsError([problem]) from None
        if settings.sandbox:
            state = "in Redis" if settings.redis_url else "in memory"
            print(
                f"Accord runs on its sandbox with state {state}: for trying Accord and "
                "development. Demo API keys: demo-sales, demo-finance, demo-ops, demo-analytics.",
                flush=True,
            )
        notice = callers_notice(settings)
        if notice:
            print(notice, flush=True)
        salesforce, erp_config = source_configs(settings, endpoints_file)
        endpoints = Endpoints.read(endpoints_file) if settings.sandbox and endpoints_file else None
        sock = listen(args.host, args.port, reuse_port=workers > 1)
        bound = address_of(sock)
        port = int(sock.getsockname()[1])
        shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
        options = options_from(
            settings, sandbox=endpoints, public_url=f"http://{shown_host}:{port}"
        )
        print(why, flush=True)
        if workers == 1:
            app = create_app(salesforce, erp_config, options)
            print(f"Accord serves GraphQL at http://{bound}/graphql", flush=True)
            serve(
                app,
                host=args.host,
                port=port,
                log_level=settings.log_level,
                sock=sock,
                on_stopping=app.state.departure.announce,
                log_config=None,  # uvicorn's lines go through the handler `_observe` set up
            )
        else:
            sockets = [sock] + [
                listen(args.host, port, reuse_port=True) for _ in range(workers - 1)
            ]
            spec = WorkerApp(
                salesforce,
                erp_config,
                options,
                args.host,
                port,
                settings.log_level,
                settings.telemetry,
            )
            shared_metrics(workers)

            def started(pids: list[int]) -> None:
                listed = " ".join(str(pid) for pid in pids)
                print(f"Workers started: pids {listed}", flush=True)
                print(f"Accord serves GraphQL at http://{bound}/graphql", flush=True)

            run_workers(functools.partial(serve_worker, spec), sockets, on_started=started)
    except (SettingsError, ListenError) as exc:
        print(exc, file=sys.stderr)
        return 2
    except WorkerFailed as exc:
        print(f"Accord stopped: {exc}", file=sys.stderr)
        return 1
    except (_Stop, KeyboardInterrupt):
        return 0
    finally:
        if process is not None:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # stopping already
            process.stop()
        tracing.shutdown()  # the spans still buffered are exported
    return 0


if __name__ == "__main__":
    sys.exit(main())
