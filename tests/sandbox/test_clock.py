"""The sandbox clock: a chosen start instant, a clock that runs on from it, the ``--now``
option, the HTTP ``Date`` the emulators send, and a sandbox process that leaves no files."""

from __future__ import annotations

import datetime as dt
import json
import signal
import ssl
import subprocess
import sys
import time
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest

from sandbox.clock import SandboxClock, parse_instant
from sandbox.process import SandboxProcess

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-05T00:30:00Z", dt.datetime(2026, 12, 5, 0, 30, tzinfo=dt.UTC)),
        ("2026-12-05T00:30:00", dt.datetime(2026, 12, 5, 0, 30, tzinfo=dt.UTC)),  # UTC assumed
        ("2026-12-05 09:01:30+02:00", dt.datetime(2026, 12, 5, 7, 1, 30, tzinfo=dt.UTC)),
        ("2026-11-30T23:59:59.250-05:00", dt.datetime(2026, 12, 1, 4, 59, 59, 250000, dt.UTC)),
    ],
)
def test_a_start_instant_is_read_as_iso_8601_and_kept_in_utc(
    text: str, expected: dt.datetime
) -> None:
    assert parse_instant(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-12-05", "2026-13-01T00:00:00Z", "", "1733"])
def test_anything_but_a_timestamp_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_instant(text)


def test_the_clock_reads_its_start_then_runs_at_the_real_rate() -> None:
    ticks = [100.0]
    start = dt.datetime(2026, 11, 30, 23, 59, 59, tzinfo=dt.UTC)
    clock = SandboxClock(start, monotonic=lambda: ticks[0])
    assert clock.now() == start
    ticks[0] += 1.5
    assert clock.now() == dt.datetime(2026, 12, 1, 0, 0, 0, 500000, tzinfo=dt.UTC)
    assert clock.today() == dt.date(2026, 12, 1)
    assert clock.http_date() == "Tue, 01 Dec 2026 00:00:00 GMT"


def test_a_start_without_a_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        SandboxClock(dt.datetime(2026, 12, 5, 0, 30))


def test_without_a_start_the_clock_reads_the_real_utc_time() -> None:
    before = dt.datetime.now(dt.UTC)
    now = SandboxClock().now()
    assert before <= now <= dt.datetime.now(dt.UTC)


def test_a_now_that_is_not_a_timestamp_stops_the_sandbox_with_one_line_and_status_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sandbox", "--now", "half past midnight", "--customers", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "--now" in lines[0]
    assert "'half past midnight' is not an ISO 8601 timestamp" in lines[0]
    assert "Traceback" not in done.stderr


def test_a_sandbox_started_at_an_instant_says_so_and_dates_its_answers_by_its_clock() -> None:
    # Given a sandbox started as if it were 08:59 UTC
    start = dt.datetime(2026, 12, 5, 8, 59, tzinfo=dt.UTC)
    process = SandboxProcess(customers=3, now=start)
    try:
        endpoints = process.start()
        # When each emulator answers a request
        answers = [
            httpx.get(
                f"{url}/no/such/path", verify=ssl.create_default_context(cafile=ca), timeout=10
            )
            for url, ca in (
                (endpoints.salesforce.instance_url, endpoints.salesforce.ca_file),
                (endpoints.netsuite.base_url, endpoints.netsuite.ca_file),
            )
        ]
    finally:
        process.stop()

    # Then the endpoints file names the start, and each answer has one Date, the sandbox's
    assert endpoints.sandbox.now == "2026-12-05T08:59:00Z"
    assert endpoints.sandbox.as_of == "2026-12-05"
    for answer in answers:
        dates = answer.headers.get_list("date")
        assert len(dates) == 1, dates
        assert start <= parsedate_to_datetime(dates[0]) <= start + dt.timedelta(seconds=60)


def test_a_stopped_sandbox_process_leaves_no_files_behind() -> None:
    # Given a sandbox started by its process wrapper (its CA key lies in its own directory)
    process = SandboxProcess(customers=3)
    endpoints = process.start()
    assert endpoints.salesforce.ca_file is not None
    files = Path(endpoints.salesforce.ca_file).parent
    assert any(files.glob("*.pem")) or any(files.iterdir())

    # When it stops
    process.stop()

    # Then its directory is gone
    assert not files.exists()


def test_a_sandbox_on_its_own_removes_its_temporary_directory_on_sigterm(tmp_path: Path) -> None:
    # Given `python -m sandbox` without --state-dir: it makes a temporary directory for its keys
    endpoints_file = tmp_path / "endpoints.json"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--customers",
            "3",
            "--endpoints-file",
            str(endpoints_file),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not endpoints_file.exists():
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, "the sandbox did not start"
            time.sleep(0.05)
        ca_file = json.loads(endpoints_file.read_text())["salesforce"]["ca_file"]
        files = Path(ca_file).parent
        assert files.is_dir()

        # When a supervisor stops it
        child.send_signal(signal.SIGTERM)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)

    # Then it exits cleanly and its private keys are gone with the directory
    assert child.returncode == 0
    assert not files.exists()
