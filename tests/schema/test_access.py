"""Who reads what: the rule table beside the registry, masking, upstream query text withheld,
and which fields the built schema guards."""

from __future__ import annotations

import pytest

from domain.ownership import REGISTRY, Classification, Role
from schema.access import (
    EXTRA_CLASSIFICATIONS,
    NO_ROLE,
    READ_RULES,
    WITHHELD,
    Access,
    guard_fields,
    mask,
    may_read_upstream_text,
    redact_query_text,
)
from schema.build import build_schema


def test_every_classification_has_a_rule_for_every_reader() -> None:
    for classification in Classification:
        assert set(READ_RULES[classification]) == {NO_ROLE, *Role}


def test_pii_is_never_shown_to_anonymous_or_analytics_callers() -> None:
    for reader in (NO_ROLE, Role.ANALYTICS):
        assert READ_RULES[Classification.PII][reader] is Access.DENY
    assert READ_RULES[Classification.CONFIDENTIAL][NO_ROLE] is Access.DENY


@pytest.mark.parametrize(
    ("value", "shown"),
    [("DE123456789", "•••••••6789"), ("12345", "••••2345"), ("1234", "••••"), ("", "••••")],
)
def test_masked_text_keeps_its_last_four_characters(value: str, shown: str) -> None:
    assert mask(value) == shown


SALESFORCE_MALFORMED = (
    "\nSELECT Id, Name FROM Account WHERE Secret__c = 'x'\n"
    "                                    ^\n"
    "ERROR at Row:1:Column:37\nNo such column 'Secret__c' on entity 'Account'."
)


def test_query_text_is_withheld_and_the_rest_of_the_message_kept() -> None:
    redacted = redact_query_text(SALESFORCE_MALFORMED)

    assert "Secret__c' on entity" in redacted  # the vendor's explanation
    assert "SELECT" not in redacted
    assert "WHERE" not in redacted
    assert WITHHELD in redacted
    assert "^" not in redacted
    suiteql = "Invalid search query: select t.id, t.foreigntotal from transaction t where x"
    assert redact_query_text(suiteql) == f"Invalid search query: {WITHHELD}"
    assert redact_query_text("no such record") == "no such record"
    assert redact_query_text("please select a customer") == "please select a customer"


def test_only_ops_reads_upstream_query_text() -> None:
    assert [role for role in Role if may_read_upstream_text(role)] == [Role.OPS]
    assert not may_read_upstream_text(NO_ROLE)


def test_the_schema_guards_every_field_someone_may_not_read() -> None:
    guarded = set(guard_fields(build_schema()._schema))

    restricted = {
        entry.path
        for entry in REGISTRY
        if entry.classification in (Classification.CONFIDENTIAL, Classification.PII)
    }
    quoting = {
        "WorkflowStep.error",
        "WorkflowFailure.message",
        "WorkflowProblem.message",
        # every payload error's message (a problem may quote what a source answered)
        *(
            f"{name}.message"
            for name, graphql_type in build_schema()._schema.type_map.items()
            if name.endswith("Error") and "code" in getattr(graphql_type, "fields", {})
        ),
    }
    assert guarded == restricted | set(EXTRA_CLASSIFICATIONS) | quoting
