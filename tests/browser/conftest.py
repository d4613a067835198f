"""A real headless Chromium (Debian's ``chromium`` package) driven by Playwright.

Playwright's own browser downloads are never used: the browser is the system's, at
``ACCORD_TEST_CHROMIUM`` (default ``/usr/bin/chromium``); ``bash .ci/run`` installs it when it is
missing. The flags keep Chromium off the network except for the pages a test opens. Pages
that a test keeps as artefacts go to ``ACCORD_TEST_ARTIFACTS`` (default: pytest's temporary
directory).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, Request, Route, sync_playwright

CHROMIUM = os.environ.get("ACCORD_TEST_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Module scope, not session: Playwright's synchronous API keeps an event loop running in the
# main thread while it is open, which the asyncio tests that follow could not start under.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: install Debian's chromium package (bash .ci/run does)",
            pytrace=False,
        )
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
    yield launched
    launched.close()


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    chosen = os.environ.get("ACCORD_TEST_ARTIFACTS")
    folder = Path(chosen) if chosen else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def only_accord(context: BrowserContext, accord_url: str) -> list[str]:
    """Let ``context`` reach Accord alone (every other request fails); the URLs its pages
    asked for, as they ask."""
    host = urlparse(accord_url).netloc
    requested: list[str] = []

    def route(route: Route, request: Request) -> None:
        requested.append(request.url)
        if urlparse(request.url).netloc == host:
            route.continue_()
        else:
            route.abort()

    context.route("**/*", route)
    return requested
