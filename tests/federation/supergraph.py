"""The demonstration supergraph: Accord's subgraph composed with the support-ticket subgraph.

``python -m tests.federation.supergraph --write`` composes the committed
``schema/subgraph.graphql`` with `tests.federation.tickets` through Apollo's composition
library (node, this folder's npm project) and writes ``schema/supergraph.graphql``.
The routing URLs are those of the compose-style deployment docs/federation.md shows; a gateway
started elsewhere overrides them (``gateway.config.mjs``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from schema.__main__ import SUBGRAPH_FILE
from tests.federation import tickets
from tests.federation.node import run_json

SUPERGRAPH_FILE = SUBGRAPH_FILE.with_name("supergraph.graphql")
ACCORD_URL = "http://accord:8000/graphql/federation"
TICKETS_URL = "http://tickets:4001/graphql"


@dataclass(frozen=True)
class Composition:
    errors: list[dict[str, Any]]
    hints: list[dict[str, Any]]
    supergraph: str | None


def compose(accord_sdl: str | None = None) -> Composition:
    """Compose Accord's subgraph SDL (the committed one by default) with the ticket subgraph."""
    subgraphs = [
        {"name": "accord", "url": ACCORD_URL, "sdl": accord_sdl or SUBGRAPH_FILE.read_text()},
        {"name": "tickets", "url": TICKETS_URL, "sdl": tickets.sdl()},
    ]
    result = run_json("compose.mjs", subgraphs)
    supergraph = result["supergraphSdl"]
    return Composition(
        errors=result["errors"],
        hints=result["hints"],
        supergraph=supergraph + "\n" if supergraph else None,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.federation.supergraph")
    parser.add_argument("--write", action="store_true", help=f"write {SUPERGRAPH_FILE}")
    args = parser.parse_args(argv)
    composed = compose()
    for problem in composed.errors + composed.hints:
        print(f"{problem.get('code')}: {problem['message']}")
    if composed.errors or composed.supergraph is None:
        raise SystemExit(1)
    if args.write:
        SUPERGRAPH_FILE.write_text(composed.supergraph)
        print(f"wrote {SUPERGRAPH_FILE}")
    else:
        print(composed.supergraph, end="")


if __name__ == "__main__":
    main()
