"""Accord's settings, read from ``ACCORD_*`` environment variables and validated at start.

With no source configured, Accord runs on its embedded sandbox. Configuring one source means
configuring both; every problem found is reported at once, by variable name, so a deployment
fails at start with a clear message instead of at the first request.

Salesforce (the CRM)
    ACCORD_SALESFORCE_AUTH               client_credentials (default) | password | jwt | session
    ACCORD_SALESFORCE_INSTANCE_URL       https://yourdomain.my.salesforce.com
    ACCORD_SALESFORCE_CLIENT_ID          connected app consumer key
    ACCORD_SALESFORCE_CLIENT_SECRET      consumer secret (client_credentials)
    ACCORD_SALESFORCE_TOKEN_URL          default <instance>/services/oauth2/token
    ACCORD_SALESFORCE_USERNAME           password and jwt modes
    ACCORD_SALESFORCE_PASSWORD           password mode
    ACCORD_SALESFORCE_SECURITY_TOKEN     password mode
    ACCORD_SALESFORCE_DOMAIN             login (default), test, or a My Domain prefix
    ACCORD_SALESFORCE_PRIVATE_KEY_FILE   jwt mode: the connected app's private key (PEM)
    ACCORD_SALESFORCE_SESSION_ID         session mode
    ACCORD_SALESFORCE_CA_FILE            extra CA bundle (PEM), optional
    ACCORD_SALESFORCE_API_VERSION        default 59.0

The ERP
    ACCORD_ERP                           the ERP adapter: netsuite (default), or another one
                                         registered in `sources.erps` (each reads its own
                                         ACCORD_<NAME>_* variables); `server.py --erp` overrides

Tryton (with ACCORD_ERP=tryton; read by `sources.tryton.configure`)
    ACCORD_TRYTON_URL                    the server's root, https://erp.example.com
    ACCORD_TRYTON_DATABASE               the database Accord works in
    ACCORD_TRYTON_USER                   the integration user's login
    ACCORD_TRYTON_PASSWORD               its password, or:
    ACCORD_TRYTON_SESSION                a session opened elsewhere, "user_id:token"
    ACCORD_TRYTON_CA_FILE                extra CA bundle (PEM), optional
    ACCORD_TRYTON_MAX_CONNECTIONS        default 10

NetSuite (the ERP by default)
    ACCORD_NETSUITE_ACCOUNT_ID           e.g. 1234567 or 1234567_SB1
    ACCORD_NETSUITE_CLIENT_ID            integration record's client id
    ACCORD_NETSUITE_CLIENT_SECRET        client secret, or:
    ACCORD_NETSUITE_CERTIFICATE_ID       certificate id of the OAuth 2.0 client credentials
    ACCORD_NETSUITE_PRIVATE_KEY_FILE     ... with its private key (PEM)
    ACCORD_NETSUITE_BASE_URL             default https://<account>.suitetalk.api.netsuite.com
    ACCORD_NETSUITE_TOKEN_URL            default <base>/services/rest/auth/oauth2/v1/token
    ACCORD_NETSUITE_CA_FILE              extra CA bundle (PEM), optional
    ACCORD_NETSUITE_MAX_CONNECTIONS      default 10 (keep under the account's concurrency limit)
    ACCORD_NETSUITE_CONCURRENCY          the account's concurrency limit, shared by all
                                         replicas through Redis; default 15

Everything
    ACCORD_SOURCE_TIMEOUT                seconds per upstream attempt, default 10
    ACCORD_REDIS_URL                     redis://host:6379/0 for shared state across replicas
    ACCORD_REDIS_PREFIX                  prefix of Accord's Redis keys, default accord:
    ACCORD_REDIS_TIMEOUT                 seconds to connect to Redis and per command, default 2
    ACCORD_WORKFLOW_LEASE_SECONDS        a dead replica's workflows resume after this, default 30
    ACCORD_WORKFLOW_RECOVERY_SECONDS     how often to look for them, default 5
    ACCORD_WORKFLOW_RETRY_SECONDS        how long a step retries a failing source, default 60
    ACCORD_SALESFORCE_WEBHOOK_SECRETS    secrets signing Salesforce change events (comma-separated)
    ACCORD_ERP_WEBHOOK_SECRETS           secrets that sign the ERP's change notifications
    ACCORD_NETSUITE_WEBHOOK_SECRETS      the same, by its earlier name (NetSuite only)
    ACCORD_POLL_SECONDS                  poll for changes webhooks missed; 0 turns pollers off
                                         (default 60 against real systems, 5 on the sandbox)
    ACCORD_PROPAGATE                     true|false: mirror the ERP's credit standing in the CRM
    ACCORD_RECONCILE_SECONDS             compare the CRM and the ERP this often, default 3600;
                                         0: on demand only (docs/operations.md)
    ACCORD_API_KEYS                      key=role,key=role (roles: sales, finance, ops, analytics)
    ACCORD_ANONYMOUS_READS               true|false: queries without a key (default: true on the
                                         sandbox, false against real systems)
    ACCORD_SANDBOX_CUSTOMERS             customers in the embedded sandbox, default 300
    ACCORD_PERSISTED_QUERIES             apq (default) | registered | off (see api.persisted)
    ACCORD_PERSISTED_QUERIES_FILE        registered mode: the registered operations (a JSON
                                         {sha256: document}, an Apollo manifest, or a
                                         directory of .graphql files)
    ACCORD_CACHE                         on (default) | off: the read cache (docs/caching.md)
    ACCORD_CACHE_SIZE                    entries kept in each process, default 100000
    ACCORD_RESPONSE_CACHE                on (default, with the read cache) | off: answers to
                                         persisted queries (docs/caching.md)
    ACCORD_CORS_ORIGINS                  web origins whose pages may call Accord, comma-separated:
                                         exact (https://portal.example.com), a pattern
                                         (https://*.lightning.force.com) or *; unset: none
    ACCORD_CORS_CREDENTIALS              true|false (default): allow cookies cross-origin (exact
                                         origins only)
    ACCORD_CACHE_MEMORY_MB               and at most this much memory for them, default 128
    ACCORD_LOG_LEVEL                     default info

Limits, budgets, introspection and GraphiQL: see `config.exposure`; bearer tokens of an
OpenID Connect issuer: `config.identity`; metrics, traces and log format: `config.telemetry`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args
from urllib.parse import urlparse

from api.auth import parse_api_keys
from api.cors import CorsPolicy, OriginError, parse_origins
from api.exposure import Exposure
from api.identity import OidcOptions
from api.persisted import Mode, PersistedQueryOptions, RegisteredOperationsError, load_registered
from api.subscriptions import SubscriptionLimits
from config.exposure import read_exposure, read_subscription_limits
from config.identity import read_oidc
from config.telemetry import read_telemetry
from domain.ownership import Role
from sources import erps
from sources.erps import DEFAULT_ERP
from sources.netsuite_http import NetSuiteConfig
from sources.resilience import ResiliencePolicy
from sources.salesforce_client import AuthMode, SalesforceConfig
from telemetry.options import TelemetryOptions


class SettingsError(ValueError):
    """The environment does not describe a runnable Accord; ``problems`` says why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    salesforce: SalesforceConfig | None  # None: the embedded sandbox provides it
    netsuite: NetSuiteConfig | None
    policy: ResiliencePolicy
    redis_url: str | None
    sandbox_customers: int
    log_level: str
    api_keys: dict[str, Role] = dataclasses.field(default_factory=dict)
    anonymous_reads: bool = True
    redis_prefix: str = "accord:"
    workflow_lease: float = 30.0
    workflow_recovery: float = 5.0
    persisted_queries: PersistedQueryOptions = dataclasses.field(
        default_factory=PersistedQueryOptions
    )
    cache: bool = True
    response_cache: bool = True
    cache_size: int = 100_000
    cache_memory_mb: int = 128
    salesforce_webhook_secrets: tuple[str, ...] = ()
    erp_webhook_secrets: tuple[str, ...] = ()
    poll_seconds: float = 0.0  # 0: no pollers
    propagate: bool = True
    cors: CorsPolicy | None = None  # None: no cross-origin access from browsers
    exposure: Exposure = dataclasses.field(default_factory=Exposure)
    oidc: OidcOptions | None = None
    reconcile_seconds: float = 3600.0  # 0: reconciliation on demand only
    redis_timeout: float = 2.0
    workflow_retry: float = 60.0
    netsuite_concurrency: int = 15
    subscriptions: SubscriptionLimits = dataclasses.field(default_factory=SubscriptionLimits)
    erp: str = DEFAULT_ERP  # the ERP adapter's name (`sources.erps`)
    erp_config: Any = None  # its configuration, when it reads its own (not NetSuite's)
    telemetry: TelemetryOptions = dataclasses.field(default_factory=TelemetryOptions)

    @property
    def sandbox(self) -> bool:
        return self.salesforce is None


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    @property
    def reported(self) -> set[str]:
        """The variables a problem was reported for already."""
        return {name for problem in self.problems for name in _VARIABLE.findall(problem)}

    def text(self, name: str) -> str | None:
        value = self.env.get(name, "").strip()
        return value or None

    def number(self, name: str, default: float, *, low: float, high: float) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            self.problems.append(f"{name}={raw!r} is not a number")
            return default
        if not low <= value <= high:
            self.problems.append(f"{name}={raw} must be between {low:g} and {high:g}")
            return default
        return value

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.problems.append(f"{name}={raw!r} is not a whole number")
            return default
        if not low <= value <= high:
            self.problems.append(f"{name}={raw} must be between {low} and {high}")
            return default
        return value

    def matching(self, name: str, pattern: re.Pattern[str], what: str) -> str | None:
        raw = self.text(name)
        if raw is not None and not pattern.fullmatch(raw):
            self.problems.append(f"{name}={raw!r} is not {what}")
            return None
        return raw

    def flag(self, name: str, *, default: bool) -> bool:
        raw = self.text(name)
        if raw is None:
            return default
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        self.problems.append(f"{name}={raw!r}: use true or false")
        return default

    def url(self, name: str) -> str | None:
        raw = self.text(name)
        if raw is None:
            return None
        parsed = urlparse(raw)
        if parsed.scheme not in ("https", "http") or not parsed.netloc:
            self.problems.append(f"{name}={raw!r} is not an http(s) URL")
            return None
        return raw

    def file(self, name: str) -> str | None:
        raw = self.text(name)
        if raw is not None and not Path(raw).is_file():
            self.problems.append(f"{name}={raw!r}: no such file")
            return None
        return raw


_VARIABLE = re.compile(r"\bACCORD_[A-Z0-9_]+")
_SOURCE_PREFIXES = ("ACCORD_SALESFORCE_", "ACCORD_NETSUITE_", "ACCORD_TRYTON_")
# Variables under the source prefixes that configure Accord's intake or the sandbox, not a
# source: they are read in the sandbox too, so they do not mean "real systems".
_NOT_SOURCE = frozenset(
    {
        "ACCORD_SALESFORCE_WEBHOOK_SECRETS",
        "ACCORD_NETSUITE_WEBHOOK_SECRETS",
        "ACCORD_ERP_WEBHOOK_SECRETS",
        "ACCORD_TRYTON_CACHE_DIR",
        "ACCORD_TRYTON_DATABASE_URI",
    }
)
_API_VERSION = re.compile(r"[0-9]{1,3}\.[0-9]")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,120}[A-Za-z0-9])?")
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
_AUTH_MODES: tuple[str, ...] = get_args(AuthMode)


def load_settings(env: Mapping[str, str]) -> Settings:
    read = _Reader(env)
    policy = ResiliencePolicy(timeout=read.number("ACCORD_SOURCE_TIMEOUT", 10.0, low=0.1, high=300))
    configured = [
        name
        for name, value in env.items()
        if name.startswith(_SOURCE_PREFIXES) and name not in _NOT_SOURCE and value.strip()
    ]
    erp = read.text("ACCORD_ERP") or DEFAULT_ERP
    salesforce = netsuite = erp_config = None
    try:
        chosen = erps.adapter(erp)
    except erps.UnknownErp as exc:
        read.problems.append(f"ACCORD_ERP: {exc}")
        chosen = erps.adapter(DEFAULT_ERP)
    if chosen.configure is not None:
        try:
            erp_config = chosen.configure(env)
        except ValueError as exc:  # every mistake, when the adapter lists them
            read.problems.extend(getattr(exc, "problems", None) or [str(exc)])
    for other in erps.names():
        if other == chosen.name:
            continue
        named = sorted(name for name in configured if name.startswith(f"ACCORD_{other.upper()}_"))
        if named:
            read.problems.append(
                f"{', '.join(named)} configure {erps.adapter(other).product}, but the ERP is "
                f"{chosen.name}: set ACCORD_ERP={other} or leave them out"
            )
    if configured:
        salesforce = _salesforce(read, policy)
        if chosen.configure is None:
            netsuite = _netsuite(read, policy)
    redis_url = read.text("ACCORD_REDIS_URL")
    if redis_url and urlparse(redis_url).scheme not in ("redis", "rediss", "unix"):
        read.problems.append(f"ACCORD_REDIS_URL={redis_url!r} is not a redis:// URL")
    customers = read.integer("ACCORD_SANDBOX_CUSTOMERS", 300, low=0, high=200_000)
    level = (read.text("ACCORD_LOG_LEVEL") or "info").lower()
    if level not in ("debug", "info", "warning", "error"):
        read.problems.append(f"ACCORD_LOG_LEVEL={level!r}: use debug, info, warning or error")
    api_keys: dict[str, Role] = {}
    try:
        api_keys = parse_api_keys(read.text("ACCORD_API_KEYS") or "")
    except ValueError as exc:
        read.problems.append(f"ACCORD_API_KEYS: {exc}")
    anonymous_reads = read.flag("ACCORD_ANONYMOUS_READS", default=not configured)
    redis_prefix = read.text("ACCORD_REDIS_PREFIX") or "accord:"
    redis_timeout = read.number("ACCORD_REDIS_TIMEOUT", 2.0, low=0.05, high=60)
    lease = read.number("ACCORD_WORKFLOW_LEASE_SECONDS", 30.0, low=0.5, high=3600)
    recovery = read.number("ACCORD_WORKFLOW_RECOVERY_SECONDS", 5.0, low=0.1, high=3600)
    retry = read.number("ACCORD_WORKFLOW_RETRY_SECONDS", 60.0, low=0, high=86400)
    concurrency = read.integer("ACCORD_NETSUITE_CONCURRENCY", 15, low=1, high=1000)
    persisted = _persisted_queries(read)
    cache = read.flag("ACCORD_CACHE", default=True)
    response_cache = read.flag("ACCORD_RESPONSE_CACHE", default=True)
    cache_size = read.integer("ACCORD_CACHE_SIZE", 100_000, low=100, high=10_000_000)
    cache_memory = read.integer("ACCORD_CACHE_MEMORY_MB", 128, low=1, high=65_536)
    sf_secrets = _secrets(read, "ACCORD_SALESFORCE_WEBHOOK_SECRETS")
    erp_secrets = _erp_secrets(read)
    poll = read.number("ACCORD_POLL_SECONDS", 60.0 if configured else 5.0, low=0, high=86400)
    propagate = read.flag("ACCORD_PROPAGATE", default=True)
    cors = _cors(read)
    exposure = read_exposure(read, real_systems=bool(configured))
    subscriptions = read_subscription_limits(read)
    oidc = read_oidc(read)
    telemetry = read_telemetry(read)
    reconcile = read.number("ACCORD_RECONCILE_SECONDS", 3600.0, low=0, high=30 * 86400)
    if 0 < reconcile < 60:
        read.problems.append("ACCORD_RECONCILE_SECONDS: use 0 (off) or 60 and more")
    if read.problems:
        raise SettingsError(read.problems)
    return Settings(
        salesforce,
        netsuite,
        policy,
        redis_url,
        customers,
        level,
        api_keys,
        anonymous_reads,
        redis_prefix,
        lease,
        recovery,
        persisted,
        cache=cache,
        response_cache=response_cache,
        cache_size=cache_size,
        cache_memory_mb=cache_memory,
        salesforce_webhook_secrets=sf_secrets,
        erp_webhook_secrets=erp_secrets,
        poll_seconds=poll,
        propagate=propagate,
        cors=cors,
        exposure=exposure,
        oidc=oidc,
        reconcile_seconds=reconcile,
        redis_timeout=redis_timeout,
        workflow_retry=retry,
        netsuite_concurrency=concurrency,
        subscriptions=subscriptions,
        erp=erp,
        erp_config=erp_config,
        telemetry=telemetry,
    )


def _secrets(read: _Reader, name: str) -> tuple[str, ...]:
    """Webhook signing secrets, comma-separated (two while one is being rotated)."""
    found = tuple(part.strip() for part in (read.text(name) or "").split(",") if part.strip())
    if any(len(secret) < 24 for secret in found):
        read.problems.append(f"{name}: each secret needs 24 characters or more")
    return found


def _erp_secrets(read: _Reader) -> tuple[str, ...]:
    """The ERP's webhook secrets: ``ACCORD_ERP_WEBHOOK_SECRETS``, or for NetSuite the name
    they had before the ERP was a choice, ``ACCORD_NETSUITE_WEBHOOK_SECRETS``."""
    current = _secrets(read, "ACCORD_ERP_WEBHOOK_SECRETS")
    earlier = _secrets(read, "ACCORD_NETSUITE_WEBHOOK_SECRETS")
    if current and earlier and current != earlier:
        read.problems.append(
            "ACCORD_NETSUITE_WEBHOOK_SECRETS: differs from ACCORD_ERP_WEBHOOK_SECRETS, its "
            "newer name; set only ACCORD_ERP_WEBHOOK_SECRETS"
        )
    return current or earlier


def _cors(read: _Reader) -> CorsPolicy | None:
    credentials = read.flag("ACCORD_CORS_CREDENTIALS", default=False)
    origins = read.text("ACCORD_CORS_ORIGINS")
    if origins is None:
        if credentials:
            read.problems.append("ACCORD_CORS_CREDENTIALS needs ACCORD_CORS_ORIGINS")
        return None
    try:
        return parse_origins(origins, credentials=credentials)
    except OriginError as exc:
        read.problems.append(f"ACCORD_CORS_ORIGINS: {exc}")
        return None


# --- persisted queries (api.persisted) ------------------------------------------------------


def _persisted_queries(read: _Reader) -> PersistedQueryOptions:
    raw = (read.text("ACCORD_PERSISTED_QUERIES") or Mode.APQ.value).lower()
    file = read.text("ACCORD_PERSISTED_QUERIES_FILE")
    try:
        mode = Mode(raw)
    except ValueError:
        read.problems.append(f"ACCORD_PERSISTED_QUERIES={raw!r}: use apq, registered or off")
        return PersistedQueryOptions()
    if mode is not Mode.REGISTERED:
        if file is not None:
            read.problems.append("ACCORD_PERSISTED_QUERIES_FILE is only read in registered mode")
        return PersistedQueryOptions(mode)
    if file is None:
        read.problems.append(
            "ACCORD_PERSISTED_QUERIES=registered needs ACCORD_PERSISTED_QUERIES_FILE"
        )
        return PersistedQueryOptions()
    try:
        return PersistedQueryOptions(mode, load_registered(Path(file)))
    except RegisteredOperationsError as exc:
        read.problems.append(f"ACCORD_PERSISTED_QUERIES_FILE: {exc}")
        return PersistedQueryOptions()


def _salesforce(read: _Reader, policy: ResiliencePolicy) -> SalesforceConfig | None:
    prefix = "ACCORD_SALESFORCE_"
    auth = read.text(prefix + "AUTH") or "client_credentials"
    if auth not in _AUTH_MODES:
        read.problems.append(f"{prefix}AUTH={auth!r}: use {', '.join(_AUTH_MODES)}")
        return None
    fields = {
        "instance_url": read.url(prefix + "INSTANCE_URL"),
        "auth": auth,
        "username": read.text(prefix + "USERNAME"),
        "password": read.text(prefix + "PASSWORD"),
        "security_token": read.text(prefix + "SECURITY_TOKEN"),
        "domain": read.matching(prefix + "DOMAIN", _DOMAIN, "login, test or a My Domain name")
        or "login",
        "session_id": read.text(prefix + "SESSION_ID"),
        "client_id": read.text(prefix + "CLIENT_ID"),
        "client_secret": read.text(prefix + "CLIENT_SECRET"),
        "token_url": read.url(prefix + "TOKEN_URL"),
        "private_key_file": read.file(prefix + "PRIVATE_KEY_FILE"),
        "ca_file": read.file(prefix + "CA_FILE"),
        "api_version": read.matching(prefix + "API_VERSION", _API_VERSION, "a version like 59.0")
        or "59.0",
        "policy": policy,
    }
    try:
        return SalesforceConfig(**fields)  # type: ignore[arg-type]
    except ValueError as exc:
        _needs(read, _env_names(str(exc), prefix, SalesforceConfig))
        return None


def _netsuite(read: _Reader, policy: ResiliencePolicy) -> NetSuiteConfig | None:
    prefix = "ACCORD_NETSUITE_"
    key_file = read.file(prefix + "PRIVATE_KEY_FILE")
    try:
        return NetSuiteConfig(
            account_id=read.matching(
                prefix + "ACCOUNT_ID", _ACCOUNT_ID, "an account id like 1234567_SB1"
            )
            or "",
            base_url=read.url(prefix + "BASE_URL"),
            token_url=read.url(prefix + "TOKEN_URL"),
            client_id=read.text(prefix + "CLIENT_ID"),
            client_secret=read.text(prefix + "CLIENT_SECRET"),
            certificate_id=read.text(prefix + "CERTIFICATE_ID"),
            private_key=Path(key_file).read_text() if key_file else None,
            ca_file=read.file(prefix + "CA_FILE"),
            max_connections=read.integer(prefix + "MAX_CONNECTIONS", 10, low=1, high=100),
            policy=policy,
        )
    except ValueError as exc:
        _needs(read, _env_names(str(exc), prefix, NetSuiteConfig))
        return None


def _env_names(message: str, prefix: str, config: type) -> str:
    """Speak of environment variables, not of the config class's field names."""
    head, needs, wanted = message.partition(" needs ")
    if not needs:
        return message
    for field in dataclasses.fields(config):
        # the private key is given as a file (ACCORD_..._PRIVATE_KEY_FILE), whatever the field
        name = "PRIVATE_KEY_FILE" if field.name == "private_key" else field.name.upper()
        wanted = re.sub(rf"\b{field.name}\b", prefix + name, wanted)
    return head + needs + wanted


def _needs(read: _Reader, message: str) -> None:
    """Report what a source still needs, leaving out the variables already reported (set but
    invalid): each mistake is told once, not once more as "missing"."""
    reported = read.reported
    head, needs, wanted = message.partition(" needs ")
    named = _VARIABLE.findall(wanted)
    stale = [name for name in named if name in reported]
    if not needs or not stale:
        read.problems.append(message)
        return
    if " or " in wanted:  # alternatives: the reported variable is the one that went wrong
        return
    rest = [name for name in named if name not in reported]
    if rest:
        read.problems.append(f"{head}{needs}{', '.join(rest)}")
