"""The change records and watermarks every change feed shares (`sources.changes`)."""

from __future__ import annotations

import datetime as dt

from sources.changes import EPOCH, RecordChange, RecordKind, Watermark, newest_known, version
from sources.ports import CANONICAL_RECORD_NAMES

T0 = dt.datetime(2026, 1, 5, 10, 11, 12, tzinfo=dt.UTC)


def change(record_id: str, at: dt.datetime) -> RecordChange:
    return RecordChange("erp", RecordKind.INVOICE, record_id, "update", at)


def test_a_first_run_knows_the_records_at_its_start_and_only_in_that_second() -> None:
    later = T0 + dt.timedelta(seconds=1)
    mark = newest_known([change("a", T0), change("b", T0)])

    assert mark.at == T0
    assert mark.known(change("a", T0))
    assert mark.known(change("b", T0))
    assert not mark.known(change("a", later))  # changed again after the start: news
    assert not mark.known(change("c", T0))
    assert newest_known([]) == EPOCH


def test_a_watermark_moving_on_forgets_what_lies_before_it_and_never_passes_the_present() -> None:
    mark = Watermark(T0, {"a": T0.isoformat()})
    moved = mark.moved_to(T0 + dt.timedelta(seconds=2))

    assert moved.skip == {}
    assert mark.moved_to(T0).skip == {"a": T0.isoformat()}
    assert moved.no_later_than(T0).at == T0
    assert moved.no_later_than(None) == moved
    assert Watermark.from_json(moved.to_json()) == moved
    assert Watermark.from_json({"at": "not a time"}) is None


def test_a_version_is_the_second_in_utc_whatever_the_precision_or_zone() -> None:
    plus_one = dt.timezone(dt.timedelta(hours=1))
    precise = T0.replace(microsecond=345678).astimezone(plus_one)

    assert version(precise) == version(T0) == "2026-01-05T10:11:12Z"


def test_a_new_adapter_names_its_records_by_their_canonical_kinds() -> None:
    assert CANONICAL_RECORD_NAMES == {
        RecordKind.CUSTOMER: "customer",
        RecordKind.ORDER: "order",
        RecordKind.INVOICE: "invoice",
        RecordKind.PAYMENT: "payment",
    }
