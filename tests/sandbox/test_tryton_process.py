"""``python -m sandbox --erp tryton`` as a process: a prepared database is reused, a new world
is seeded once, a stop (SIGTERM, even in the middle of seeding) leaves no server, database or
file behind, and PostgreSQL works as SQLite does."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from sandbox.endpoints import Endpoints
from sandbox.process import SandboxProcess
from sandbox.tryton.store import default_cache_dir
from tests.sandbox.tryton_support import rpc_for

pytestmark = pytest.mark.second_erp

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_URI = os.environ.get(
    "ACCORD_TEST_TRYTON_DATABASE_URI", "postgresql://postgres@127.0.0.1:5432/"
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in _status(pid)


def _status(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return ""


def processes_mentioning(text: str) -> list[int]:
    """Processes whose command line names ``text`` (a directory only one test uses)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline and alive(int(entry.name)):
                found.append(int(entry.name))
    return found


async def party_codes(endpoints: Endpoints) -> set[str]:
    rpc = rpc_for(endpoints.tryton)
    try:
        rows = await rpc.search_read("party.party", [["code", "like", "CUST-%"]], ["code"])
    finally:
        await rpc.close()
    return {row["code"] for row in rows}


@pytest.fixture
def fresh_world() -> Iterator[int]:
    """A seed no cache holds; its cache entries are removed afterwards."""
    seed = random.randrange(10**6, 10**9)
    cache = default_cache_dir() / "sqlite"
    before = set(cache.glob("world-*")) if cache.exists() else set()
    yield seed
    for path in set(cache.glob("world-*")) - before:
        path.unlink(missing_ok=True)


def test_a_second_start_reuses_the_prepared_database(tryton_sandbox: Endpoints) -> None:
    # given the session's Tryton sandbox prepared its world's database
    info = tryton_sandbox.sandbox

    # when another sandbox starts with the same world
    process = SandboxProcess(seed=info.seed, customers=info.customers, erp="tryton")
    try:
        endpoints = process.start(timeout=300)
        codes = asyncio.run(party_codes(endpoints))
        expected = asyncio.run(party_codes(tryton_sandbox))
    finally:
        process.stop()

    # then it copied the prepared database instead of seeding, and holds the same parties
    assert endpoints.tryton.prepared == "reused"
    assert endpoints.tryton.pid != tryton_sandbox.tryton.pid
    assert codes == expected
    assert len(codes) > 0


def test_a_new_world_is_seeded_once_then_reused(
    tryton_sandbox: Endpoints, fresh_world: int
) -> None:
    # given a world no cache holds (modules already activated by the session's sandbox)
    first = SandboxProcess(seed=fresh_world, customers=3, erp="tryton")
    try:
        seeded = first.start(timeout=600)
    finally:
        first.stop()

    # when it starts again
    second = SandboxProcess(seed=fresh_world, customers=3, erp="tryton")
    try:
        reused = second.start(timeout=300)
        codes = asyncio.run(party_codes(reused))
    finally:
        second.stop()

    # then the first start seeded it and the second copied it, faster
    assert seeded.tryton.prepared == "seeded"
    assert reused.tryton.prepared == "reused"
    assert reused.tryton.prepare_seconds < seeded.tryton.prepare_seconds
    assert 0 < len(codes) <= 3


def test_sigterm_stops_tryton_and_removes_its_directory(
    tryton_sandbox: Endpoints, tmp_path: Path
) -> None:
    # given `python -m sandbox --erp tryton` running on its own (a temporary state directory)
    info = tryton_sandbox.sandbox
    endpoints_file = tmp_path / "endpoints.json"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--erp",
            "tryton",
            "--seed",
            str(info.seed),
            "--customers",
            str(info.customers),
            "--endpoints-file",
            str(endpoints_file),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not endpoints_file.exists():
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, "the sandbox did not start"
            time.sleep(0.1)
        started = json.loads(endpoints_file.read_text())["tryton"]
        work_dir = Path(started["work_dir"])
        assert work_dir.is_dir()
        assert alive(started["pid"])

        # when it is sent SIGTERM
        child.send_signal(signal.SIGTERM)
        code = child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    # then it ended cleanly, trytond with it, and its directories are gone
    assert code == 0
    assert not alive(started["pid"])
    assert not work_dir.exists()
    assert not work_dir.parent.exists()
    assert processes_mentioning(str(work_dir)) == []


def test_sigterm_while_seeding_leaves_nothing_behind(
    tryton_sandbox: Endpoints, fresh_world: int
) -> None:
    # given a sandbox seeding a world no cache holds
    process = SandboxProcess(seed=fresh_world, customers=40, erp="tryton")
    process.launch()
    child = process.process
    assert child is not None
    try:
        deadline = time.monotonic() + 300
        seeding: list[Path] = []
        while not seeding:
            assert child.poll() is None, process.log_file.read_text()
            assert time.monotonic() < deadline, "the seeding server did not start"
            seeding = list(process.directory.glob("accord-tryton-*/prepare/trytond.log"))
            time.sleep(0.1)
        servers = processes_mentioning(str(process.directory))
        assert servers, "a trytond seeds the world"

        # when the sandbox is sent SIGTERM
        child.send_signal(signal.SIGTERM)
        code = child.wait(timeout=60)
    finally:
        process.stop()

    # then it stopped cleanly, with the seeding server, and nothing is cached half done
    assert code == 0
    assert not any(alive(pid) for pid in servers)
    assert processes_mentioning(str(process.directory)) == []
    assert not process.directory.exists()
    assert not [
        meta
        for meta in (default_cache_dir() / "sqlite").glob("world-*.json")
        if json.loads(meta.read_text()).get("seed") == fresh_world
    ]


def test_postgresql_holds_the_sandbox_databases_when_asked(tryton_sandbox: Endpoints) -> None:
    # given a sandbox told to keep Tryton's databases on the PostgreSQL server
    process = SandboxProcess(
        seed=42,
        customers=3,
        erp="tryton",
        env={"ACCORD_TRYTON_DATABASE_URI": POSTGRES_URI},
    )
    try:
        endpoints = process.start(timeout=600)
        codes = asyncio.run(party_codes(endpoints))
        databases = _databases()
    finally:
        process.stop()

    # then Tryton runs on a database of its own there, and a stop drops it
    tryton = endpoints.tryton
    assert tryton.backend == "postgresql"
    assert tryton.database in databases
    assert 0 < len(codes) <= 3
    assert tryton.database not in _databases()


def _databases() -> set[str]:
    """The databases the PostgreSQL server holds (it must answer: this test never skips)."""
    with psycopg.connect(POSTGRES_URI.rstrip("/") + "/postgres", connect_timeout=10) as db:
        return {row[0] for row in db.execute("SELECT datname FROM pg_database").fetchall()}
