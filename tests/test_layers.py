"""The import graph runs one way: each folder imports only folders below it.

    server, accord (the command line), config      the composition root and its settings
    api                                             HTTP, WebSocket, SSE: the ways in
    schema                                          the GraphQL types and roots
    resolvers, mutations, reconcile                 the read path, the write path, the comparison
                                                    of the two systems
    events, cache                                   changes coming in and going out; the read cache
    sources, state                                  the systems' adapters; shared state
    domain, telemetry                               the registry, ids, roles, the caller, audit
                                                    records; metrics, traces and log context

Folders on one tier may import one another one way, never both ways. ``sandbox`` and ``bench``
stand beside the house (tools that speak to it from outside) and nothing in the house imports
them, except the composition root and the command line, which start the sandbox.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TIERS: list[set[str]] = [
    {"server", "accord", "config"},
    {"api"},
    {"schema"},
    {"resolvers", "mutations", "reconcile"},
    {"events", "cache"},
    {"sources", "state"},
    {"domain", "telemetry"},
]
TIER = {folder: level for level, folders in enumerate(TIERS) for folder in folders}
BESIDE = {"sandbox": {"domain", "sources", "events"}, "bench": {"sandbox", "sources", "api"}}
MAY_IMPORT_SANDBOX = {"server", "accord"}


def imports() -> dict[tuple[str, str], set[str]]:
    """(importer, imported) top-level folders -> the files that make that arrow."""
    known = set(TIER) | set(BESIDE)
    arrows: dict[tuple[str, str], set[str]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in {".venv", "tests", "build", "clients"}:
            continue
        top = relative.parts[0].removesuffix(".py")
        if top not in known:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                target = name.split(".")[0]
                if target in known and target != top:
                    arrows[(top, target)].add(str(relative))
    return arrows


def test_every_arrow_points_down() -> None:
    wrong = []
    for (importer, imported), files in sorted(imports().items()):
        if importer in BESIDE:
            allowed = imported in BESIDE[importer]
        elif imported in BESIDE:
            allowed = imported == "sandbox" and importer in MAY_IMPORT_SANDBOX
        else:
            allowed = TIER[imported] >= TIER[importer]
        if not allowed:
            wrong.append(f"{importer} -> {imported} ({', '.join(sorted(files))})")
    assert wrong == [], "imports that run the wrong way:\n" + "\n".join(wrong)


def test_no_two_folders_import_each_other() -> None:
    arrows = imports()
    both_ways = sorted(f"{a} <-> {b}" for (a, b) in arrows if a < b and (b, a) in arrows)
    assert both_ways == []


def test_the_domain_imports_nothing_of_accord() -> None:
    assert [pair for pair in imports() if pair[0] == "domain"] == []
