"""Schema governance: the committed SDL against the last release, and the rules themselves."""

from __future__ import annotations

import datetime as dt

import pytest

from schema import governance
from schema.__main__ import SDL_FILE
from schema.governance import Changelog, Entry, Release, problems

OLD = """
type Query { customer(id: ID!): Customer }
enum CreditStatus { GOOD_STANDING ON_HOLD }
type Customer {
  id: ID!
  name: String
  fax: String @deprecated(reason: "Nobody sends faxes.")
  phone: String
  status: CreditStatus
}
"""
TODAY = dt.date(2026, 12, 5)


def changelog(*, breaking: tuple[Entry, ...] = (), dangerous: tuple[Entry, ...] = ()) -> Changelog:
    return Changelog([Release("unreleased", None, breaking, dangerous)])


def test_the_committed_schema_has_no_unrecorded_change_since_the_last_release() -> None:
    latest = governance.latest_release()
    assert latest is not None
    found = problems(latest[1], SDL_FILE.read_text(), governance.read_changelog())
    assert found == [], "\n".join(found)


def test_every_release_parses_and_the_changelog_names_each_one() -> None:
    versions = governance.released_versions()
    assert versions
    recorded = {release.version for release in governance.read_changelog().releases}
    assert set(versions) <= recorded
    assert "unreleased" in recorded


def test_an_unrecorded_breaking_change_fails() -> None:
    new = OLD.replace("  phone: String\n", "")
    assert problems(OLD, new, changelog(), today=TODAY) == [
        "breaking change not in schema/changelog.toml (unreleased): Field Customer.phone was removed."
    ]


def test_a_field_is_removed_only_after_a_release_deprecated_it() -> None:
    new = OLD.replace("  phone: String\n", "")
    entry = Entry("Field Customer.phone was removed.", announced=dt.date(2026, 6, 1))
    assert problems(OLD, new, changelog(breaking=(entry,)), today=TODAY) == [
        "remove only what the previous release deprecated: Field Customer.phone was removed."
    ]


def test_a_deprecated_field_announced_long_enough_ago_may_go() -> None:
    new = OLD.replace('  fax: String @deprecated(reason: "Nobody sends faxes.")\n', "")
    entry = Entry("Field Customer.fax was removed.", announced=dt.date(2026, 6, 1))
    assert problems(OLD, new, changelog(breaking=(entry,)), today=TODAY) == []


@pytest.mark.parametrize(
    ("announced", "expected"),
    [
        (None, "no announcement date for: Field Customer.fax was removed."),
        (
            dt.date(2026, 11, 1),
            "announced 2026-11-01, less than 90 days before 2026-12-05: Field Customer.fax was removed.",
        ),
    ],
)
def test_a_breaking_change_needs_its_deprecation_period(
    announced: dt.date | None, expected: str
) -> None:
    new = OLD.replace('  fax: String @deprecated(reason: "Nobody sends faxes.")\n', "")
    entry = Entry("Field Customer.fax was removed.", announced=announced)
    assert problems(OLD, new, changelog(breaking=(entry,)), today=TODAY) == [expected]


def test_a_type_change_is_breaking_even_when_recorded_as_dangerous() -> None:
    new = OLD.replace("  name: String\n", "  name: Int\n")
    wrong_section = Entry("Field Customer.name changed type from String to Int.")
    found = problems(OLD, new, changelog(dangerous=(wrong_section,)), today=TODAY)
    assert found == [
        "breaking change not in schema/changelog.toml (unreleased): "
        "Field Customer.name changed type from String to Int."
    ]


def test_a_dangerous_change_must_be_recorded_too() -> None:
    new = OLD.replace("GOOD_STANDING ON_HOLD", "GOOD_STANDING ON_HOLD OVER_LIMIT")
    change = "Enum value CreditStatus.OVER_LIMIT was added."
    assert problems(OLD, new, changelog(), today=TODAY) == [
        f"dangerous change not in schema/changelog.toml (unreleased): {change}"
    ]
    assert problems(OLD, new, changelog(dangerous=(Entry(change),)), today=TODAY) == []


def test_an_enum_value_is_removed_only_after_a_release_deprecated_it() -> None:
    new = OLD.replace("GOOD_STANDING ON_HOLD", "GOOD_STANDING")
    entry = Entry("Enum value CreditStatus.ON_HOLD was removed.", announced=dt.date(2026, 1, 5))
    assert problems(OLD, new, changelog(breaking=(entry,)), today=TODAY) == [
        "remove only what the previous release deprecated: "
        "Enum value CreditStatus.ON_HOLD was removed."
    ]
    deprecated = OLD.replace("ON_HOLD }", 'ON_HOLD @deprecated(reason: "Use the hold field.") }')
    assert problems(deprecated, new, changelog(breaking=(entry,)), today=TODAY) == []


def test_adding_a_field_needs_no_entry() -> None:
    new = OLD.replace("  phone: String\n", "  phone: String\n  website: String\n")
    assert problems(OLD, new, changelog(), today=TODAY) == []


def test_a_release_ships_on_its_date() -> None:
    new = OLD.replace('  fax: String @deprecated(reason: "Nobody sends faxes.")\n', "")
    entry = Entry("Field Customer.fax was removed.", announced=dt.date(2026, 6, 1))
    log = Changelog([Release("0.2.0", dt.date(2026, 7, 1), (entry,), ())])
    assert problems(OLD, new, log, version="0.2.0") == [
        "announced 2026-06-01, less than 90 days before 2026-07-01: Field Customer.fax was removed."
    ]
