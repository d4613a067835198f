"""Settings: the sandbox by default, real systems by ACCORD_* variables, every mistake named."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import SettingsError, load_settings
from sources.tryton.rpc import TrytonConfig

ROOT = Path(__file__).resolve().parent.parent.parent


def test_no_configuration_means_the_sandbox() -> None:
    settings = load_settings({})
    assert settings.sandbox
    assert settings.salesforce is None
    assert settings.netsuite is None
    assert settings.sandbox_customers == 300


def test_a_full_production_configuration(tmp_path: Path) -> None:
    key = tmp_path / "netsuite.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n")
    settings = load_settings(
        {
            "ACCORD_SALESFORCE_INSTANCE_URL": "https://acme.my.salesforce.com",
            "ACCORD_SALESFORCE_CLIENT_ID": "ck",
            "ACCORD_SALESFORCE_CLIENT_SECRET": "cs",
            "ACCORD_NETSUITE_ACCOUNT_ID": "1234567_SB1",
            "ACCORD_NETSUITE_CLIENT_ID": "nc",
            "ACCORD_NETSUITE_CERTIFICATE_ID": "cert-1",
            "ACCORD_NETSUITE_PRIVATE_KEY_FILE": str(key),
            "ACCORD_SOURCE_TIMEOUT": "2.5",
            "ACCORD_REDIS_URL": "redis://cache:6379/1",
        }
    )
    assert not settings.sandbox
    assert settings.salesforce is not None
    assert settings.salesforce.auth == "client_credentials"
    assert settings.netsuite is not None
    assert settings.netsuite.root == "https://1234567-sb1.suitetalk.api.netsuite.com"
    assert settings.netsuite.private_key is not None
    assert settings.policy.timeout == 2.5
    assert settings.redis_url == "redis://cache:6379/1"


def test_every_problem_is_reported_by_variable_name() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(
            {
                "ACCORD_SALESFORCE_AUTH": "password",
                "ACCORD_SALESFORCE_USERNAME": "integration@acme.com",
                "ACCORD_NETSUITE_ACCOUNT_ID": "1234567",
                "ACCORD_NETSUITE_PRIVATE_KEY_FILE": "/no/such/key.pem",
                "ACCORD_SOURCE_TIMEOUT": "fast",
                "ACCORD_REDIS_URL": "http://not-redis",
                "ACCORD_LOG_LEVEL": "loud",
            }
        )
    text = str(refused.value)
    for fragment in (
        "ACCORD_SOURCE_TIMEOUT='fast' is not a number",
        "needs ACCORD_SALESFORCE_PASSWORD, ACCORD_SALESFORCE_SECURITY_TOKEN",
        "ACCORD_NETSUITE_PRIVATE_KEY_FILE='/no/such/key.pem': no such file",
        "NetSuite needs ACCORD_NETSUITE_CLIENT_ID",
        "ACCORD_REDIS_URL='http://not-redis' is not a redis:// URL",
        "ACCORD_LOG_LEVEL='loud'",
    ):
        assert fragment in text


def test_server_refuses_to_start_on_a_bad_configuration() -> None:
    started = subprocess.run(
        [sys.executable, "server.py", "--port", "8000"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"ACCORD_NETSUITE_ACCOUNT_ID": "1", "PATH": "/usr/bin:/bin"},
    )
    assert started.returncode == 2
    assert "invalid configuration" in started.stderr
    assert "ACCORD_SALESFORCE_" in started.stderr


def test_server_refuses_a_missing_sandbox_file(tmp_path: Path) -> None:
    started = subprocess.run(
        [sys.executable, "server.py", "--sandbox", str(tmp_path / "none.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert started.returncode == 2
    assert "none.json" in started.stderr


PRODUCTION = {
    "ACCORD_SALESFORCE_INSTANCE_URL": "https://acme.my.salesforce.com",
    "ACCORD_SALESFORCE_CLIENT_ID": "ck",
    "ACCORD_SALESFORCE_CLIENT_SECRET": "cs",
    "ACCORD_NETSUITE_ACCOUNT_ID": "1234567_SB1",
    "ACCORD_NETSUITE_CLIENT_ID": "nc",
    "ACCORD_NETSUITE_CLIENT_SECRET": "ns",
}


def test_webhook_secrets_and_empty_variables_do_not_leave_the_sandbox() -> None:
    secret = "s" * 32
    settings = load_settings(
        {
            "ACCORD_SALESFORCE_WEBHOOK_SECRETS": secret,
            "ACCORD_NETSUITE_WEBHOOK_SECRETS": secret,
            "ACCORD_SALESFORCE_CA_FILE": "",  # set but empty, as a compose file leaves it
        }
    )
    assert settings.sandbox
    assert settings.salesforce_webhook_secrets == (secret,)
    assert settings.netsuite_webhook_secrets == (secret,)
    assert settings.anonymous_reads  # the sandbox's default


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("ACCORD_SANDBOX_CUSTOMERS", "1.5", "ACCORD_SANDBOX_CUSTOMERS='1.5' is not a whole number"),
        ("ACCORD_CACHE_SIZE", "5000.5", "ACCORD_CACHE_SIZE='5000.5' is not a whole number"),
        (
            "ACCORD_NETSUITE_MAX_CONNECTIONS",
            "2.5",
            "ACCORD_NETSUITE_MAX_CONNECTIONS='2.5' is not a whole number",
        ),
        ("ACCORD_SALESFORCE_API_VERSION", "v59", "ACCORD_SALESFORCE_API_VERSION='v59'"),
        (
            "ACCORD_SALESFORCE_DOMAIN",
            "https://acme.my.salesforce.com",
            "ACCORD_SALESFORCE_DOMAIN='https://acme.my.salesforce.com'",
        ),
        ("ACCORD_NETSUITE_ACCOUNT_ID", "1234567.evil.com/x", "ACCORD_NETSUITE_ACCOUNT_ID="),
        ("ACCORD_SALESFORCE_AUTH", "oauth", "ACCORD_SALESFORCE_AUTH='oauth'"),
        ("ACCORD_RECONCILE_SECONDS", "30", "ACCORD_RECONCILE_SECONDS: use 0 (off) or 60 and more"),
        ("ACCORD_RECONCILE_SECONDS", "-1", "ACCORD_RECONCILE_SECONDS=-1 must be between"),
    ],
)
def test_malformed_values_are_named_at_start(name: str, value: str, fragment: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({**PRODUCTION, name: value})
    assert fragment in str(refused.value)


class _Recording(dict[str, str]):
    """An environment that remembers which variables were asked for."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)


def test_every_variable_read_is_documented_and_every_documented_one_is_read() -> None:
    table_rows = [
        line.split("|")[1]
        for line in (ROOT / "docs" / "configuration.md").read_text().splitlines()
        if line.startswith("| `ACCORD_")
    ]
    documented = {name for row in table_rows for name in re.findall(r"`(ACCORD_[A-Z_]+)`", row)}
    with_netsuite, with_tryton = _Recording(PRODUCTION), _Recording(PRODUCTION_TRYTON)

    load_settings(with_netsuite)
    load_settings(with_tryton)

    assert with_netsuite.asked | with_tryton.asked == documented


PRODUCTION_TRYTON = {
    **{k: v for k, v in PRODUCTION.items() if not k.startswith("ACCORD_NETSUITE_")},
    "ACCORD_ERP": "tryton",
    "ACCORD_TRYTON_URL": "https://erp.acme.example",
    "ACCORD_TRYTON_DATABASE": "acme",
    "ACCORD_TRYTON_USER": "accord",
    "ACCORD_TRYTON_PASSWORD": "secret",
}


def test_tryton_variables_make_tryton_the_erp(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = load_settings(
        {
            **PRODUCTION_TRYTON,
            "ACCORD_TRYTON_CA_FILE": str(ca),
            "ACCORD_TRYTON_MAX_CONNECTIONS": "4",
            "ACCORD_SOURCE_TIMEOUT": "3",
        }
    )
    assert not settings.sandbox
    assert settings.netsuite is None
    assert settings.erp == "tryton"
    tryton = settings.erp_config
    assert isinstance(tryton, TrytonConfig)
    assert (tryton.url, tryton.database, tryton.user, tryton.password) == (
        "https://erp.acme.example",
        "acme",
        "accord",
        "secret",
    )
    assert (tryton.ca_file, tryton.max_connections, tryton.policy.timeout) == (str(ca), 4, 3.0)
    session = load_settings(
        {**PRODUCTION_TRYTON, "ACCORD_TRYTON_PASSWORD": "", "ACCORD_TRYTON_SESSION": "7:abc"}
    )
    assert session.erp_config is not None
    assert (session.erp_config.session, session.erp_config.password) == ("7:abc", "")


def test_the_sandbox_s_tryton_variables_do_not_leave_the_sandbox() -> None:
    settings = load_settings(
        {"ACCORD_TRYTON_CACHE_DIR": "/tmp/x", "ACCORD_TRYTON_DATABASE_URI": "postgresql://p/"}
    )
    assert settings.sandbox
    assert settings.erp_config is None


@pytest.mark.parametrize(
    ("env", "fragments"),
    [
        (
            {"ACCORD_TRYTON_URL": "erp.acme.example", "ACCORD_TRYTON_PASSWORD": ""},
            [
                "ACCORD_TRYTON_URL='erp.acme.example' is not an http(s) URL",
                "Tryton needs ACCORD_TRYTON_PASSWORD or ACCORD_TRYTON_SESSION",
            ],
        ),
        (
            {"ACCORD_TRYTON_DATABASE": "", "ACCORD_TRYTON_USER": ""},
            ["Tryton needs ACCORD_TRYTON_DATABASE, ACCORD_TRYTON_USER"],
        ),
        (
            {"ACCORD_TRYTON_PASSWORD": "", "ACCORD_TRYTON_SESSION": "abc"},
            ["ACCORD_TRYTON_SESSION='abc' is not a session 'user_id:token'"],
        ),
        (
            {"ACCORD_TRYTON_CA_FILE": "/no/such/ca.pem"},
            ["ACCORD_TRYTON_CA_FILE='/no/such/ca.pem': no such file"],
        ),
        (
            {"ACCORD_TRYTON_MAX_CONNECTIONS": "0"},
            ["ACCORD_TRYTON_MAX_CONNECTIONS='0' must be a whole number, 1 to 100"],
        ),
        (
            {"ACCORD_NETSUITE_ACCOUNT_ID": "1234567"},
            [
                "ACCORD_NETSUITE_ACCOUNT_ID configure NetSuite, but the ERP is tryton: "
                "set ACCORD_ERP=netsuite or leave them out"
            ],
        ),
        (
            {"ACCORD_ERP": ""},
            [
                "ACCORD_TRYTON_DATABASE, ACCORD_TRYTON_PASSWORD, ACCORD_TRYTON_URL, "
                "ACCORD_TRYTON_USER configure Tryton, but the ERP is netsuite: "
                "set ACCORD_ERP=tryton or leave them out",
                "NetSuite needs",
            ],
        ),
    ],
)
def test_tryton_mistakes_are_named_at_start(env: dict[str, str], fragments: list[str]) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({**PRODUCTION_TRYTON, **env})
    for fragment in fragments:
        assert fragment in str(refused.value)
    assert len(refused.value.problems) == len(fragments)  # each mistake told once


def test_reconciliation_runs_hourly_unless_told_otherwise() -> None:
    assert load_settings(PRODUCTION).reconcile_seconds == 3600
    assert load_settings({**PRODUCTION, "ACCORD_RECONCILE_SECONDS": "0"}).reconcile_seconds == 0
    assert load_settings({**PRODUCTION, "ACCORD_RECONCILE_SECONDS": "900"}).reconcile_seconds == 900


def test_cors_is_off_unless_origins_are_listed() -> None:
    assert load_settings({}).cors is None


def test_cors_origins_and_patterns_are_read() -> None:
    settings = load_settings(
        {"ACCORD_CORS_ORIGINS": "https://*.lightning.force.com,https://portal.example.com"}
    )

    assert settings.cors is not None
    assert settings.cors.patterns == ("https://*.lightning.force.com",)
    assert settings.cors.exact == ("https://portal.example.com",)
    assert not settings.cors.credentials


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        (
            {"ACCORD_CORS_ORIGINS": "https://portal.example.com/"},
            "ACCORD_CORS_ORIGINS: 'https://portal.example.com/' has a path",
        ),
        (
            {"ACCORD_CORS_ORIGINS": "*", "ACCORD_CORS_CREDENTIALS": "true"},
            "ACCORD_CORS_ORIGINS: credentials need every allowed origin named exactly",
        ),
        (
            {
                "ACCORD_CORS_ORIGINS": "https://*.lightning.force.com",
                "ACCORD_CORS_CREDENTIALS": "1",
            },
            "ACCORD_CORS_ORIGINS: credentials need every allowed origin named exactly",
        ),
        ({"ACCORD_CORS_CREDENTIALS": "true"}, "ACCORD_CORS_CREDENTIALS needs ACCORD_CORS_ORIGINS"),
        (
            {"ACCORD_CORS_ORIGINS": "https://a.example", "ACCORD_CORS_CREDENTIALS": "maybe"},
            "ACCORD_CORS_CREDENTIALS='maybe': use true or false",
        ),
    ],
)
def test_cors_mistakes_are_named_at_start(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(env)

    assert fragment in str(refused.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ACCORD_SALESFORCE_INSTANCE_URL", "not-a-url"),
        ("ACCORD_NETSUITE_ACCOUNT_ID", "bad id!"),
        ("ACCORD_NETSUITE_BASE_URL", "ftp://netsuite.example"),
        ("ACCORD_SALESFORCE_CA_FILE", "/no/such/file.pem"),
    ],
)
def test_each_mistake_is_reported_once(name: str, value: str) -> None:
    # given a configuration of real systems with one variable set to something unusable
    with pytest.raises(SettingsError) as refused:
        load_settings({**PRODUCTION, name: value})

    # then exactly one line speaks of it, and no line calls it missing
    about = [problem for problem in refused.value.problems if name in problem]
    assert len(about) == 1, refused.value.problems
    assert "needs" not in about[0]


def test_a_missing_key_file_is_named_as_the_variable_that_holds_it() -> None:
    env = {
        **PRODUCTION,
        "ACCORD_SALESFORCE_AUTH": "jwt",
        "ACCORD_SALESFORCE_USERNAME": "integration@acme.example",
    }
    with pytest.raises(SettingsError) as refused:
        load_settings(env)
    assert refused.value.problems == [
        "Salesforce auth 'jwt' needs ACCORD_SALESFORCE_PRIVATE_KEY_FILE"
    ]


def test_the_server_composes_the_erp_the_settings_name() -> None:
    from server import source_configs
    from sources.netsuite_http import NetSuiteConfig
    from sources.tryton.rpc import TrytonConfig

    _, on_tryton = source_configs(load_settings(PRODUCTION_TRYTON), None)
    _, on_netsuite = source_configs(load_settings(PRODUCTION), None)

    assert isinstance(on_tryton, TrytonConfig)
    assert on_tryton.url == "https://erp.acme.example"
    assert isinstance(on_netsuite, NetSuiteConfig)


def test_a_sandbox_runs_the_erp_accord_is_told_to_use(tmp_path: Path) -> None:
    from sandbox.endpoints import Endpoints, SalesforceEndpoint, SandboxInfo, TrytonEndpoint
    from server import source_configs

    # given the endpoints file of a sandbox that runs Tryton
    endpoints_file = tmp_path / "sandbox.json"
    Endpoints(
        SalesforceEndpoint("https://127.0.0.1:1", "u", "p", "t", "s", "c", "cs", None),
        TrytonEndpoint(
            "https://127.0.0.1:2",
            "accord",
            "accord",
            "pw",
            None,
            "8.2.1",
            "sqlite",
            "reused",
            0.1,
            1,
            "/tmp/x",
        ),
        SandboxInfo(pid=1, seed=42, customers=60, as_of="2026-12-05", now="", erp="tryton"),
    ).write(endpoints_file)

    # then Accord on Tryton attaches to it, and Accord on NetSuite says what to do
    _, config = source_configs(load_settings({"ACCORD_ERP": "tryton"}), endpoints_file)
    assert isinstance(config, TrytonConfig)
    assert (config.url, config.database) == ("https://127.0.0.1:2", "accord")
    with pytest.raises(SettingsError, match="select tryton with ACCORD_ERP"):
        source_configs(load_settings({}), endpoints_file)
