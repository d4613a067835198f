"""The OpenID Connect issuer from ACCORD_OIDC_* variables, each mistake named."""

from __future__ import annotations

import pytest

from config.settings import SettingsError, load_settings
from domain.ownership import Role
from tests.config.test_settings import PRODUCTION

ISSUER = {"ACCORD_OIDC_ISSUER": "https://login.example.com/", "ACCORD_OIDC_AUDIENCE": "accord"}


def test_without_an_issuer_only_api_keys_name_callers() -> None:
    assert load_settings(PRODUCTION).oidc is None


def test_an_issuer_with_its_claims_and_algorithms() -> None:
    oidc = load_settings(
        {
            **PRODUCTION,
            **ISSUER,
            "ACCORD_OIDC_JWKS_URL": "https://login.example.com/keys",
            "ACCORD_OIDC_ROLE_CLAIM": "realm_access.roles",
            "ACCORD_OIDC_ROLES": "Accord-Finance=finance, Accord-Ops=ops",
            "ACCORD_OIDC_ALGORITHMS": "es256,PS256",
        }
    ).oidc

    assert oidc is not None
    assert (oidc.issuer, oidc.audience) == ("https://login.example.com/", "accord")
    assert oidc.jwks_url == "https://login.example.com/keys"
    assert oidc.role_claim == "realm_access.roles"
    assert dict(oidc.roles) == {"Accord-Finance": Role.FINANCE, "Accord-Ops": Role.OPS}
    assert oidc.algorithms == ("ES256", "PS256")


def test_by_default_the_role_claim_holds_role_names() -> None:
    oidc = load_settings({**PRODUCTION, **ISSUER}).oidc

    assert oidc is not None
    assert oidc.role_claim == "accord_role"
    assert dict(oidc.roles) == {role.value: role for role in Role}
    assert oidc.algorithms == ("RS256", "ES256", "PS256")


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        (
            {"ACCORD_OIDC_ISSUER": "https://login.example.com"},
            "ACCORD_OIDC_ISSUER needs ACCORD_OIDC_AUDIENCE",
        ),
        (
            {**ISSUER, "ACCORD_OIDC_ISSUER": "http://login.example.com"},
            "ACCORD_OIDC_ISSUER='http://login.example.com' is not an https:// URL",
        ),
        (
            {**ISSUER, "ACCORD_OIDC_JWKS_URL": "http://login/keys"},
            "ACCORD_OIDC_JWKS_URL='http://login/keys' is not an https:// URL",
        ),
        (
            {**ISSUER, "ACCORD_OIDC_ALGORITHMS": "HS256"},
            "ACCORD_OIDC_ALGORITHMS='HS256': use some of RS256, ES256, PS256",
        ),
        (
            {**ISSUER, "ACCORD_OIDC_ROLES": "Boss=admin"},
            "ACCORD_OIDC_ROLES: 'Boss=admin' is not value=role",
        ),
        (
            {**ISSUER, "ACCORD_OIDC_ROLE_CLAIM": "roles with spaces"},
            "ACCORD_OIDC_ROLE_CLAIM='roles with spaces' is not a claim name",
        ),
        ({"ACCORD_OIDC_AUDIENCE": "accord"}, "ACCORD_OIDC_AUDIENCE need ACCORD_OIDC_ISSUER"),
        (
            {**ISSUER, "ACCORD_OIDC_CA_FILE": "/no/such.pem"},
            "ACCORD_OIDC_CA_FILE='/no/such.pem': no such file",
        ),
    ],
)
def test_a_mistake_is_named_at_start(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({**PRODUCTION, **env})

    assert fragment in str(refused.value)
