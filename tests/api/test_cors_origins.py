"""The CORS allowlist as configured: which entries are origins or patterns, and which origins
each admits (pure logic; the HTTP behaviour is in test_cors.py and test_cors_browser.py)."""

from __future__ import annotations

import re

import pytest

from api.cors import CorsPolicy, OriginError, parse_origins

LIGHTNING = parse_origins("https://*.lightning.force.com, https://portal.example.com")


@pytest.mark.parametrize(
    "origin",
    [
        "https://acme.lightning.force.com",
        "https://acme--uat.lightning.force.com",
        "https://a.lightning.force.com",
        "https://portal.example.com",
    ],
)
def test_listed_origins_and_one_label_under_a_pattern_are_allowed(origin: str) -> None:
    assert LIGHTNING.allows(origin)


@pytest.mark.parametrize(
    "origin",
    [
        "https://lightning.force.com.evil.example",  # contains the allowed name
        "https://acme.lightning.force.com.evil.example",
        "https://evil-lightning.force.com",
        "https://evillightning.force.com",
        "https://acmeXlightningXforceXcom",  # the dots are literal, not "any character"
        "https://lightning.force.com",  # the pattern needs a label before the name
        "https://a.b.lightning.force.com",  # one label only
        "https://.lightning.force.com",
        "http://acme.lightning.force.com",  # another scheme
        "https://acme.lightning.force.com:8443",  # another port
        "https://acme.lightning.force.com/",
        "https://acme.lightning.force.com\n",
        "https://acme.lightning.force.com.",
        "https://portal.example.com.evil.example",
        "https://portal.example.co",
        "null",
        "",
    ],
)
def test_look_alikes_are_refused(origin: str) -> None:
    assert not LIGHTNING.allows(origin)


def test_entries_are_normalised_as_browsers_send_origins() -> None:
    policy = parse_origins(" HTTPS://Portal.Example.com:443 ,http://127.0.0.1:5173,, ")

    assert policy.exact == ("https://portal.example.com", "http://127.0.0.1:5173")
    assert policy.allows("https://portal.example.com")
    assert not policy.allows("https://portal.example.com:443")


def test_the_pattern_regex_is_anchored_and_escaped() -> None:
    regex = LIGHTNING.origin_regex()

    assert regex is not None
    assert re.search(regex, "https://acme.lightning.force.com")
    assert not re.search(regex, "https://acme.lightning.force.com.evil.example")
    assert not re.search(regex, "xhttps://acme.lightning.force.com")


def test_a_star_alone_allows_any_origin_without_credentials() -> None:
    policy = parse_origins("*")

    assert policy.any_origin
    assert policy.allows("https://anything.example")


@pytest.mark.parametrize("origins", ["*", "https://*.lightning.force.com"])
def test_credentials_are_refused_with_a_wildcard(origins: str) -> None:
    with pytest.raises(OriginError, match="credentials need every allowed origin named exactly"):
        parse_origins(origins, credentials=True)
    with pytest.raises(OriginError):
        CorsPolicy(any_origin=True, credentials=True)


def test_credentials_are_allowed_with_exact_origins() -> None:
    policy = parse_origins("https://acme.lightning.force.com", credentials=True)

    assert policy.credentials
    assert policy.allows("https://acme.lightning.force.com")


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ("null", "opaque origin"),
        ("acme.lightning.force.com", "is not an origin"),
        ("ftp://files.example.com", "is not an origin"),
        ("https://portal.example.com/", "trailing slash"),
        ("https://portal.example.com/app", "has a path"),
        ("https://portal.example.com?x=1", "has a path, query"),
        ("https://user@portal.example.com", "user information"),
        ("https://portal.example.com:99999", "port '99999'"),
        ("https://portal.example.com:http", "port 'http'"),
        ("https://*lightning.force.com", "leftmost label"),
        ("https://acme.*.force.com", "leftmost label"),
        ("https://*.*.force.com", "leftmost label"),
        ("https://*.com", "top-level domain"),
        ("https://", "does not name a host"),
        ("https://bad_host.example", "does not name a host"),
    ],
)
def test_unusable_entries_are_named(entry: str, fragment: str) -> None:
    with pytest.raises(OriginError) as refused:
        parse_origins(f"https://ok.example.com,{entry}")

    assert f"{entry!r}" in str(refused.value)
    assert fragment in str(refused.value)


def test_every_unusable_entry_is_reported_at_once() -> None:
    with pytest.raises(OriginError) as refused:
        parse_origins("null, https://a.example/, https://*.com")

    for entry in ("'null'", "'https://a.example/'", "'https://*.com'"):
        assert entry in str(refused.value)
