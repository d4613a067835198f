"""How Tryton's error answers and HTTP statuses map into the source error tree.

The shapes here are the ones a trytond 8.2 server writes; tests/sandbox/test_tryton_rpc.py
provokes each of them from a real server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sources.errors import (
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
)
from sources.tryton.errors import error_from_answer, error_from_status


def test_a_user_error_is_a_validation_error_that_keeps_tryton_s_words() -> None:
    # given
    answer = [
        "UserError",
        ['A value is required for field "Name" in "Party".', "Set a name.", None],
    ]

    # when
    error = error_from_answer(answer)

    # then
    assert type(error) is SourceValidationError
    assert error.source == "tryton"
    assert error.message == 'A value is required for field "Name" in "Party".'
    assert error.upstream_code == "UserError"
    assert error.details is not None
    assert "Set a name." in error.details
    assert [p.code for p in error.problems] == ["UserError"]


def test_a_user_warning_names_the_warning_to_confirm() -> None:
    # given the warning a sale over its customer's credit limit raises on confirm
    answer = [
        "UserWarning",
        ["8d2c.credit_limit_amount", '"Acme" has reached its credit limit.', ""],
    ]

    # when
    error = error_from_answer(answer)

    # then
    assert isinstance(error, SourceWarning)
    assert error.code == "SOURCE_WARNING"
    assert error.warning == "8d2c.credit_limit_amount"
    assert error.message == '"Acme" has reached its credit limit.'


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ('You are not allowed to access "Sale".', SourceForbidden),
        ('You are not allowed to modify the field "Number" of "Sale".', SourceForbidden),
        ('Calling button "post on "Invoice" is not allowed.', SourceForbidden),
        ('You are trying to read records "9999" of "Party" that don\'t exist.', RecordNotFound),
    ],
)
def test_access_errors_arrive_as_user_errors_and_are_told_apart_by_their_text(
    message: str, kind: type[SourceError]
) -> None:
    error = error_from_answer(["UserError", [message, "", None]])
    assert type(error) is kind
    assert error.upstream_code == "AccessError"


def test_a_concurrent_change_is_a_conflict() -> None:
    error = error_from_answer(["ConcurrencyException", "Records were modified in the meanwhile"])
    assert isinstance(error, SourceConflict)
    assert error.message == "Records were modified in the meanwhile"


def test_a_login_that_wants_more_than_a_password_is_an_auth_error() -> None:
    error = error_from_answer(["LoginException", ["totp_code", "Code", "char"]])
    assert isinstance(error, SourceAuthError)
    assert "totp_code" in error.message


def test_a_server_bug_keeps_its_traceback_for_operators_only_in_details() -> None:
    # given an exception Tryton did not expect: its text and traceback
    answer = ["'NoneType' object has no attribute 'id'", "Traceback (most recent call last):\n…"]

    # when
    error = error_from_answer(answer)

    # then the message names the failure, the traceback stays in details
    assert type(error) is SourceError
    assert "Traceback" not in error.message
    assert error.details is not None
    assert "Traceback" in error.details


@pytest.mark.parametrize("answer", [None, "boom", [], [42], ["UserWarning", ["only one"]]])
def test_an_error_of_unknown_shape_is_a_protocol_error(answer: Any) -> None:
    assert isinstance(error_from_answer(answer), SourceProtocolError)


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (401, SourceAuthError, False),
        (403, SourceForbidden, False),
        (404, SourceUnavailable, False),
        (429, SourceRateLimited, True),
        (504, SourceTimeout, True),
        (502, SourceUnavailable, True),
        (400, SourceValidationError, False),
    ],
)
def test_http_statuses_map_by_what_they_mean_on_a_tryton_server(
    status: int, kind: type[SourceError], retryable: bool
) -> None:
    # given an answer that never reached a model
    response = httpx.Response(status, text="<h1>nope</h1>", headers={"Retry-After": "3"})

    # when
    error = error_from_status(response, what="model.party.party.read")

    # then
    assert type(error) is kind
    assert error.status == status
    assert error.retryable is retryable
    assert error.message.startswith("model.party.party.read: ")
    if isinstance(error, SourceRateLimited):
        assert error.retry_after == 3.0
