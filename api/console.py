"""The ops console at ``/console``: finance operations watch and fix what went wrong.

One plain HTML page with a hand-written script and style sheet, all served by Accord (no
third party, so it works with no internet), under a Content-Security-Policy that allows
scripts from Accord alone and nothing inline. The page holds no data of its own: it signs in
with an API key (kept in the tab's sessionStorage, sent as ``Authorization: Bearer``), reads
and acts through ``/graphql`` like any client, follows ``workflowChanged`` over the same
graphql-transport-ws subscriptions clients use, and reads source health from ``/readyz``.
What a caller may see and do is GraphQL's to decide (ops and finance roles).
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount

from api.assets import Assets

ASSETS = Path(__file__).resolve().parent / "static" / "console"
ASSET_PATH = "/console/assets"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",  # /graphql, its WebSocket, /readyz
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_STATUSES = ["EXCEPTION", "PENDING_APPROVAL", "RUNNING", "PENDING", "COMPLETED", "CANCELLED"]

PAGE = f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Accord · operations</title>
    <link rel="stylesheet" href="{ASSET_PATH}/console.css">
    <script src="{ASSET_PATH}/console.js" defer></script>
  </head>
  <body>
    <header class="top">
      <h1 id="title" tabindex="-1">Accord operations</h1>
      <p id="who" hidden></p>
      <button type="button" id="sign-out" hidden>Sign out</button>
    </header>
    <main>
      <section id="sign-in" aria-labelledby="sign-in-title">
        <h2 id="sign-in-title">Sign in</h2>
        <p>For the ops and finance roles. The key stays in this tab only.</p>
        <form id="sign-in-form">
          <label for="api-key">API key</label>
          <input id="api-key" name="api-key" type="password" autocomplete="off" required>
          <button type="submit">Sign in</button>
        </form>
        <p id="sign-in-error" class="problem" role="alert"></p>
      </section>

      <div id="console" hidden>
        <p id="status" role="status" aria-live="polite"></p>
        <p id="live" class="live" aria-live="polite">Live updates: connecting…</p>

        <section id="health" aria-labelledby="health-title">
          <h2 id="health-title">Sources</h2>
          <button type="button" id="health-refresh">Check again</button>
          <table>
            <caption>Each source's answer to a test call, and its circuit breaker</caption>
            <thead><tr><th scope="col">Source</th><th scope="col">Ready</th>
              <th scope="col">Circuit</th><th scope="col">Answered in</th>
              <th scope="col">Problem</th></tr></thead>
            <tbody id="health-rows"></tbody>
          </table>
        </section>

        <section id="exceptions" aria-labelledby="exceptions-title">
          <h2 id="exceptions-title">Exceptions</h2>
          <p>Workflows stopped with nothing half-posted: retry once the cause is fixed, or
            cancel.</p>
          <div id="exception-list" class="cards"></div>
        </section>

        <section id="approvals" aria-labelledby="approvals-title">
          <h2 id="approvals-title">Waiting for approval</h2>
          <div id="approval-list" class="cards"></div>
        </section>

        <section id="dead-letters" aria-labelledby="dead-letters-title">
          <h2 id="dead-letters-title">Dead letters</h2>
          <p>Workflows whose step ran out of retries: replay runs them again.</p>
          <div id="dead-letter-list" class="cards"></div>
        </section>

        <section id="workflows" aria-labelledby="workflows-title">
          <h2 id="workflows-title">Workflows</h2>
          <label for="status-filter">Status</label>
          <select id="status-filter">
            <option value="">Any</option>
            {"".join(f'<option value="{s}">{s}</option>' for s in _STATUSES)}
          </select>
          <div id="workflow-list" class="cards"></div>
        </section>

        <section id="reconciliation" aria-labelledby="reconciliation-title">
          <h2 id="reconciliation-title">Reconciliation</h2>
          <p id="reconciliation-summary"></p>
          <button type="button" id="reconcile-now">Run now</button>
          <label for="kind-filter">Kind</label>
          <select id="kind-filter"><option value="">Any</option></select>
          <table>
            <caption>Where the CRM and the ERP disagree, and what ends it</caption>
            <thead><tr><th scope="col">Kind</th><th scope="col">Drift</th>
              <th scope="col">Fix</th><th scope="col"><span class="hidden">Action</span></th>
            </tr></thead>
            <tbody id="drift-rows"></tbody>
          </table>
        </section>
      </div>
    </main>
  </body>
</html>
"""


async def console_page(request: Request) -> Response:
    return HTMLResponse(PAGE, headers=HEADERS)


def console_assets() -> Mount:
    # Revalidated on each load: they change with Accord, and their path carries no version.
    return Mount(ASSET_PATH, app=Assets(ASSETS, "no-cache"), name="console-assets")
