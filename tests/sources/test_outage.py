"""OutageLog: one line when an outage starts, one when it ends, a reminder now and then."""

from __future__ import annotations

import logging

import pytest

from sources.outage import OutageLog


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_outage_is_two_lines_however_many_rounds_fail(caplog: pytest.LogCaptureFixture) -> None:
    # given a dependency that fails 100 rounds in a row, then answers
    clock = Clock()
    outage = OutageLog(logging.getLogger("test.outage"), "NetSuite", clock=clock)
    caplog.set_level(logging.INFO, "test.outage")
    for _ in range(100):
        outage.failed(ConnectionError("connection refused\nwith a second line"))
        clock.now += 1.0
    outage.succeeded()
    outage.succeeded()

    # then the log has the start (with the reason's first line) and the end, nothing else
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "test.outage"] == [
        ("WARNING", "NetSuite is unavailable: connection refused"),
        ("INFO", "NetSuite is available again after 100.0 s"),
    ]


def test_a_long_outage_is_recalled_at_most_every_remind_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    outage = OutageLog(logging.getLogger("test.outage"), "Redis", remind_every=60, clock=clock)
    caplog.set_level(logging.INFO, "test.outage")
    for _ in range(150):
        outage.failed("no answer")
        clock.now += 1.0

    assert outage.down
    assert [r.getMessage() for r in caplog.records if r.name == "test.outage"] == [
        "Redis is unavailable: no answer",
        "Redis is still unavailable after 60 s: no answer",
        "Redis is still unavailable after 120 s: no answer",
    ]
