"""``python -m schema``: print the SDL, ``--write`` it to schema/schema.graphql, or print the
``--ownership`` table of docs/schema.md or the ``--access`` table of docs/security.md."""

from __future__ import annotations

import argparse
from pathlib import Path

from schema.access import NO_ROLE, READ_RULES, Access
from schema.build import build_schema
from schema.ownership import REGISTRY, Role

SDL_FILE = Path(__file__).with_name("schema.graphql")


def sdl() -> str:
    return build_schema().as_str() + "\n"


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


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m schema", description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write {SDL_FILE}")
    parser.add_argument("--ownership", action="store_true", help="print the ownership table")
    parser.add_argument("--access", action="store_true", help="print the field-access table")
    args = parser.parse_args()
    if args.ownership:
        print(ownership_table(), end="")
    elif args.access:
        print(access_table(), end="")
    elif args.write:
        SDL_FILE.write_text(sdl())
        print(f"wrote {SDL_FILE}")
    else:
        print(sdl(), end="")


if __name__ == "__main__":
    main()
