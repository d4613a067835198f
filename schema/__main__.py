"""``python -m schema``: print the SDL, ``--write`` it to schema/schema.graphql (and the
federation subgraph's to schema/subgraph.graphql), print the ``--ownership`` table of
docs/schema.md or the ``--access`` table of docs/security.md, ``--check`` the changes since the
last release against schema/changelog.toml, or ``--release X`` the SDL as
schema/releases/X.graphql."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from domain.ownership import REGISTRY, Role
from schema import governance
from schema.access import NO_ROLE, READ_RULES, Access
from schema.build import build_schema, sdl_of
from schema.federation import build_subgraph_schema

SDL_FILE = Path(__file__).with_name("schema.graphql")
SUBGRAPH_FILE = Path(__file__).with_name("subgraph.graphql")


def sdl() -> str:
    return sdl_of(build_schema())


def subgraph_sdl() -> str:
    """The SDL of Accord as a federation subgraph, as ``_service { sdl }`` answers it."""
    return sdl_of(build_subgraph_schema())


def ownership_table() -> str:
    """The ownership registry as the Markdown table docs/schema.md shows."""
    rows = [
        "| Field | Owner | Cache (s) | Classification | Written by |",
        "| --- | --- | --- | --- | --- |",
    ]
    for entry in REGISTRY:
        writers = ", ".join(sorted(role.value for role in entry.writable_by)) or "—"
        rows.append(
            f"| `{entry.path}` | {entry.owner.value} | {entry.ttl.seconds} | "
            f"{entry.classification.value} | {writers} |"
        )
    return "\n".join(rows) + "\n"


def _govern(version: str | None) -> int:
    """``--check`` (version None) or ``--release``: 0 when the changes may ship."""
    current = SDL_FILE.read_text()
    latest = governance.latest_release()
    changelog = governance.read_changelog()
    if version is not None:
        try:
            governance.version_key(version)
        except ValueError as exc:
            print(f"python -m schema: --release: {exc}", file=sys.stderr)
            return 2
        if changelog.release(version) is None:
            print(
                f"python -m schema: schema/changelog.toml has no release {version!r}: name the "
                '"unreleased" table after it (with its date) first',
                file=sys.stderr,
            )
            return 2
    found = (
        governance.problems(latest[1], current, changelog, version=version or "unreleased")
        if latest
        else []
    )
    for problem in found:
        print(problem, file=sys.stderr)
    if found:
        return 1
    if version is not None:
        target = governance.RELEASES / f"{version}.graphql"
        target.write_text(current)
        print(f"wrote {target}")
    else:
        print(f"no unrecorded changes since {latest[0] if latest else 'the first release'}")
    return 0


def access_table() -> str:
    """The read rule of each classification per role, as docs/security.md shows it."""
    readers: list[Role | None] = [NO_ROLE, *Role]
    names = ["anonymous", *(role.value for role in Role)]
    shown = {Access.ALLOW: "reads", Access.MASK: "masked", Access.DENY: "denied"}
    rows = [
        "| Classification | " + " | ".join(names) + " |",
        "| --- |" + " --- |" * len(names),
    ]
    for classification, rules in READ_RULES.items():
        cells = " | ".join(shown[rules[reader]] for reader in readers)
        rows.append(f"| {classification.value} | {cells} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m schema", description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write {SDL_FILE}")
    parser.add_argument("--ownership", action="store_true", help="print the ownership table")
    parser.add_argument("--access", action="store_true", help="print the field-access table")
    parser.add_argument(
        "--check", action="store_true", help="check the changes since the last release"
    )
    parser.add_argument("--release", metavar="VERSION", help="write the SDL as this release")
    args = parser.parse_args(argv)
    if args.check or args.release:
        raise SystemExit(_govern(args.release))
    if args.ownership:
        print(ownership_table(), end="")
    elif args.access:
        print(access_table(), end="")
    elif args.write:
        SDL_FILE.write_text(sdl())
        SUBGRAPH_FILE.write_text(subgraph_sdl())
        print(f"wrote {SDL_FILE} and {SUBGRAPH_FILE}")
    else:
        print(sdl(), end="")


if __name__ == "__main__":
    main()
