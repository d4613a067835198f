"""Webhook signatures: HMAC-SHA256 over "<t>.<raw body>", a tolerance window, rotation."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from events.signing import SignatureError, compute, parse_header, signature_header, verify

SECRET = "whsec_test_secret"
BODY = b'{"id":"evt-1","recordType":"invoice"}'
NOW = 1_767_607_872


def test_a_signed_body_verifies_and_the_mac_is_the_documented_one() -> None:
    header = signature_header(SECRET, BODY, timestamp=NOW)

    signed_at = verify(header, BODY, SECRET, now=NOW + 5)

    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={NOW},v1={expected}"
    assert signed_at == NOW


def test_a_wrong_secret_is_a_mismatch() -> None:
    header = signature_header("another-secret", BODY, timestamp=NOW)

    with pytest.raises(SignatureError) as refused:
        verify(header, BODY, SECRET, now=NOW)

    assert refused.value.reason == "mismatch"


def test_a_tampered_body_is_a_mismatch() -> None:
    header = signature_header(SECRET, BODY, timestamp=NOW)

    with pytest.raises(SignatureError) as refused:
        verify(header, BODY.replace(b"invoice", b"invoicf"), SECRET, now=NOW)

    assert refused.value.reason == "mismatch"


def test_a_timestamp_changed_after_signing_is_a_mismatch() -> None:
    signature = compute(SECRET, NOW, BODY)

    with pytest.raises(SignatureError) as refused:
        verify(f"t={NOW + 1},v1={signature}", BODY, SECRET, now=NOW)

    assert refused.value.reason == "mismatch"


def test_a_signature_older_than_the_window_is_stale() -> None:
    header = signature_header(SECRET, BODY, timestamp=NOW - 301)

    with pytest.raises(SignatureError) as refused:
        verify(header, BODY, SECRET, now=NOW)

    assert refused.value.reason == "stale"
    assert verify(signature_header(SECRET, BODY, timestamp=NOW - 300), BODY, SECRET, now=NOW)


def test_a_signature_from_the_future_is_refused() -> None:
    header = signature_header(SECRET, BODY, timestamp=NOW + 301)

    with pytest.raises(SignatureError) as refused:
        verify(header, BODY, SECRET, now=NOW)

    assert refused.value.reason == "future"


def test_the_tolerance_window_is_configurable() -> None:
    header = signature_header(SECRET, BODY, timestamp=NOW - 20)

    with pytest.raises(SignatureError):
        verify(header, BODY, SECRET, tolerance=10, now=NOW)
    assert verify(header, BODY, SECRET, tolerance=30, now=NOW) == NOW - 20


@pytest.mark.parametrize(
    "header",
    [
        "",
        "   ",
        "garbage",
        "v1=" + "a" * 64,  # no timestamp
        f"t={NOW}",  # no signature
        f"t=abc,v1={'a' * 64}",
        f"t=-5,v1={'a' * 64}",
        f"t={NOW},t={NOW},v1={'a' * 64}",
        f"t={NOW},v1=xyz",
        f"t={NOW},v1={'A' * 64}",  # hex is lower-case
        f"t={NOW},v1={'a' * 63}",
        f"t={NOW},=abc,v1={'a' * 64}",
        f"t={NOW}," + ",".join(["v1=" + "a" * 64] * 40),  # absurdly long
        f"t={'9' * 30},v1={'a' * 64}",
    ],
)
def test_malformed_headers_are_refused_not_crashed_on(header: str) -> None:
    with pytest.raises(SignatureError) as refused:
        verify(header, BODY, SECRET, now=NOW)

    assert refused.value.reason in ("missing", "malformed")


def test_a_missing_header_is_refused() -> None:
    with pytest.raises(SignatureError) as refused:
        verify(None, BODY, SECRET, now=NOW)

    assert refused.value.reason == "missing"


def test_rotation_the_sender_signs_with_both_secrets_and_either_receiver_accepts() -> None:
    header = signature_header(["new-secret", "old-secret"], BODY, timestamp=NOW)

    timestamp, signatures = parse_header(header)

    assert timestamp == NOW
    assert len(signatures) == 2
    assert verify(header, BODY, "old-secret", now=NOW) == NOW
    assert verify(header, BODY, "new-secret", now=NOW) == NOW
    with pytest.raises(SignatureError):
        verify(header, BODY, "third-secret", now=NOW)


def test_rotation_the_receiver_accepts_its_old_and_new_secret() -> None:
    old_sender = signature_header("old-secret", BODY, timestamp=NOW)
    new_sender = signature_header("new-secret", BODY, timestamp=NOW)

    receiver_secrets = ["new-secret", "old-secret"]

    assert verify(old_sender, BODY, receiver_secrets, now=NOW) == NOW
    assert verify(new_sender, BODY, receiver_secrets, now=NOW) == NOW


def test_other_schemes_are_ignored_so_senders_can_add_one() -> None:
    header = signature_header(SECRET, BODY, timestamp=NOW) + ",v0=deadbeef"

    assert verify(header, BODY, SECRET, now=NOW) == NOW


def test_an_empty_secret_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        signature_header("", BODY)
