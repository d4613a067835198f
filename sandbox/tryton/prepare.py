"""Prepare a Tryton database for a world, or find it prepared in the cache.

A prepared database depends on the world (seed, number of customers, the start's UTC date,
which every document date is laid out around), the Tryton distributions installed, the
modules activated and the code that seeds it; its cache entry is named by a hash of all of
them, so a change to any gives a new entry and never a stale one. Preparation has two
stages, each cached (see `sandbox.tryton.store`):

1. ``base``: an empty database, its modules activated by ``trytond-admin`` (about 20 s);
2. ``world``: a copy of the base, seeded over JSON-RPC by `sandbox.tryton.seed` through a
   trytond started for the purpose (minutes for 300 customers, mostly Tryton posting
   invoices).

Both run in a scratch database that is dropped afterwards; a sandbox always runs on a fresh
copy of the cached entry.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

from sandbox.tryton.errors import TrytonStartError
from sandbox.tryton.modules import MODULES, installed_versions
from sandbox.tryton.seed import seed
from sandbox.tryton.server import TrytonServer, install_modules
from sandbox.tryton.store import Backend, entry_lock, remember
from sandbox.world import World
from sources.errors import SourceError
from sources.resilience import ResiliencePolicy
from sources.tryton.rpc import TrytonConfig, TrytonRpc

__all__ = [
    "ADMIN_LOGIN",
    "ADMIN_PASSWORD",
    "INTEGRATION_LOGIN",
    "INTEGRATION_PASSWORD",
    "base_entry",
    "prepare",
    "world_entry",
]

ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "accord-sandbox-admin"  # a loopback sandbox's; never given to clients
INTEGRATION_LOGIN = "accord"
INTEGRATION_PASSWORD = "accord-sandbox-tryton"
# One seeding call may post hundreds of invoices; it is never repeated (writes).
SEED_POLICY = ResiliencePolicy(timeout=1800.0, max_attempts=1, max_concurrency=1)
_ROOT = Path(__file__).resolve().parent.parent
SEED_SOURCES = (
    _ROOT / "world.py",
    _ROOT / "tax_ids.py",
    _ROOT / "tryton" / "identifiers.py",
    _ROOT.parent / "sources" / "tryton" / "identifiers.py",
    _ROOT / "tryton" / "prepare.py",
    *sorted((_ROOT / "tryton" / "seed").glob("*.py")),
)


def _digest(facts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]


def base_entry(versions: dict[str, str]) -> str:
    return "base-" + _digest({"versions": versions, "modules": MODULES})


def world_entry(world: World, versions: dict[str, str]) -> str:
    code = hashlib.sha256(b"".join(path.read_bytes() for path in SEED_SOURCES)).hexdigest()
    facts = {
        "base": base_entry(versions),
        "seed": world.seed,
        "customers": sum(1 for _ in world.customers),
        "as_of": world.as_of.isoformat(),
        "code": code,
    }
    return "world-" + _digest(facts)


async def _base(backend: Backend, work_dir: Path, scratch: str, versions: dict[str, str]) -> None:
    """Make ``scratch`` a database with the modules activated: from the cache, or installed."""
    entry = base_entry(versions)
    async with entry_lock(backend.cache_dir, entry):
        if await asyncio.to_thread(backend.cached, entry):
            await asyncio.to_thread(backend.restore, entry, work_dir, scratch)
            remember(backend, entry)
            return
        started = time.monotonic()
        await asyncio.to_thread(backend.create_empty, work_dir, scratch)
        await install_modules(work_dir, backend, scratch, ADMIN_PASSWORD)
        await asyncio.to_thread(backend.save, work_dir, scratch, entry)
        remember(
            backend,
            entry,
            {
                "kind": "base",
                "versions": versions,
                "modules": list(MODULES),
                "backend": backend.name,
                "install_seconds": round(time.monotonic() - started, 1),
            },
        )


async def _seed(backend: Backend, work_dir: Path, scratch: str, world: World) -> dict[str, Any]:
    server = TrytonServer(work_dir, backend, scratch)
    url = await server.start()
    rpc = TrytonRpc(TrytonConfig(url, scratch, ADMIN_LOGIN, ADMIN_PASSWORD, policy=SEED_POLICY))
    try:
        report = await seed(rpc, world, login=INTEGRATION_LOGIN, password=INTEGRATION_PASSWORD)
    except SourceError as exc:
        log = server.log_file.read_text(errors="replace")[-3000:]
        raise TrytonStartError(f"seeding Tryton failed: {exc}\n{exc.details or ''}\n{log}") from exc
    finally:
        await rpc.close()
        await server.stop()
    return {"counts": report.counts, "seconds": report.seconds}


async def prepare(backend: Backend, work_dir: Path, world: World, database: str) -> dict[str, Any]:
    """Make ``database`` a fresh copy of the world's prepared database, preparing it first if
    the cache lacks it. Returns what happened: ``prepared`` ("reused" or "seeded"), the
    cache ``entry``, ``seconds`` and, when seeded, the seed's counts and timings."""
    started = time.monotonic()
    versions = installed_versions()
    entry = world_entry(world, versions)
    async with entry_lock(backend.cache_dir, entry):
        outcome: dict[str, Any] = {"entry": entry, "prepared": "reused"}
        if not await asyncio.to_thread(backend.cached, entry):
            prep_dir = work_dir / "prepare"
            prep_dir.mkdir()
            scratch = f"{database}_prepare"
            try:
                await _base(backend, prep_dir, scratch, versions)
                report = await _seed(backend, prep_dir, scratch, world)
                await asyncio.to_thread(backend.save, prep_dir, scratch, entry)
            finally:
                await asyncio.to_thread(backend.drop, prep_dir, scratch)
                shutil.rmtree(prep_dir, ignore_errors=True)
            outcome = {
                **outcome,
                **report,
                "prepared": "seeded",
                "seed": world.seed,
                "customers": len(world.customers),
                "as_of": world.as_of.isoformat(),
                "versions": versions,
                "backend": backend.name,
                "prepared_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "prepare_seconds": round(time.monotonic() - started, 1),
            }
            remember(backend, entry, {**outcome, "kind": "world"})
        else:
            remember(backend, entry)
        await asyncio.to_thread(backend.restore, entry, work_dir, database)
    outcome["seconds"] = round(time.monotonic() - started, 1)
    return outcome
