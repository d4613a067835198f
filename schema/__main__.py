"""``python -m schema``: print the SDL, ``--write`` it to schema/schema.graphql, or print the
``--ownership`` table of docs/schema.md."""

from __future__ import annotations

import argparse
from pathlib import Path

from schema.build import build_schema
from schema.ownership import REGISTRY

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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m schema", description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write {SDL_FILE}")
    parser.add_argument("--ownership", action="store_true", help="print the ownership table")
    args = parser.parse_args(argv)
    if args.ownership:
        print(ownership_table(), end="")
    elif args.write:
        SDL_FILE.write_text(sdl())
        print(f"wrote {SDL_FILE}")
    else:
        print(sdl(), end="")


if __name__ == "__main__":
    main()
