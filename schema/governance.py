"""Schema governance: what changed since the last release, and whether clients were told.

Each release's SDL is kept under ``schema/releases/<version>.graphql``. The committed SDL
(``schema/schema.graphql``) is compared with the newest of them using graphql-core's
``find_breaking_changes`` and ``find_dangerous_changes``, and every change found must be
recorded in ``schema/changelog.toml``:

- a breaking change (a field, argument, type or enum value removed, a type changed, a required
  argument added...) needs an entry with the date clients were told (``announced``) at least
  `DEPRECATION_DAYS` before the change ships; a field or enum value may only be removed once
  the previous release marked it ``@deprecated``;
- a dangerous change (an enum value or an optional argument added, a default changed) needs an
  entry, so that clients with exhaustive switches hear of it.

Entries belong to a ``[[release]]`` table; the one with ``version = "unreleased"`` collects
what the next release will bring. ``python -m schema --release X`` writes the release's SDL
once its changelog table carries that version.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphql import (
    BreakingChangeType,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    find_breaking_changes,
    find_dangerous_changes,
)

HERE = Path(__file__).resolve().parent
RELEASES = HERE / "releases"
CHANGELOG = HERE / "changelog.toml"
UNRELEASED = "unreleased"
DEPRECATION_DAYS = 90

_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


@dataclass(frozen=True)
class Change:
    kind: str  # "breaking" or "dangerous"
    type: str  # graphql-core's change type name, e.g. FIELD_REMOVED
    description: str  # graphql-core's sentence, e.g. "Field Customer.fax was removed."


@dataclass(frozen=True)
class Entry:
    change: str  # the change's description, as graphql-core words it
    announced: dt.date | None = None
    note: str = ""


@dataclass(frozen=True)
class Release:
    version: str
    date: dt.date | None
    breaking: tuple[Entry, ...] = ()
    dangerous: tuple[Entry, ...] = ()


@dataclass
class Changelog:
    releases: list[Release] = field(default_factory=list)

    def release(self, version: str) -> Release | None:
        return next((r for r in self.releases if r.version == version), None)


def version_key(version: str) -> tuple[int, int, int]:
    found = _VERSION.match(version)
    if not found:
        raise ValueError(f"{version!r} is not a version (MAJOR.MINOR.PATCH)")
    major, minor, patch = found.groups()
    return int(major), int(minor), int(patch)


def released_versions(folder: Path = RELEASES) -> list[str]:
    return sorted((p.stem for p in folder.glob("*.graphql")), key=version_key)


def latest_release(folder: Path = RELEASES) -> tuple[str, str] | None:
    versions = released_versions(folder)
    if not versions:
        return None
    return versions[-1], (folder / f"{versions[-1]}.graphql").read_text()


def read_changelog(path: Path = CHANGELOG) -> Changelog:
    data = tomllib.loads(path.read_text()) if path.exists() else {}
    releases = []
    for table in data.get("release", []):
        releases.append(
            Release(
                version=str(table["version"]),
                date=_date(table.get("date")),
                breaking=tuple(_entry(item) for item in table.get("breaking", [])),
                dangerous=tuple(_entry(item) for item in table.get("dangerous", [])),
            )
        )
    return Changelog(releases)


def _date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _entry(item: Any) -> Entry:
    return Entry(
        change=str(item["change"]),
        announced=_date(item.get("announced")),
        note=item.get("note", ""),
    )


def changes(old_sdl: str, new_sdl: str) -> list[Change]:
    old, new = build_schema(old_sdl), build_schema(new_sdl)
    found = [
        Change("breaking", change.type.name, change.description)
        for change in find_breaking_changes(old, new)
    ]
    found += [
        Change("dangerous", change.type.name, change.description)
        for change in find_dangerous_changes(old, new)
    ]
    return found


def problems(
    old_sdl: str,
    new_sdl: str,
    changelog: Changelog,
    *,
    version: str = UNRELEASED,
    today: dt.date | None = None,
) -> list[str]:
    """Why the change from ``old_sdl`` to ``new_sdl`` may not ship as ``version`` (none: ok)."""
    release = changelog.release(version) or Release(version, None)
    ships = release.date or today or dt.datetime.now(dt.UTC).date()
    recorded = {
        "breaking": {entry.change: entry for entry in release.breaking},
        "dangerous": {entry.change: entry for entry in release.dangerous},
    }
    old = build_schema(old_sdl)
    found: list[str] = []
    for change in changes(old_sdl, new_sdl):
        entry = recorded[change.kind].get(change.description)
        if entry is None:
            found.append(
                f"{change.kind} change not in schema/changelog.toml ({version}): "
                f"{change.description}"
            )
            continue
        if change.kind != "breaking":
            continue
        if change.type in (
            BreakingChangeType.FIELD_REMOVED.name,
            BreakingChangeType.VALUE_REMOVED_FROM_ENUM.name,
        ) and not _was_deprecated(old, change.description):
            found.append(f"remove only what the previous release deprecated: {change.description}")
        if entry.announced is None:
            found.append(f"no announcement date for: {change.description}")
        elif (ships - entry.announced).days < DEPRECATION_DAYS:
            found.append(
                f"announced {entry.announced}, less than {DEPRECATION_DAYS} days before "
                f"{ships}: {change.description}"
            )
    return found


_REMOVED = re.compile(r"^(?:Field|Enum value) (\w+)\.(\w+) was removed\.$")


def _was_deprecated(schema: GraphQLSchema, description: str) -> bool:
    found = _REMOVED.match(description)
    if not found:
        return False
    type_name, member = found.groups()
    named = schema.type_map.get(type_name)
    if isinstance(named, GraphQLEnumType):
        value = named.values.get(member)
        return bool(value and value.deprecation_reason)
    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
        old_field = named.fields.get(member)
        return bool(old_field and getattr(old_field, "deprecation_reason", None))
    return False
