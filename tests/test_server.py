"""The composition root as a process: ``python server.py`` with its embedded sandbox leaves
no sandbox child behind, however it stops."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import cast

import httpx

import server
from events.normalize import Normalizer

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def marked_processes(mark: str) -> list[int]:
    """Live processes whose environment carries ``mark`` (the server and what it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if f"ACCORD_TEST_MARK={mark}".encode() in environ.split(b"\0") and state != "Z":
            found.append(int(entry.name))
    return found


def start_server(mark: str, *args: str) -> subprocess.Popen[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ACCORD_TEST_MARK": mark,
        "ACCORD_SANDBOX_CUSTOMERS": "20",
        "ACCORD_POLL_SECONDS": "0",
        "ACCORD_LOG_LEVEL": "warning",
    }
    return subprocess.Popen(
        [sys.executable, "server.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def left_behind(mark: str, timeout: float) -> list[int]:
    """What still runs of ``mark``'s processes after up to ``timeout`` seconds; kills them."""
    deadline = time.monotonic() + timeout
    while (left := marked_processes(mark)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left


def test_sigterm_stops_the_embedded_sandbox_too(tmp_path: Path) -> None:
    # Given Accord serving on its embedded sandbox
    mark, port = uuid.uuid4().hex, free_port()
    endpoints = tmp_path / "endpoints.json"
    server = start_server(mark, "--port", str(port), "--endpoints-file", str(endpoints))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        started = json.loads(endpoints.read_text())
        sandbox_pid = started["sandbox"]["pid"]
        assert sandbox_pid in marked_processes(mark)
        sandbox_files = Path(started["salesforce"]["ca_file"]).parent  # its CA and private keys
        assert sandbox_files.is_dir()

        # When it is told to stop, as a supervisor does
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    finally:
        if server.poll() is None:
            server.kill()
        output = server.stdout.read() if server.stdout else ""
        left = left_behind(mark, timeout=10)

    # Then it stops cleanly, nothing it started is left running, and no key stays on disk
    assert left == [], output
    assert server.returncode == 0, output
    assert not sandbox_files.exists()


def test_a_start_that_fails_after_the_sandbox_started_stops_it(tmp_path: Path) -> None:
    # Given an endpoints file Accord cannot write (its directory does not exist)
    mark = uuid.uuid4().hex
    unwritable = tmp_path / "no" / "such" / "dir" / "endpoints.json"
    server = start_server(mark, "--port", str(free_port()), "--endpoints-file", str(unwritable))
    try:
        output, _ = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
        left = left_behind(mark, timeout=5)

    # Then it says so, and leaves no sandbox behind
    assert left == [], output
    assert server.returncode == 2, output
    assert str(unwritable) in output


class Outbox:
    """A normalizer's outbox side: the first sweep fails, the later ones publish."""

    outbox_grace = 0.01

    def __init__(self) -> None:
        self.sweeps = 0

    async def flush_outbox(self) -> list[str]:
        self.sweeps += 1
        if self.sweeps == 1:
            raise ConnectionError("Redis went away")
        return ["event"]


async def test_the_outbox_is_swept_periodically_and_a_failed_sweep_is_retried() -> None:
    outbox = Outbox()
    task = asyncio.create_task(server._flush_outbox(cast(Normalizer, outbox)))
    try:
        for _ in range(200):
            if outbox.sweeps >= 3:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert outbox.sweeps >= 3
