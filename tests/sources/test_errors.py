"""The source error tree: codes, retryability, messages, pickling and Retry-After parsing."""

from __future__ import annotations

import datetime as dt
import pickle

import pytest

from sources.errors import (
    DETAILS_LIMIT,
    CircuitOpen,
    FieldProblem,
    RecordNotFound,
    SourceAuthError,
    SourceConflict,
    SourceError,
    SourceForbidden,
    SourceProtocolError,
    SourceRateLimited,
    SourceTimeout,
    SourceUnavailable,
    SourceValidationError,
    SourceWarning,
    parse_retry_after,
)

CODES_AND_RETRYABILITY = [
    (SourceUnavailable, "SOURCE_UNAVAILABLE", True),
    (CircuitOpen, "SOURCE_UNAVAILABLE", False),
    (SourceTimeout, "SOURCE_TIMEOUT", True),
    (SourceRateLimited, "SOURCE_RATE_LIMITED", True),
    (SourceAuthError, "SOURCE_AUTH", False),
    (SourceForbidden, "SOURCE_FORBIDDEN", False),
    (RecordNotFound, "NOT_FOUND", False),
    (SourceValidationError, "SOURCE_VALIDATION", False),
    (SourceWarning, "SOURCE_WARNING", False),
    (SourceConflict, "SOURCE_CONFLICT", False),
    (SourceProtocolError, "SOURCE_BAD_RESPONSE", False),
]


@pytest.mark.parametrize(("cls", "code", "retryable"), CODES_AND_RETRYABILITY)
def test_each_error_has_its_graphql_code_and_default_retryability(
    cls: type[SourceError], code: str, retryable: bool
) -> None:
    # given / when
    error = cls("netsuite", "something went wrong")

    # then
    assert isinstance(error, SourceError)
    assert error.code == code
    assert error.retryable is retryable
    assert error.source == "netsuite"


def test_circuit_open_is_a_kind_of_unavailability() -> None:
    assert issubclass(CircuitOpen, SourceUnavailable)


def test_a_warning_is_a_refusal_that_names_what_to_confirm() -> None:
    # given a warning the source raised instead of writing
    error = SourceWarning("tryton", "over the credit limit", warning="f00.credit_limit_amount")

    # then code that handles refused input handles it too, and it names what to confirm
    assert isinstance(error, SourceValidationError)
    assert error.warning == "f00.credit_limit_amount"


def test_a_spent_daily_allowance_is_rate_limited_but_not_retryable() -> None:
    # given a Salesforce 403 REQUEST_LIMIT_EXCEEDED
    error = SourceRateLimited(
        "salesforce",
        "daily API request allowance spent",
        status=403,
        upstream_code="REQUEST_LIMIT_EXCEEDED",
        retryable=False,
    )

    # then
    assert error.code == "SOURCE_RATE_LIMITED"
    assert error.retryable is False
    assert error.retry_after is None


def test_message_names_the_source_status_and_vendor_code() -> None:
    # given
    error = SourceValidationError(
        "salesforce",
        "No such column 'Foo__c' on entity 'Account'",
        status=400,
        upstream_code="INVALID_FIELD",
    )

    # then
    assert str(error) == (
        "salesforce: No such column 'Foo__c' on entity 'Account' (HTTP 400 INVALID_FIELD)"
    )
    assert str(SourceTimeout("netsuite", "no answer")) == "netsuite: no answer"


def test_details_keep_a_bounded_excerpt_of_the_vendor_body() -> None:
    # given a huge HTML error page and an undecodable body
    huge = SourceUnavailable("netsuite", "bad gateway", status=502, details="<html>" + "x" * 50_000)
    raw = SourceProtocolError("netsuite", "not JSON", details=b"\xff\xfe{oops")

    # then
    assert huge.details is not None
    assert len(huge.details) == DETAILS_LIMIT
    assert huge.details.startswith("<html>xxx")
    assert huge.details.endswith("…")
    assert raw.details == "\ufffd\ufffd{oops"
    assert SourceUnavailable("netsuite", "down", details="short").details == "short"


def test_errors_survive_pickling_with_all_their_facts() -> None:
    # given one error of each kind that carries extra facts
    problems = (
        FieldProblem("Email", "INVALID_EMAIL_ADDRESS", "invalid email: x@"),
        FieldProblem(None, "REQUIRED_FIELD_MISSING", "Required fields are missing"),
    )
    errors: list[SourceError] = [
        SourceValidationError(
            "salesforce",
            "record refused",
            problems=problems,
            status=400,
            upstream_code="INVALID_EMAIL_ADDRESS",
            details='[{"errorCode":"INVALID_EMAIL_ADDRESS"}]',
        ),
        SourceRateLimited("netsuite", "too many requests", retry_after=1.5, status=429),
        CircuitOpen("netsuite", "circuit open", retry_after=12.0),
        RecordNotFound("salesforce", "Account 001000000000001AAA not found", status=404),
        SourceWarning("tryton", "over the credit limit", warning="abc.credit_limit_amount"),
    ]

    for error in errors:
        # when
        copy = pickle.loads(pickle.dumps(error))

        # then
        assert type(copy) is type(error)
        assert copy.__dict__ == error.__dict__
        assert str(copy) == str(error)
    assert pickle.loads(pickle.dumps(errors[0])).problems == problems


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 1 ", 1.0),
        ("0", 0.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),  # an HTTP-date 30 s after "now"
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # a date already past
        ("Wed, 21 Oct 2015 07:28:30 -0000", 30.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(
    header: str | None, seconds: float | None
) -> None:
    # given
    now = dt.datetime(2015, 10, 21, 7, 28, 0, tzinfo=dt.UTC)

    # when / then
    assert parse_retry_after(header, now=now) == seconds
