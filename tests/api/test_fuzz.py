"""The fuzzing run: generated queries and mutations over the committed schema, sent by every
demo role and an anonymous caller, for about a minute. Whatever is sent, Accord answers it
cleanly: no 5xx, an answer that is GraphQL, and no error in the server's log.

It runs against a sandbox of its own, since generated mutations write to it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from graphql import build_schema as build_from_sdl
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.configuration import set_hypothesis_home_dir

from api.auth import DEMO_KEYS
from api.exposure import Exposure
from sandbox.endpoints import Endpoints
from sandbox.process import SandboxProcess
from schema.__main__ import SDL_FILE
from server import AppOptions
from tests.accord import AccordServer
from tests.api.fuzz_documents import operation

pytestmark = pytest.mark.fuzz

SCHEMA = build_from_sdl(SDL_FILE.read_text())
CALLERS = [*DEMO_KEYS, None]
BUDGET_SECONDS = 55.0


class ErrorLog(logging.Handler):
    """Every record of level ERROR or above logged in this process while it is installed."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def fuzz_sandbox() -> Iterator[Endpoints]:
    process = SandboxProcess(seed=7, customers=40)
    yield process.start()
    process.stop()


@pytest.fixture(scope="module")
def target(fuzz_sandbox: Endpoints) -> Iterator[tuple[AccordServer, httpx.Client]]:
    # No budget: the run is one caller sending far more than any client would.
    options = AppOptions(api_keys=DEMO_KEYS, exposure=Exposure(budget_per_minute=0))
    with AccordServer(fuzz_sandbox, options=options) as server, server.client() as client:
        yield server, client


@pytest.fixture(scope="module")
def hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Hypothesis keeps caches in a directory: a temporary one, so the run leaves none."""
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    set_hypothesis_home_dir(None)  # back to its default


@pytest.fixture(scope="module")
def error_log() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


def send(client: httpx.Client, document: str, key: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.post("/graphql", json={"query": document}, headers=headers)


def check(response: httpx.Response, document: str, key: str | None) -> None:
    where = f"as {key or 'anonymous'}: {document}"
    assert response.status_code < 500, f"{response.status_code} {where}\n{response.text[:500]}"
    body: Any = response.json()
    assert isinstance(body, dict), where
    assert "data" in body or body.get("errors"), where
    for error in body.get("errors", []):
        assert isinstance(error.get("message"), str), where
        assert error.get("extensions", {}).get("code") != "INTERNAL_SERVER_ERROR", (
            f"{error} {where}"
        )


@pytest.mark.usefixtures("hypothesis_home")
def test_generated_operations_get_clean_answers_from_every_caller(
    target: tuple[AccordServer, httpx.Client], error_log: ErrorLog
) -> None:
    _, client = target
    sent = {"count": 0}

    @settings(
        max_examples=25,  # a round; rounds go on until the time budget is spent
        deadline=None,
        database=None,  # nothing left on disk
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(document=operation(SCHEMA))
    def each(document: str) -> None:
        for key in CALLERS:
            check(send(client, document, key), document, key)
            sent["count"] += 1
        assert error_log.records == [], [r.getMessage() for r in error_log.records]

    deadline = time.monotonic() + BUDGET_SECONDS
    while time.monotonic() < deadline:
        each()  # each round draws afresh (no example database)

    assert sent["count"] >= 500  # a run that sent next to nothing proves nothing
    assert error_log.records == []
