"""Starting Accord as an operator does: every mistake is one line they can act on.

An unusable Redis is one line naming ACCORD_REDIS_URL and the reason, exit status 2; a Redis
that keeps nothing across a restart is a warning; a port out of range or in use is refused;
the address printed is the one bound; sources that do not answer at start are one warning
each, and their outage a line when it starts and one when it ends, never a traceback per poll.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from sandbox.endpoints import Endpoints
from tests.redis_keys import unique_prefix
from tests.redis_server import RedisServer, free_port

ROOT = Path(__file__).resolve().parent.parent


def environment(**extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ACCORD_POLL_SECONDS": "0",
        "ACCORD_LOG_LEVEL": "info",
        **extra,
    }


def refused(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``server.py`` expecting it to stop at once."""
    return subprocess.run(
        [sys.executable, "server.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=environment(**env),
    )


@contextmanager
def serving(port: int, *args: str, **env: str) -> Iterator[list[str]]:
    """``server.py`` serving on ``port`` until the block ends; yields its output lines, read
    once it stopped (the list is filled then)."""
    lines: list[str] = []
    process = subprocess.Popen(
        [sys.executable, "server.py", "--port", str(port), *args],
        cwd=ROOT,
        env=environment(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[0]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "Accord did not start"
            time.sleep(0.1)
        yield lines
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
        lines.extend(output.splitlines())


@pytest.fixture(scope="module")
def sandbox_file(sandbox: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("startup") / "sandbox.json"
    sandbox.write(path)
    return path


def test_an_unreachable_redis_is_one_line_naming_the_variable_and_exit_2(
    sandbox_file: Path,
) -> None:
    url = f"redis://:secret@127.0.0.1:{free_port()}/0"
    started = refused("--sandbox", str(sandbox_file), ACCORD_REDIS_URL=url)

    assert started.returncode == 2
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1, started.stderr
    assert lines[0].startswith("ACCORD_REDIS_URL=redis://:***@127.0.0.1:")
    assert "refused" in lines[0].lower()
    assert "secret" not in started.stderr + started.stdout


def test_a_misconfigured_redis_is_one_line_with_the_reason(
    own_redis: RedisServer, sandbox_file: Path
) -> None:
    started = refused(
        "--sandbox", str(sandbox_file), ACCORD_REDIS_URL=own_redis.url.replace("/0", "/99")
    )

    assert started.returncode == 2
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1, started.stderr
    assert "ACCORD_REDIS_URL=" in lines[0]
    assert "DB index is out of range" in lines[0]


@pytest.mark.parametrize("persistence", [False, True], ids=["nothing-kept", "append-only"])
def test_a_redis_that_keeps_nothing_is_warned_about(
    persistence: bool, tmp_path: Path, sandbox_file: Path
) -> None:
    with (
        RedisServer(tmp_path, persistence=persistence) as redis,
        serving(
            free_port(),
            "--sandbox",
            str(sandbox_file),
            ACCORD_REDIS_URL=redis.url,
            ACCORD_REDIS_PREFIX=unique_prefix(),
        ) as output,
    ):
        pass
    warned = [line for line in output if "keeps nothing across a restart" in line]
    assert len(warned) == (0 if persistence else 1), output
    if warned:
        assert warned[0].startswith("WARNING")
        assert "appendonly yes" in warned[0]


@pytest.mark.parametrize("port", ["0", "65536", "-1", "http"])
def test_a_port_outside_1_to_65535_is_refused(port: str) -> None:
    started = refused("--port", port)

    assert started.returncode == 2
    assert "--port" in started.stderr
    assert "Traceback" not in started.stderr


def test_a_port_in_use_is_one_line_and_exit_2(sandbox_file: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = refused("--sandbox", str(sandbox_file), "--port", str(port))

    assert started.returncode == 2
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1, started.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in lines[0]


def test_the_address_printed_is_the_one_bound(sandbox_file: Path) -> None:
    port = free_port()
    with serving(port, "--host", "localhost", "--sandbox", str(sandbox_file)) as output:
        pass
    served = [line for line in output if line.startswith("Accord serves GraphQL at")]
    assert served == [f"Accord serves GraphQL at http://127.0.0.1:{port}/graphql"]


def test_sources_down_at_start_are_one_warning_each_and_no_traceback_per_poll(
    sandbox: Endpoints, tmp_path: Path
) -> None:
    # given a sandbox file whose emulators do not answer (nothing listens on their ports)
    dead = tmp_path / "dead.json"
    sandbox.write(dead)
    data = json.loads(dead.read_text())
    nowhere = f"https://127.0.0.1:{free_port()}"
    data["salesforce"]["instance_url"] = nowhere
    data["netsuite"]["base_url"] = nowhere
    data["netsuite"]["token_url"] = f"{nowhere}/services/rest/auth/oauth2/v1/token"
    dead.write_text(json.dumps(data))

    # when Accord starts on it and polls every 0.2 s for a few seconds
    with serving(free_port(), "--sandbox", str(dead), ACCORD_POLL_SECONDS="0.2") as output:
        time.sleep(3)

    # then each source is one warning at start, the polling outage one line per source, and
    # nothing is a traceback
    text = "\n".join(output)
    assert "Traceback" not in text, text
    assert sum("Salesforce is not usable at start" in line for line in output) == 1, text
    assert sum("NetSuite is not usable at start" in line for line in output) == 1, text
    for source in ("salesforce", "netsuite"):
        assert sum(f"{source} polling is unavailable" in line for line in output) == 1, text
    assert not any(line.startswith("ERROR") for line in output), text


REAL_SYSTEMS_NOWHERE = {
    "ACCORD_SALESFORCE_INSTANCE_URL": "https://127.0.0.1:1",
    "ACCORD_SALESFORCE_CLIENT_ID": "accord",
    "ACCORD_SALESFORCE_CLIENT_SECRET": "secret",
    "ACCORD_NETSUITE_ACCOUNT_ID": "1234567",
    "ACCORD_NETSUITE_CLIENT_ID": "accord",
    "ACCORD_NETSUITE_CLIENT_SECRET": "secret",
    "ACCORD_NETSUITE_BASE_URL": "https://127.0.0.1:1",
    "ACCORD_RECONCILE_SECONDS": "0",
}
NO_CALLER = "Anonymous reads are off (ACCORD_ANONYMOUS_READS) and no API key"


def test_an_accord_no_caller_can_use_says_so_once_at_start() -> None:
    # given real systems (here unreachable), no key, no issuer, anonymous reads off by default
    port = free_port()

    # when Accord starts and a caller without a key asks something
    with serving(port, **REAL_SYSTEMS_NOWHERE) as output:
        answer = httpx.post(
            f"http://127.0.0.1:{port}/graphql", json={"query": "{ __typename }"}, timeout=10
        )

    # then the caller is refused, and the output said why once, before serving
    assert answer.status_code == 401
    said = [line for line in output if line.startswith(NO_CALLER)]
    assert len(said) == 1, output
    assert "every request will be refused with 401" in said[0]
    assert output.index(said[0]) < next(
        i for i, line in enumerate(output) if line.startswith("Accord serves GraphQL at")
    )


def test_an_accord_with_keys_says_nothing_of_the_kind() -> None:
    # given the same systems and one API key, as the README's "Running it for real" sets
    port = free_port()
    keys = {"ACCORD_API_KEYS": "finance-key-0123456789=finance"}

    # when Accord starts and the holder of the key asks something
    with serving(port, **REAL_SYSTEMS_NOWHERE, **keys) as output:
        answer = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": "{ __typename }"},
            headers={"Authorization": "Bearer finance-key-0123456789"},
            timeout=10,
        )

    # then the key is served and nothing warned of refusals
    assert answer.status_code == 200
    assert answer.json()["data"] == {"__typename": "Query"}
    assert not any(line.startswith(NO_CALLER) for line in output), output
