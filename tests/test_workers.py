"""``python server.py --workers N``: worker processes sharing one port.

With state in memory there is one worker and the reason is printed; asking for more is a
settings error, exit 2. With Redis, N workers serve one port; one that dies is started again; a
SIGTERM stops them all. That they behave as replicas (state, events, idempotency, budgets) is
checked by the replica tests, which run against two workers too (`tests.workers`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from api.workers import available_cores
from config.settings import SettingsError, load_settings
from sandbox.endpoints import Endpoints
from server import parse_args, worker_count
from tests.redis_keys import unique_prefix
from tests.workers import WorkersAccord

ROOT = Path(__file__).resolve().parent.parent
QUERY = "{ customers(first: 1) { totalCount } }"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "zombie" not in status.read_text()


def test_state_in_memory_means_one_worker_and_says_why() -> None:
    settings = load_settings({})

    count, why = worker_count(None, settings)

    assert count == 1
    assert "in memory" in why
    assert worker_count(1, settings)[0] == 1


def test_more_workers_on_state_in_memory_are_refused() -> None:
    with pytest.raises(SettingsError, match="ACCORD_REDIS_URL"):
        worker_count(2, load_settings({}))


def test_with_redis_the_default_is_one_worker_per_core() -> None:
    settings = load_settings({"ACCORD_REDIS_URL": "redis://127.0.0.1:6379/0"})

    assert worker_count(None, settings)[0] == available_cores()
    assert worker_count(3, settings)[0] == 3


@pytest.mark.parametrize("workers", ["0", "-2", "many", "257"])
def test_a_worker_count_out_of_range_is_refused(workers: str) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--workers", workers])


def test_two_workers_on_state_in_memory_are_refused_with_exit_2(
    sandbox: Endpoints, tmp_path: Path
) -> None:
    endpoints = tmp_path / "sandbox.json"
    sandbox.write(endpoints)
    started = subprocess.run(
        [sys.executable, "server.py", "--sandbox", str(endpoints), "--workers", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )

    assert started.returncode == 2
    assert "Traceback" not in started.stderr
    assert "--workers 2: state is in memory" in started.stderr
    assert "set ACCORD_REDIS_URL" in started.stderr


def test_a_worker_that_dies_is_started_again_and_sigterm_stops_all(
    sandbox: Endpoints, redis_url: str
) -> None:
    with WorkersAccord(sandbox, redis_url, unique_prefix()) as accord:
        pids = accord.worker_pids()
        assert len(set(pids)) == 2
        # when one worker is killed outright
        os.kill(pids[0], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while "started again" not in accord.process.output():
            assert time.monotonic() < deadline, accord.process.output()
            time.sleep(0.1)
        # then the port still answers every request, on connections of their own
        for _ in range(10):
            assert "errors" not in accord.graphql(QUERY)
        assert alive(pids[1])
        supervisor = accord.process.process
        assert supervisor is not None
    # and stopping the server (SIGTERM) stopped every worker, the new one too
    assert supervisor.returncode == 0
    restarted = [
        int(line.rsplit("pid ", 1)[1].rstrip(")"))
        for line in accord.process.output().splitlines()
        if "started again" in line
    ]
    assert restarted
    for pid in [*pids, *restarted]:
        assert not alive(pid)


def test_the_metrics_of_every_worker_add_up_on_any_of_them(
    sandbox: Endpoints, redis_url: str
) -> None:
    """Without PROMETHEUS_MULTIPROC_DIR given, the supervisor makes one for its workers."""
    requests = 30
    with WorkersAccord(sandbox, redis_url, unique_prefix()) as accord:
        for _ in range(requests):  # a connection each: the kernel spreads them over both
            assert "errors" not in accord.graphql("query WorkersCount " + QUERY)
        served: set[float] = set()
        for _ in range(6):  # scrapes, on connections of their own too
            with accord.client() as client:
                scraped = client.get("/metrics", headers={"Authorization": "Bearer demo-ops"})
            assert scraped.status_code == 200, scraped.text
            served |= {
                float(line.rsplit(" ", 1)[1])
                for line in scraped.text.splitlines()
                if line.startswith("accord_graphql_requests_total{")
                and 'operation="WorkersCount"' in line
            }
        output = accord.process.output()
    assert served == {float(requests)}
    assert "workers share their metrics through" in output
