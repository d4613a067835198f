"""GraphiQL, served whole by Accord: the page and every script and style it loads.

The assets under ``api/static/graphiql`` are the npm packages' own builds (graphiql 3.8.3,
react and react-dom 18.2.0, each with its licence file), so the page works on a machine with
no internet access and loads nothing from a third party. The page's only script of its own is
``accord-graphiql.js``; the Content-Security-Policy allows scripts from Accord alone.
"""

from __future__ import annotations

import html
from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.routing import Mount

from api.assets import Assets

ASSETS = Path(__file__).resolve().parent / "static" / "graphiql"
ASSET_PATH = "/graphiql/3.8.3"  # versioned, so browsers may keep the files for long

DEFAULT_QUERY = """# Accord: one schema over the CRM and the ERP.
# Add your key under Headers: {"Authorization": "Bearer <key>"}
# (the sandbox's demo keys: demo-sales, demo-finance, demo-ops, demo-analytics).

{
  customers(first: 3) {
    nodes {
      id
      name
      credit { limit { amount currency } balance { amount } status }
    }
  }
}
"""

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        # GraphiQL's editors set styles inline; its fonts and icons are data: URLs.
        "style-src 'self' 'unsafe-inline'",
        "font-src 'self' data:",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)


def graphiql_page(
    endpoint: str = "/graphql", *, default_headers: str | None = None
) -> HTMLResponse:
    """The GraphiQL page for ``endpoint`` (a path on this server)."""
    attributes = {
        "data-endpoint": endpoint,
        "data-default-query": DEFAULT_QUERY,
    }
    if default_headers:
        attributes["data-default-headers"] = default_headers
    shown = " ".join(f'{name}="{html.escape(value)}"' for name, value in attributes.items())
    page = f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Accord · GraphiQL</title>
    <link rel="stylesheet" href="{ASSET_PATH}/graphiql.min.css">
    <style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
  </head>
  <body>
    <div id="graphiql" {shown}>Loading GraphiQL…</div>
    <script src="{ASSET_PATH}/react.production.min.js"></script>
    <script src="{ASSET_PATH}/react-dom.production.min.js"></script>
    <script src="{ASSET_PATH}/graphiql.min.js"></script>
    <script src="{ASSET_PATH}/accord-graphiql.js"></script>
  </body>
</html>
"""
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def graphiql_assets() -> Mount:
    # The vendored files' path carries their version: browsers may keep them for a day.
    return Mount(
        ASSET_PATH,
        app=Assets(ASSETS, "public, max-age=86400"),
        name="graphiql-assets",
    )
