"""GraphiQL in a real browser, with no internet: every file the page loads comes from Accord,
and a query typed there runs against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import Browser

from tests.accord import AccordServer
from tests.browser.conftest import only_accord


def test_graphiql_loads_from_accord_alone_and_runs_a_query(
    accord: AccordServer, browser: Browser, artifacts: Path
) -> None:
    # Given a browser that can reach nothing but Accord
    context = browser.new_context()
    requested = only_accord(context, accord.url)
    accord_host = urlparse(accord.url).netloc
    # the key GraphiQL keeps in its headers editor
    context.add_init_script(
        "localStorage.setItem('graphiql:headers', "
        + json.dumps(json.dumps({"Authorization": "Bearer demo-ops"}))
        + ")"
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))

    # When GraphiQL opens on /graphql and its default query runs
    page.goto(f"{accord.url}/graphql", wait_until="networkidle")
    page.locator(".graphiql-execute-button").click()
    result = page.locator(".graphiql-response .CodeMirror-code")
    result.get_by_text('"customers"').wait_for(timeout=20_000)
    page.screenshot(path=str(artifacts / "graphiql.png"))

    # Then the answer holds customers, nothing came from elsewhere, and the page had no errors
    text = result.inner_text()
    assert '"nodes"' in text
    assert '"errors"' not in text
    assert requested
    assert all(urlparse(url).netloc == accord_host for url in requested), requested
    assert problems == []
    context.close()


def test_graphiql_assets_are_served_with_their_licences(accord: AccordServer) -> None:
    with accord.client() as client:
        page = client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "script-src 'self'" in page.headers["content-security-policy"]
        for name in (
            "graphiql.min.js",
            "graphiql.min.css",
            "react.production.min.js",
            "react-dom.production.min.js",
            "accord-graphiql.js",
            "LICENSE.graphiql",
            "LICENSE.react",
            "LICENSE.react-dom",
        ):
            asset = client.get(f"/graphiql/3.8.3/{name}")
            assert asset.status_code == 200, name
            assert asset.content
        assert client.get("/graphiql/3.8.3/../../server.py").status_code == 404
