"""Where Tryton's databases live, and the cache of prepared ones.

Preparing a database (activating the modules, then seeding the world over JSON-RPC) takes
minutes; copying a prepared one takes a moment. So prepared databases are kept in a cache,
under names made of a hash of everything they depend on (see `sandbox.tryton.prepare`):

- ``base-<hash>``: the modules activated, nothing else; depends on the Tryton versions only;
- ``world-<hash>``: a base seeded with one world.

Every sandbox runs on its own copy, so it may write freely and a stop throws the copy away.
Two backends hold them:

- `SqliteBackend` (the default): a database is a file; the cache is a directory of files
  (``~/.cache/accord/tryton`` unless ``ACCORD_TRYTON_CACHE_DIR`` says otherwise) and a copy
  is the SQLite backup API's consistent snapshot.
- `PostgresBackend` (``ACCORD_TRYTON_DATABASE_URI=postgresql://…``): cached databases are
  databases named ``accord_tryton_<entry>``, and a copy is ``CREATE DATABASE … TEMPLATE``.

Preparation of one entry is serialised across processes by a lock file in the cache directory,
so two sandboxes started together seed once and share the result.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from sandbox.tryton.errors import TrytonStartError

__all__ = [
    "Backend",
    "PostgresBackend",
    "SqliteBackend",
    "backend_for",
    "default_cache_dir",
    "entry_lock",
]

KEEP_WORLDS = 4  # prepared worlds kept per cache; the least recently used go first


def default_cache_dir() -> Path:
    configured = os.environ.get("ACCORD_TRYTON_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "accord" / "tryton"


class Backend(Protocol):
    """A place for Tryton databases: the runs' own and the cached, prepared ones."""

    name: str
    cache_dir: Path

    def database_section(self, work_dir: Path) -> dict[str, str]:
        """The ``[database]`` section of trytond.conf for a server working in ``work_dir``."""

    def create_empty(self, work_dir: Path, database: str) -> None: ...

    def cached(self, entry: str) -> bool: ...

    def save(self, work_dir: Path, database: str, entry: str) -> None:
        """Copy a database no server is using into the cache as ``entry``."""

    def restore(self, entry: str, work_dir: Path, database: str) -> None:
        """Make ``database`` a copy of the cached ``entry``."""

    def drop(self, work_dir: Path, database: str) -> None: ...

    def evict(self, entry: str) -> None: ...


def _touch_meta(cache_dir: Path, entry: str, meta: Mapping[str, Any] | None = None) -> None:
    """Record (or refresh) an entry's metadata; its modification time says when it was used."""
    path = cache_dir / f"{entry}.json"
    if meta is not None:
        path.write_text(json.dumps(meta, indent=2, sort_keys=True))
    elif path.exists():
        path.touch()


def read_meta(cache_dir: Path, entry: str) -> dict[str, Any]:
    try:
        data = json.loads((cache_dir / f"{entry}.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def remember(backend: Backend, entry: str, meta: Mapping[str, Any] | None = None) -> None:
    """Note that ``entry`` was used (with its metadata when new) and evict the least recently
    used prepared worlds beyond `KEEP_WORLDS`."""
    _touch_meta(backend.cache_dir, entry, meta)
    worlds = sorted(
        backend.cache_dir.glob("world-*.json"), key=lambda p: p.stat().st_mtime, reverse=True
    )
    for stale in worlds[KEEP_WORLDS:]:
        name = stale.name.removesuffix(".json")
        with contextlib.suppress(OSError):
            backend.evict(name)
            stale.unlink()


def _lock_file(cache_dir: Path, entry: str) -> IO[str]:
    cache_dir.mkdir(parents=True, exist_ok=True)
    return (cache_dir / f"{entry}.lock").open("a")


@contextlib.asynccontextmanager
async def entry_lock(cache_dir: Path, entry: str) -> AsyncIterator[None]:
    """Hold the cache's lock for ``entry`` (between processes); waiting can be cancelled."""
    with await asyncio.to_thread(_lock_file, cache_dir, entry) as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- SQLite


class SqliteBackend:
    name = "sqlite"

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir

    @staticmethod
    def _file(work_dir: Path, database: str) -> Path:
        return work_dir / "db" / f"{database}.sqlite"

    def database_section(self, work_dir: Path) -> dict[str, str]:
        return {"uri": "sqlite://", "path": str(work_dir / "db")}

    def create_empty(self, work_dir: Path, database: str) -> None:
        path = self._file(work_dir, database)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()  # trytond opens only a file that exists

    def cached(self, entry: str) -> bool:
        return (self.cache_dir / f"{entry}.sqlite").is_file()

    def save(self, work_dir: Path, database: str, entry: str) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.cache_dir, prefix=f".{entry}.", suffix=".sqlite")
        os.close(fd)
        try:
            _snapshot(self._file(work_dir, database), Path(name))
            os.replace(name, self.cache_dir / f"{entry}.sqlite")
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise

    def restore(self, entry: str, work_dir: Path, database: str) -> None:
        target = self._file(work_dir, database)
        target.parent.mkdir(parents=True, exist_ok=True)
        for leftover in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copyfile(self.cache_dir / f"{entry}.sqlite", target)

    def drop(self, work_dir: Path, database: str) -> None:
        for path in (
            self._file(work_dir, database),
            *self._file(work_dir, database).parent.glob(f"{database}.sqlite-*"),
        ):
            path.unlink(missing_ok=True)

    def evict(self, entry: str) -> None:
        (self.cache_dir / f"{entry}.sqlite").unlink(missing_ok=True)


def _snapshot(source: Path, target: Path) -> None:
    """A consistent standalone copy of an SQLite database, whatever its write-ahead log holds."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


# --------------------------------------------------------------------------- PostgreSQL


class PostgresBackend:
    """Databases on a PostgreSQL server; ``uri`` names the server (any database part is
    ignored: each sandbox makes its own)."""

    name = "postgresql"

    def __init__(self, uri: str, cache_dir: Path) -> None:
        parts = urlsplit(uri)
        if parts.scheme not in {"postgresql", "postgres"} or not parts.hostname:
            raise TrytonStartError(f"not a PostgreSQL server URI: {redact(uri)}")
        self.uri = urlunsplit(("postgresql", parts.netloc, "/", "", ""))
        self.cache_dir = cache_dir

    @staticmethod
    def _name(entry: str) -> str:
        return "accord_tryton_" + entry.replace("-", "_")

    def _execute(self, statement: str, *names: str, value: str | None = None) -> list[Any]:
        """Run one statement on the server's ``postgres`` database; ``{}`` in ``statement``
        are filled with the quoted identifiers ``names``, ``%s`` with ``value``."""
        import psycopg  # installed with the tryton extra; only this backend needs it
        from psycopg import sql

        parts = urlsplit(self.uri)
        query = sql.SQL(statement).format(*(sql.Identifier(name) for name in names))
        try:
            with psycopg.connect(
                host=parts.hostname,
                port=parts.port or 5432,
                user=parts.username or None,
                password=parts.password or None,
                dbname="postgres",
                connect_timeout=10,
                autocommit=True,  # CREATE and DROP DATABASE refuse a transaction
            ) as connection:
                cursor = connection.execute(query, (value,) if value is not None else None)
                return cursor.fetchall() if cursor.description else []
        except psycopg.Error as exc:
            raise TrytonStartError(f"PostgreSQL at {redact(self.uri)}: {exc}".strip()) from exc

    def _exists(self, name: str) -> bool:
        return bool(self._execute("SELECT 1 FROM pg_database WHERE datname = %s", value=name))

    def database_section(self, work_dir: Path) -> dict[str, str]:
        return {"uri": self.uri}

    def create_empty(self, work_dir: Path, database: str) -> None:
        self._execute("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0", database)

    def cached(self, entry: str) -> bool:
        return self._exists(self._name(entry))

    def save(self, work_dir: Path, database: str, entry: str) -> None:
        name = self._name(entry)
        if self._exists(name):
            self._drop(name)
        self._execute("CREATE DATABASE {} TEMPLATE {}", name, database)

    def restore(self, entry: str, work_dir: Path, database: str) -> None:
        self._execute("CREATE DATABASE {} TEMPLATE {}", database, self._name(entry))

    def _drop(self, name: str) -> None:
        self._execute("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)

    def drop(self, work_dir: Path, database: str) -> None:
        self._drop(database)

    def evict(self, entry: str) -> None:
        self._drop(self._name(entry))


def redact(uri: str) -> str:
    """A database URI without its password, for messages."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def backend_for(database_uri: str | None, cache_dir: Path | None = None) -> Backend:
    """SQLite unless ``database_uri`` names a PostgreSQL server."""
    cache = cache_dir or default_cache_dir()
    if not database_uri or database_uri.startswith("sqlite"):
        return SqliteBackend(cache / "sqlite")
    return PostgresBackend(database_uri, cache / "postgresql")
