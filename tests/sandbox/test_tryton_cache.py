"""The cache of prepared Tryton databases: what an entry's name depends on, and eviction.

These run without a Tryton server: names are hashes, and the SQLite backend's files are
plain files."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from sandbox.tryton.prepare import base_entry, world_entry
from sandbox.tryton.store import KEEP_WORLDS, SqliteBackend, read_meta, remember
from sandbox.world import build_world

VERSIONS = {"trytond": "8.2.1", "trytond_party": "8.2.0"}
START = dt.datetime(2026, 12, 5, 8, 59, tzinfo=dt.UTC)


def test_a_world_entry_names_everything_the_database_depends_on() -> None:
    # given one world and its variations
    entry = world_entry(build_world(42, 5, now=START), VERSIONS)

    # then the same inputs name the same entry, and each input changes it
    assert entry == world_entry(build_world(42, 5, now=START + dt.timedelta(hours=3)), VERSIONS)
    assert entry != world_entry(build_world(43, 5, now=START), VERSIONS)
    assert entry != world_entry(build_world(42, 6, now=START), VERSIONS)
    assert entry != world_entry(build_world(42, 5, now=START + dt.timedelta(days=1)), VERSIONS)
    assert entry != world_entry(build_world(42, 5, now=START), {**VERSIONS, "trytond": "8.2.2"})
    assert entry.startswith("world-")


def test_a_base_entry_depends_on_the_tryton_versions_only() -> None:
    assert base_entry(VERSIONS) == base_entry(dict(reversed(VERSIONS.items())))
    assert base_entry(VERSIONS) != base_entry({**VERSIONS, "trytond_party": "8.2.1"})


def test_the_least_recently_used_worlds_are_evicted(tmp_path: Path) -> None:
    # given as many prepared worlds as the cache keeps, prepared one after the other
    backend = SqliteBackend(tmp_path)
    names = [f"world-{n:016x}" for n in range(KEEP_WORLDS)]
    for order, name in enumerate(names):
        (tmp_path / f"{name}.sqlite").write_bytes(b"db")
        (tmp_path / f"{name}.json").write_text(f'{{"n": {order}}}')
        stamp = 1_000_000 + order
        os.utime(tmp_path / f"{name}.json", (stamp, stamp))

    # when the oldest is used again, then a new world is prepared
    remember(backend, names[0])
    (tmp_path / "world-new.sqlite").write_bytes(b"db")
    remember(backend, "world-new", {"n": "new"})

    # then the world used least recently is gone, with its metadata; the others stay
    assert not (tmp_path / f"{names[1]}.sqlite").exists()
    assert read_meta(tmp_path, names[1]) == {}
    assert read_meta(tmp_path, names[0]) == {"n": 0}
    assert read_meta(tmp_path, "world-new") == {"n": "new"}
    assert len(list(tmp_path.glob("world-*.sqlite"))) == KEEP_WORLDS
