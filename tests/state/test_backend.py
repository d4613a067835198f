"""The `StateBackend` contract, run identically against memory and Redis."""

from __future__ import annotations

import asyncio
import re

import pytest

from state.backend import StateBackend
from state.errors import StateValueError
from tests.state.conftest import OpenReplica

SHORT = 0.2
"""A TTL short enough to wait out in a test."""
PAST_SHORT = 0.3


# -- values -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {"b": [1, 2.5, None], "a": {"nested": True}},
        [1, "two", 3.0],
        "text with ünïcode",
        0,
        -7,
        1.25,
        True,
        False,
    ],
)
async def test_set_then_get_returns_an_equal_value(backend: StateBackend, value: object) -> None:
    assert await backend.set("k", value) is True

    assert await backend.get("k") == value


async def test_get_of_a_missing_key_is_none(backend: StateBackend) -> None:
    assert await backend.get("nothing-here") is None


async def test_values_come_back_as_json_not_as_shared_objects(backend: StateBackend) -> None:
    # given a stored dict holding a tuple
    original = {"items": (1, 2)}
    await backend.set("k", original)

    # when the read copy is changed
    first = await backend.get("k")
    assert first is not None
    first["items"].append(3)

    # then the store still holds the JSON it was given (tuples read back as lists)
    assert await backend.get("k") == {"items": [1, 2]}


async def test_values_that_are_not_json_are_refused(backend: StateBackend) -> None:
    with pytest.raises(TypeError):
        await backend.set("k", {"when": object()})
    with pytest.raises(ValueError, match="JSON"):
        await backend.set("k", float("nan"))
    assert await backend.get("k") is None


async def test_set_overwrites(backend: StateBackend) -> None:
    await backend.set("k", 1)
    await backend.set("k", {"v": 2})

    assert await backend.get("k") == {"v": 2}


async def test_set_only_if_absent_writes_once(backend: StateBackend) -> None:
    assert await backend.set("k", "first", only_if_absent=True) is True
    assert await backend.set("k", "second", only_if_absent=True) is False

    assert await backend.get("k") == "first"


async def test_a_value_expires_after_its_ttl_unless_rewritten_without(
    backend: StateBackend,
) -> None:
    # given a value with a short TTL, and another whose short TTL was dropped by a plain set
    await backend.set("k", "soon gone", ttl=SHORT)
    await backend.set("kept", 1, ttl=SHORT)
    await backend.set("kept", 2)
    assert await backend.get("k") == "soon gone"

    # when the TTL has passed
    await asyncio.sleep(PAST_SHORT)

    # then the first reads as absent, and only_if_absent may write it again
    assert await backend.get("k") is None
    assert await backend.get_many(["k", "kept"]) == [None, 2]
    assert await backend.delete("k") is False
    assert await backend.set("k", "again", only_if_absent=True) is True


@pytest.mark.parametrize("ttl", [0, -1.0, float("inf"), float("nan")])
async def test_ttls_must_be_positive_and_finite(backend: StateBackend, ttl: float) -> None:
    with pytest.raises(ValueError, match="ttl"):
        await backend.set("k", 1, ttl=ttl)
    with pytest.raises(ValueError, match="ttl"):
        await backend.lease("l", "me", ttl)


async def test_get_many_answers_in_order_with_none_for_missing(backend: StateBackend) -> None:
    await backend.set("a", 1)
    await backend.set("c", {"x": 3})

    assert await backend.get_many(["c", "missing", "a", "c"]) == [{"x": 3}, None, 1, {"x": 3}]
    assert await backend.get_many([]) == []


async def test_delete_says_whether_the_key_existed(backend: StateBackend) -> None:
    await backend.set("k", 1)

    assert await backend.delete("k") is True
    assert await backend.delete("k") is False
    assert await backend.get("k") is None


async def test_a_stored_none_reads_as_none(backend: StateBackend) -> None:
    await backend.set("k", None)

    assert await backend.get("k") is None
    assert await backend.set("k", 1, only_if_absent=True) is False  # the key does exist


# -- compare_and_set --------------------------------------------------------------------------


async def test_compare_and_set_creates_only_when_absent(backend: StateBackend) -> None:
    assert await backend.compare_and_set("k", None, {"v": 1}) is True
    assert await backend.compare_and_set("k", None, {"v": 2}) is False

    assert await backend.get("k") == {"v": 1}


async def test_compare_and_set_replaces_only_the_expected_value(backend: StateBackend) -> None:
    await backend.set("k", {"version": 1, "items": ["a"]})

    # a stale expectation loses
    assert (
        await backend.compare_and_set("k", {"version": 0, "items": ["a"]}, {"version": 9}) is False
    )
    # the current value, spelt with its keys in another order, wins
    assert (
        await backend.compare_and_set("k", {"items": ["a"], "version": 1}, {"version": 2}) is True
    )

    assert await backend.get("k") == {"version": 2}


async def test_compare_and_set_compares_json_types_exactly(backend: StateBackend) -> None:
    await backend.set("k", 1)

    assert await backend.compare_and_set("k", 1.0, "float") is False
    assert await backend.compare_and_set("k", True, "bool") is False
    assert await backend.compare_and_set("k", 1, "int") is True


async def test_compare_and_set_with_none_matches_a_stored_none(backend: StateBackend) -> None:
    # given a key whose value reads as None
    await backend.set("k", None)

    # when a read-modify-write uses what it read
    current = await backend.get("k")

    # then the write goes through
    assert await backend.compare_and_set("k", current, "next") is True
    assert await backend.get("k") == "next"


async def test_compare_and_set_gives_the_new_value_its_ttl(backend: StateBackend) -> None:
    # given a value replaced by one with a short TTL
    await backend.set("k", "old")
    assert await backend.compare_and_set("k", "old", "new", ttl=SHORT) is True
    assert await backend.get("k") == "new"

    # when the TTL has passed
    await asyncio.sleep(PAST_SHORT)

    # then the value is absent, for reads and for compare-and-set alike
    assert await backend.get("k") is None
    assert await backend.compare_and_set("k", "new", "newer") is False
    assert await backend.compare_and_set("k", None, "newer") is True


async def test_concurrent_writers_win_exactly_once_per_version(replicas: OpenReplica) -> None:
    # given several replicas and a versioned record
    backends = [replicas() for _ in range(4)]
    await backends[0].set("doc", {"version": 0, "writer": None})
    writers = 24
    wins: list[tuple[int, int]] = []  # (version written, writer)

    async def writer(number: int) -> None:
        backend = backends[number % len(backends)]
        while True:
            current = await backend.get("doc")
            assert current is not None
            proposal = {"version": current["version"] + 1, "writer": number}
            if await backend.compare_and_set("doc", current, proposal):
                wins.append((proposal["version"], number))
                return

    # when every writer races to bump the version once
    await asyncio.gather(*(writer(n) for n in range(writers)))

    # then each version was written by exactly one writer, and every writer won once
    assert sorted(version for version, _ in wins) == list(range(1, writers + 1))
    assert sorted(number for _, number in wins) == list(range(writers))
    final = await backends[-1].get("doc")
    assert final is not None
    assert final["version"] == writers
    assert (final["version"], final["writer"]) in wins


# -- incr -------------------------------------------------------------------------------------


async def test_incr_counts_from_zero(backend: StateBackend) -> None:
    assert await backend.incr("n") == 1
    assert await backend.incr("n", 5) == 6
    assert await backend.incr("n", -10) == -4

    assert await backend.get("n") == -4


async def test_incr_adds_to_an_integer_written_by_set(backend: StateBackend) -> None:
    await backend.set("n", 41)

    assert await backend.incr("n") == 42


@pytest.mark.parametrize("value", ["41", 1.5, True, {"n": 1}, [1]])
async def test_incr_refuses_anything_but_an_integer(backend: StateBackend, value: object) -> None:
    await backend.set("n", value)

    with pytest.raises(StateValueError):
        await backend.incr("n")
    assert await backend.get("n") == value


async def test_incr_refuses_to_overflow_64_bits(backend: StateBackend) -> None:
    await backend.set("n", 2**63 - 1)

    with pytest.raises(StateValueError):
        await backend.incr("n")
    assert await backend.get("n") == 2**63 - 1


async def test_incr_ttl_is_set_when_the_counter_is_created_only(backend: StateBackend) -> None:
    # given a counter created with a short TTL
    assert await backend.incr("n", ttl=SHORT) == 1

    # when it is incremented again asking for a long TTL
    assert await backend.incr("n", ttl=60) == 2

    # then the window still closes at the first TTL, and the next incr opens a new one
    await asyncio.sleep(PAST_SHORT)
    assert await backend.get("n") is None
    assert await backend.incr("n", ttl=60) == 1


async def test_concurrent_increments_are_all_counted(replicas: OpenReplica) -> None:
    backends = [replicas() for _ in range(3)]

    totals = await asyncio.gather(*(backends[i % 3].incr("n", ttl=30) for i in range(60)))

    assert sorted(totals) == list(range(1, 61))
    assert await backends[0].get("n") == 60


# -- ordered indexes ----------------------------------------------------------------------------


async def fill(backend: StateBackend, entries: dict[str, float]) -> None:
    for member, score in entries.items():
        await backend.index_add("ix", member, score)


# Scores with ties; members chosen so that byte order differs from a case-blind or
# locale-aware order ("B" < "a" < "aa" < "b" < "ä").
ENTRIES = {"b": 1.0, "a": 1.0, "B": 1.0, "ä": 1.0, "aa": 1.0, "z": 0.5, "m": 2.5, "c": -3.0}
ORDERED = [
    ("c", -3.0),
    ("z", 0.5),
    ("B", 1.0),
    ("a", 1.0),
    ("aa", 1.0),
    ("b", 1.0),
    ("ä", 1.0),
    ("m", 2.5),
]


async def test_index_range_orders_by_score_then_member_bytes(backend: StateBackend) -> None:
    await fill(backend, ENTRIES)

    assert await backend.index_range("ix") == ORDERED
    assert await backend.index_range("ix", reverse=True) == ORDERED[::-1]
    assert await backend.index_count("ix") == len(ENTRIES)


async def test_index_pages_cover_everything_once_in_both_directions(backend: StateBackend) -> None:
    await fill(backend, ENTRIES)

    for reverse, expected in ((False, ORDERED), (True, ORDERED[::-1])):
        seen: list[tuple[str, float]] = []
        after: tuple[float, str] | None = None
        while page := await backend.index_range("ix", after=after, limit=3, reverse=reverse):
            assert len(page) <= 3
            seen.extend(page)
            member, score = page[-1]
            after = (score, member)
        assert seen == expected


async def test_index_paging_resumes_past_an_entry_that_was_removed(backend: StateBackend) -> None:
    # given a page that ended on ("aa", 1.0), and that entry removed since
    await fill(backend, ENTRIES)
    await backend.index_remove("ix", "aa")

    # when the next pages are asked for, after the vanished entry
    forward = await backend.index_range("ix", after=(1.0, "aa"), limit=10)
    backward = await backend.index_range("ix", after=(1.0, "aa"), limit=10, reverse=True)

    # then each starts just beyond where it was, by score then member bytes
    assert forward == [("b", 1.0), ("ä", 1.0), ("m", 2.5)]
    assert backward == [("a", 1.0), ("B", 1.0), ("z", 0.5), ("c", -3.0)]


async def test_index_paging_past_an_anchor_that_moved_uses_its_old_place(
    backend: StateBackend,
) -> None:
    await fill(backend, ENTRIES)
    await backend.index_add("ix", "a", 100.0)  # "a" moved to the end since the last page

    assert await backend.index_range("ix", after=(1.0, "a"), limit=3) == [
        ("aa", 1.0),
        ("b", 1.0),
        ("ä", 1.0),
    ]


async def test_index_paging_past_many_ties(backend: StateBackend) -> None:
    # more ties than the Redis script scans in one step, with the anchor gone
    members = [f"m{n:04d}" for n in range(300)]
    for member in members:
        await backend.index_add("ix", member, 7.0)
    await backend.index_remove("ix", "m0200")

    page = await backend.index_range("ix", after=(7.0, "m0200"), limit=2)
    back = await backend.index_range("ix", after=(7.0, "m0200"), limit=2, reverse=True)

    assert page == [("m0201", 7.0), ("m0202", 7.0)]
    assert back == [("m0199", 7.0), ("m0198", 7.0)]


async def test_index_add_moves_an_existing_member(backend: StateBackend) -> None:
    await fill(backend, {"a": 1.0, "b": 2.0})

    await backend.index_add("ix", "a", 3.0)

    assert await backend.index_range("ix") == [("b", 2.0), ("a", 3.0)]
    assert await backend.index_count("ix") == 2


async def test_index_remove_takes_a_member_out(backend: StateBackend) -> None:
    await fill(backend, {"a": 1.0, "b": 2.0})

    await backend.index_remove("ix", "a")
    await backend.index_remove("ix", "not-there")

    assert await backend.index_range("ix") == [("b", 2.0)]
    await backend.index_remove("ix", "b")
    assert await backend.index_count("ix") == 0
    assert await backend.index_range("ix") == []


async def test_index_keeps_float_scores_exactly(backend: StateBackend) -> None:
    scores = {"tiny": 1e-300, "third": 1 / 3, "big": 1.7976931348623157e308, "neg": -0.1}
    await fill(backend, scores)

    found = dict(await backend.index_range("ix"))

    assert found == scores
    assert await backend.index_range("ix", after=(1 / 3, "third")) == [
        ("big", 1.7976931348623157e308)
    ]


async def test_index_limits(backend: StateBackend) -> None:
    await fill(backend, ENTRIES)

    assert await backend.index_range("ix", limit=0) == []
    assert await backend.index_range("ix", limit=2) == ORDERED[:2]
    assert await backend.index_range("missing") == []
    assert await backend.index_count("missing") == 0
    with pytest.raises(ValueError, match="limit"):
        await backend.index_range("ix", limit=-1)


@pytest.mark.parametrize("score", [float("nan"), float("inf"), float("-inf")])
async def test_index_scores_must_be_finite(backend: StateBackend, score: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        await backend.index_add("ix", "a", score)
    assert await backend.index_count("ix") == 0


# -- logs -------------------------------------------------------------------------------------

LOG_ID = re.compile(r"\d+-\d+")


def id_key(entry_id: str) -> tuple[int, int]:
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)


async def test_log_ids_increase_strictly_and_entries_read_back_in_order(
    backend: StateBackend,
) -> None:
    ids = [await backend.log_append("log", {"n": n}) for n in range(50)]

    assert all(LOG_ID.fullmatch(entry_id) for entry_id in ids)
    keys = [id_key(entry_id) for entry_id in ids]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    assert await backend.log_read("log") == [(entry_id, {"n": n}) for n, entry_id in enumerate(ids)]
    assert await backend.log_length("log") == 50


async def test_log_read_pages_after_an_id_both_ways(backend: StateBackend) -> None:
    ids = [await backend.log_append("log", n) for n in range(10)]

    assert await backend.log_read("log", after=ids[3], limit=3) == [
        (ids[4], 4),
        (ids[5], 5),
        (ids[6], 6),
    ]
    assert await backend.log_read("log", after=ids[3], limit=3, reverse=True) == [
        (ids[2], 2),
        (ids[1], 1),
        (ids[0], 0),
    ]
    assert await backend.log_read("log", reverse=True, limit=2) == [(ids[9], 9), (ids[8], 8)]
    assert await backend.log_read("log", after=ids[9]) == []
    assert await backend.log_read("log", after=ids[0], reverse=True) == []
    assert await backend.log_read("log", after="0-0") == [(i, n) for n, i in enumerate(ids)]
    assert await backend.log_read("log", after="0-0", reverse=True) == []
    assert await backend.log_read("log", limit=0) == []


async def test_log_read_after_an_id_between_entries(backend: StateBackend) -> None:
    # an id that was never handed out (e.g. a watermark from a timestamp) still pages
    first = await backend.log_append("log", "a")
    second = await backend.log_append("log", "b")
    ms, seq = id_key(first)

    assert await backend.log_read("log", after=f"{ms}-{seq}") == [(second, "b")]
    assert await backend.log_read("log", after=f"{ms - 1}-999") == [(first, "a"), (second, "b")]


async def test_a_missing_log_is_empty(backend: StateBackend) -> None:
    assert await backend.log_read("never-written") == []
    assert await backend.log_read("never-written", reverse=True) == []
    assert await backend.log_length("never-written") == 0


@pytest.mark.parametrize("bad", ["", "12", "a-b", "1-2-3", "-1-0", "1-"])
async def test_log_read_refuses_a_malformed_id(backend: StateBackend, bad: str) -> None:
    await backend.log_append("log", 1)

    with pytest.raises(ValueError, match="log entry id"):
        await backend.log_read("log", after=bad)


async def test_log_max_length_keeps_the_newest_entries(backend: StateBackend) -> None:
    # given a log bounded to 10 entries that has had 300 appended
    ids = [await backend.log_append("log", n, max_length=10) for n in range(300)]

    # then it keeps at least the newest 10 (Redis trims whole nodes of ~100, so up to ~110)
    length = await backend.log_length("log")
    assert 10 <= length <= 110
    kept = await backend.log_read("log", limit=1000)
    assert kept == [(ids[n], n) for n in range(300 - length, 300)]
    newest = await backend.log_read("log", reverse=True, limit=10)
    assert newest == [(ids[n], n) for n in range(299, 289, -1)]
    with pytest.raises(ValueError, match="max_length"):
        await backend.log_append("log", 1, max_length=0)


async def test_concurrent_appends_from_replicas_get_distinct_ordered_ids(
    replicas: OpenReplica,
) -> None:
    backends = [replicas() for _ in range(3)]

    ids = await asyncio.gather(*(backends[n % 3].log_append("log", n) for n in range(60)))

    assert len(set(ids)) == 60
    read = await backends[0].log_read("log", limit=100)
    assert sorted(entry_id for entry_id, _ in read) == sorted(ids)
    assert [id_key(entry_id) for entry_id, _ in read] == sorted(
        id_key(entry_id) for entry_id in ids
    )


# -- leases -------------------------------------------------------------------------------------


async def test_a_lease_excludes_other_owners(backend: StateBackend) -> None:
    assert await backend.lease("poller", "replica-1", 10) is True

    assert await backend.lease("poller", "replica-2", 10) is False
    assert await backend.lease("poller", "replica-1", 10) is True  # its holder may take it again
    assert await backend.lease("another", "replica-2", 10) is True


async def test_only_the_owner_may_renew_or_release(backend: StateBackend) -> None:
    await backend.lease("poller", "replica-1", 10)

    assert await backend.renew("poller", "replica-2", 10) is False
    assert await backend.release("poller", "replica-2") is False
    assert await backend.lease("poller", "replica-2", 10) is False  # still held

    assert await backend.renew("poller", "replica-1", 10) is True
    assert await backend.release("poller", "replica-1") is True
    assert await backend.release("poller", "replica-1") is False
    assert await backend.lease("poller", "replica-2", 10) is True


async def test_a_lease_expires_unless_renewed(backend: StateBackend) -> None:
    # given two short leases, one of them renewed for longer
    await backend.lease("poller", "replica-1", SHORT)
    await backend.lease("leader", "replica-1", SHORT)
    assert await backend.renew("leader", "replica-1", 10) is True

    # when the short TTL has passed
    await asyncio.sleep(PAST_SHORT)

    # then the renewed one is still held, and the other is free and no longer its owner's
    assert await backend.lease("leader", "replica-2", 10) is False
    assert await backend.renew("poller", "replica-1", 10) is False
    assert await backend.lease("poller", "replica-2", 10) is True
    assert await backend.release("poller", "replica-1") is False


async def test_concurrent_contenders_get_one_lease(replicas: OpenReplica) -> None:
    backends = [replicas() for _ in range(4)]

    won = await asyncio.gather(
        *(backends[n % 4].lease("leader", f"replica-{n}", 10) for n in range(40))
    )

    assert won.count(True) == 1


async def test_a_lease_owner_must_be_named(backend: StateBackend) -> None:
    with pytest.raises(ValueError, match="owner"):
        await backend.lease("poller", "", 10)


# -- names ------------------------------------------------------------------------------------


async def test_values_indexes_logs_and_leases_may_share_a_name(backend: StateBackend) -> None:
    await backend.set("shared", "value")
    await backend.index_add("shared", "m", 1.0)
    await backend.log_append("shared", "entry")
    await backend.lease("shared", "me", 10)

    assert await backend.get("shared") == "value"
    assert await backend.index_range("shared") == [("m", 1.0)]
    assert [entry for _, entry in await backend.log_read("shared")] == ["entry"]
    assert await backend.release("shared", "me") is True


async def test_ping_answers(backend: StateBackend) -> None:
    await backend.ping()
    assert backend.name in ("memory", "redis")
