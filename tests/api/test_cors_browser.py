"""CORS as a browser enforces it: headless Chromium loads pages from other origins, served on
loopback ports of their own, and their scripts call Accord on its port.

Chromium resolves ``acme.lightning.force.com`` and a look-alike to the HTTPS page server on
loopback (``--host-resolver-rules``), so a page really has the origin
``https://acme.lightning.force.com`` that a Lightning component has, and nothing leaves the
machine. Exact origins are plain-HTTP pages on ``127.0.0.1`` ports. Chromium is Debian's
``chromium``, driven by Playwright (its own browser downloads are never used).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from api.auth import DEMO_KEYS
from api.cors import parse_origins
from sandbox.endpoints import Endpoints
from server import AppOptions
from tests.accord import AccordServer, wait_until_started

CHROMIUM = "/usr/bin/chromium"
LIGHTNING_HOST = "acme.lightning.force.com"
LOOK_ALIKE_HOST = "lightning.force.com.evil.example"
QUERY = "{ customers(first: 1) { nodes { id name } } }"

# The page a browser loads from each origin: a script that calls Accord as a component would.
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Accord caller</title></head><body>
<script>
window.callAccord = async (url, init) => {
  try {
    const response = await fetch(url, init);
    return { status: response.status, body: await response.text() };
  } catch (error) {
    return { error: String(error) };
  }
};
</script>
</body></html>"""


async def page(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


class PageServer:
    """The caller's page, served by uvicorn on loopback sockets in a thread."""

    def __init__(self, sockets: list[socket.socket], **config: Any) -> None:
        app = Starlette(routes=[Route("/", page)])
        self._sockets = sockets
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", **config))
        self._thread = threading.Thread(target=self._run, name="page-server", daemon=True)

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=self._sockets))

    def __enter__(self) -> PageServer:
        self._thread.start()
        wait_until_started(self._server, self._thread, "the page server", timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)


def bound() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


def port_of(sock: socket.socket) -> int:
    port: int = sock.getsockname()[1]
    return port


class Origins:
    """Where the callers' pages are, and the Accord that allows some of them."""

    def __init__(self, tls_port: int, listed: str, unlisted: str, accord: AccordServer) -> None:
        self.tls_port = tls_port
        self.listed = listed  # http://127.0.0.1:<port>, named exactly in the allowlist
        self.unlisted = unlisted  # http://127.0.0.1:<another port>
        self.accord = accord


@pytest.fixture(scope="module")
def origins(sandbox: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Origins]:
    ca = trustme.CA()
    pem = Path(tmp_path_factory.mktemp("pages")) / "pages.pem"
    ca.issue_cert(LIGHTNING_HOST, LOOK_ALIKE_HOST).private_key_and_cert_chain_pem.write_to_path(
        str(pem)
    )
    tls, listed, unlisted = bound(), bound(), bound()
    allowlist = f"https://*.lightning.force.com,http://127.0.0.1:{port_of(listed)}"
    options = AppOptions(api_keys=DEMO_KEYS, cors=parse_origins(allowlist))
    with (
        PageServer([tls], ssl_certfile=str(pem)),
        PageServer([listed, unlisted]),
        AccordServer(sandbox, options=options) as accord,
    ):
        yield Origins(
            port_of(tls),
            f"http://127.0.0.1:{port_of(listed)}",
            f"http://127.0.0.1:{port_of(unlisted)}",
            accord,
        )


@pytest.fixture(scope="module")
def browser(origins: Origins) -> Iterator[Browser]:
    rules = ", ".join(
        f"MAP {host} 127.0.0.1:{origins.tls_port}" for host in (LIGHTNING_HOST, LOOK_ALIKE_HOST)
    )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-proxy-server",
                f"--host-resolver-rules={rules}",
            ],
        )
        yield chromium
        chromium.close()


def open_page(browser: Browser, url: str) -> Page:
    context = browser.new_context(ignore_https_errors=True)  # the pages' CA is the test's own
    tab = context.new_page()
    tab.goto(url)
    return tab


def call(tab: Page, url: str, **init: Any) -> dict[str, Any]:
    """Run ``fetch(url, init)`` in the page's own script; its status and body, or its error."""
    result: dict[str, Any] = tab.evaluate(
        "([url, init]) => window.callAccord(url, init)", [url, init]
    )
    return result


def post_query(key: str = "demo-sales", **extra_headers: str) -> dict[str, Any]:
    return {
        "method": "POST",
        "headers": {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {key}",
            **extra_headers,
        },
        "body": '{"query": "' + QUERY + '"}',
    }


def test_a_lightning_page_reads_accords_answer(browser: Browser, origins: Origins) -> None:
    # given a page at https://acme.lightning.force.com
    tab = open_page(browser, f"https://{LIGHTNING_HOST}/")
    assert tab.evaluate("location.origin") == f"https://{LIGHTNING_HOST}"

    # when its script POSTs a query with an API key (which needs a preflight)
    result = call(tab, f"{origins.accord.url}/graphql", **post_query())

    # then the browser lets the page read Accord's answer
    assert result.get("status") == 200, result
    assert '"customers"' in result["body"]
    assert '"errors"' not in result["body"]


def test_a_page_of_an_exactly_listed_origin_reads_accords_answer(
    browser: Browser, origins: Origins
) -> None:
    tab = open_page(browser, f"{origins.listed}/")

    result = call(tab, f"{origins.accord.url}/graphql", **post_query())

    assert result.get("status") == 200, result


def test_an_allowed_page_can_read_why_its_key_was_refused(
    browser: Browser, origins: Origins
) -> None:
    tab = open_page(browser, f"https://{LIGHTNING_HOST}/")

    result = call(tab, f"{origins.accord.url}/graphql", **post_query(key="not-a-key"))

    assert result.get("status") == 401, result
    assert "UNAUTHENTICATED" in result["body"]


@pytest.mark.parametrize(
    "where", [f"https://{LOOK_ALIKE_HOST}/", "unlisted"], ids=["look-alike", "unlisted-port"]
)
def test_a_page_of_another_origin_cannot_read_accord(
    browser: Browser, origins: Origins, where: str
) -> None:
    # given a page whose origin merely contains an allowed name, or another loopback port
    tab = open_page(browser, f"{origins.unlisted}/" if where == "unlisted" else where)

    # when it calls Accord, with a preflight and with a request that needs none
    preflighted = call(tab, f"{origins.accord.url}/graphql", **post_query())
    simple = call(tab, f"{origins.accord.url}/graphql?query={QUERY}")

    # then the browser refuses to hand either answer to the page
    assert "Failed to fetch" in preflighted.get("error", ""), preflighted
    assert "Failed to fetch" in simple.get("error", ""), simple


def test_a_header_not_allowed_stops_the_call(browser: Browser, origins: Origins) -> None:
    tab = open_page(browser, f"https://{LIGHTNING_HOST}/")

    result = call(tab, f"{origins.accord.url}/graphql", **post_query(**{"X-Debug": "1"}))

    assert "Failed to fetch" in result.get("error", ""), result


def test_a_method_not_allowed_stops_the_call(browser: Browser, origins: Origins) -> None:
    tab = open_page(browser, f"https://{LIGHTNING_HOST}/")

    result = call(tab, f"{origins.accord.url}/graphql", **{**post_query(), "method": "PUT"})

    assert "Failed to fetch" in result.get("error", ""), result


def test_credentials_mode_is_refused_when_credentials_are_off(
    browser: Browser, origins: Origins
) -> None:
    tab = open_page(browser, f"https://{LIGHTNING_HOST}/")

    result = call(
        tab, f"{origins.accord.url}/graphql", **{**post_query(), "credentials": "include"}
    )

    assert "Failed to fetch" in result.get("error", ""), result
