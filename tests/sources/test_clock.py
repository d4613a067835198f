"""A source's clock, read from the Date of its answers."""

from __future__ import annotations

import datetime as dt

from sources.clock import STEP_BACK, SourceClock


class Wall:
    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def test_before_any_answer_the_sources_time_is_unknown() -> None:
    clock = SourceClock()
    assert clock.now() is None
    assert not clock.known
    assert clock.today() == dt.datetime.now(dt.UTC).date()


def test_the_sources_time_runs_on_from_its_last_date() -> None:
    wall = Wall(1_000_000.0)
    clock = SourceClock(wall=wall)
    clock.observe("Sat, 05 Dec 2026 00:30:00 GMT")
    assert clock.now() == dt.datetime(2026, 12, 5, 0, 30, tzinfo=dt.UTC)
    wall.at += 90
    assert clock.now() == dt.datetime(2026, 12, 5, 0, 31, 30, tzinfo=dt.UTC)
    assert clock.today() == dt.date(2026, 12, 5)


def test_a_reading_behind_the_estimate_does_not_move_it_back() -> None:
    wall = Wall(1_000_000.0)
    clock = SourceClock(wall=wall)
    clock.observe("Sat, 05 Dec 2026 00:30:00 GMT")
    wall.at += 0.9  # the same second at the source, read later here
    clock.observe("Sat, 05 Dec 2026 00:30:00 GMT")
    assert clock.now() == dt.datetime(2026, 12, 5, 0, 30, 0, 900000, tzinfo=dt.UTC)


def test_a_source_clock_set_back_is_followed() -> None:
    wall = Wall(1_000_000.0)
    clock = SourceClock(wall=wall)
    clock.observe("Sat, 05 Dec 2026 00:30:00 GMT")
    back = dt.datetime(2026, 12, 5, 0, 30, tzinfo=dt.UTC) - dt.timedelta(seconds=STEP_BACK + 60)
    clock.observe(back.strftime("%a, %d %b %Y %H:%M:%S GMT"))
    assert clock.now() == back


def test_an_unreadable_date_is_ignored() -> None:
    clock = SourceClock()
    for value in (None, "", "yesterday", "Sat, 99 Foo 2026 25:61:00 GMT"):
        clock.observe(value)
    assert clock.now() is None


def test_the_same_date_read_again_much_later_is_a_clock_that_stopped() -> None:
    wall = Wall(1_000_000.0)
    clock = SourceClock(wall=wall)
    clock.observe("Sat, 05 Dec 2026 00:30:00 GMT")
    wall.at += STEP_BACK + 30  # the source still says the same second
    clock.observe("Sat, 05 Dec 2026 00:30:00 GMT")
    assert clock.now() == dt.datetime(2026, 12, 5, 0, 30, tzinfo=dt.UTC)
