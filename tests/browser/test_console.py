"""The ops console in a real browser, with no internet: ops see a workflow stopped by an ERP
outage appear as it happens, retry it and see it complete; finance approve a booking; ops fix
a drift from the reconciliation report. Each keeps a screenshot as an artefact.

On a sandbox and an Accord of this module's own, since the tests break and mend things.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from api.auth import DEMO_KEYS
from mutations.workflow import EngineSettings
from sandbox.emulator_client import EmulatorClient
from server import AppOptions
from sources.resilience import ResiliencePolicy
from tests.accord import AccordServer
from tests.browser.conftest import only_accord
from tests.conftest import SandboxControl
from tests.mutations.conftest import Deals, awaiting_approval, book
from tests.reconcile.conftest import own_sandbox, world_of

WAIT = 20_000  # ms


@dataclass
class Setting:
    accord: AccordServer
    emulators: EmulatorClient
    erp_faults: SandboxControl
    deals: Deals


@pytest.fixture(scope="module")
def setting() -> Iterator[Setting]:
    process, endpoints = own_sandbox()
    emulators = EmulatorClient(endpoints)
    faults = SandboxControl(endpoints.netsuite.base_url, endpoints.netsuite.ca_file)
    policy = ResiliencePolicy(
        timeout=2.0, max_attempts=2, backoff_base=0.01, backoff_max=0.02, failure_threshold=1000
    )
    # A step that fails rests in EXCEPTION at once (no retry window): the console shows it.
    options = AppOptions(
        api_keys=DEMO_KEYS,
        engine=EngineSettings(step_backoff=0.01, step_backoff_max=0.02, retry_for=0.0),
    )
    try:
        with AccordServer(endpoints, policy, options) as accord:
            yield Setting(accord, emulators, faults, Deals(emulators, world_of(endpoints)))
    finally:
        faults.reset()
        faults.close()
        emulators.close()
        process.stop()


@dataclass
class Console:
    page: Page
    context: BrowserContext
    requested: list[str]
    problems: list[str]

    def only_accord_was_asked(self, accord: AccordServer) -> None:
        host = urlparse(accord.url).netloc
        assert self.requested
        assert all(urlparse(url).netloc == host for url in self.requested), self.requested
        assert self.problems == []


@pytest.fixture
def console(browser: Browser, setting: Setting) -> Iterator[Console]:
    """A browser tab that can reach nothing but Accord, on the console."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    requested = only_accord(context, setting.accord.url)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.goto(f"{setting.accord.url}/console")
    yield Console(page, context, requested, problems)
    context.close()


def sign_in(page: Page, key: str) -> None:
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#live")).to_have_text("Live updates: on", timeout=WAIT)


def card(page: Page, section: str, workflow_id: str) -> Any:
    return page.locator(f'#{section} [data-workflow="{workflow_id}"]')


def test_ops_see_an_exception_as_it_happens_retry_it_and_see_it_complete(
    console: Console, setting: Setting, artifacts: Path
) -> None:
    page = console.page
    # given ops signed in to the console
    sign_in(page, "demo-ops")
    expect(page.locator("#who")).to_have_text("Signed in, role ops")

    # when a booking stops in EXCEPTION while the ERP refuses sales orders
    setting.erp_faults.fault(pattern="/services/rest/record/v1/salesOrder*", outage=True)
    deal = setting.deals.on_existing_customer()
    stopped = book(setting.accord, deal.opportunity_id, str(uuid.uuid4()))["workflow"]
    assert stopped["status"] == "EXCEPTION"

    # then it appears in the exception queue without a reload, with its step and reason
    exception = card(page, "exception-list", stopped["id"])
    expect(exception).to_be_visible(timeout=WAIT)
    expect(exception).to_contain_text("Stopped at create_sales_order: SOURCE_UNAVAILABLE")
    expect(card(page, "dead-letter-list", stopped["id"])).to_be_visible()
    exception.get_by_text("Steps").click()
    expect(exception.locator("ol.steps")).to_contain_text(
        "create_sales_order — FAILED (3 attempts)"
    )
    page.screenshot(path=str(artifacts / "console-exception.png"), full_page=True)

    # when the ERP is back and ops press Retry
    setting.erp_faults.fault(clear=True)
    exception.get_by_role("button", name=f"Retry workflow {stopped['id']}").click()

    # then the workflow completes: it leaves the queue and the dead letters, and the list
    # shows it COMPLETED
    expect(exception).to_have_count(0, timeout=WAIT)
    expect(card(page, "dead-letter-list", stopped["id"])).to_have_count(0)
    done = card(page, "workflow-list", stopped["id"])
    expect(done).to_have_attribute("data-status", "COMPLETED", timeout=WAIT)
    expect(page.locator("#status")).to_contain_text("now COMPLETED")
    done.get_by_text("Audit trail").click()
    expect(done.locator("ol.audit")).to_contain_text("BOOK_ORDER.create_sales_order · applied")
    expect(done.locator("ol.audit")).to_contain_text("retryWorkflow · applied")
    page.screenshot(path=str(artifacts / "console-retried.png"), full_page=True)

    # and the sources read healthy, and nothing came from anywhere but Accord
    expect(page.locator('#health-rows [data-source="netsuite"]')).to_contain_text("ready")
    expect(page.locator('#health-rows [data-source="netsuite"]')).to_contain_text("closed")
    console.only_accord_was_asked(setting.accord)


def test_finance_approve_a_booking_that_waits_for_them(
    console: Console, setting: Setting, artifacts: Path
) -> None:
    page = console.page
    # given finance signed in, and a new customer's booking waiting for approval
    sign_in(page, "demo-finance")
    _, _, waiting = awaiting_approval(setting.accord, setting.deals)
    assert waiting["status"] == "PENDING_APPROVAL"

    pending = card(page, "approval-list", waiting["id"])
    expect(pending).to_be_visible(timeout=WAIT)
    expect(pending).to_contain_text("Waits for finance: NO_CREDIT_LIMIT")
    page.screenshot(path=str(artifacts / "console-approval.png"), full_page=True)

    # when finance approve it
    pending.get_by_role("button", name=f"Approve workflow {waiting['id']}").click()

    # then it runs to the end
    expect(pending).to_have_count(0, timeout=WAIT)
    expect(card(page, "workflow-list", waiting["id"])).to_have_attribute(
        "data-status", "COMPLETED", timeout=WAIT
    )
    assert setting.accord.graphql(
        "query($id: ID!) { workflow(id: $id) { approvedBy } }",
        {"id": waiting["id"]},
        key="demo-finance",
    )["data"]["workflow"]["approvedBy"].endswith(":finance")
    console.only_accord_was_asked(setting.accord)


def test_ops_fix_a_drift_from_the_reconciliation_report(
    console: Console, setting: Setting, artifacts: Path
) -> None:
    page = console.page
    sign_in(page, "demo-ops")
    section = page.locator("#reconciliation")

    # when ops run a reconciliation and pick the stale credit mirrors
    page.get_by_role("button", name="Run now").click()
    expect(page.locator("#status")).to_contain_text("Reconciled:", timeout=WAIT)
    page.get_by_label("Kind").select_option("CREDIT_STATUS_MISMATCH")
    rows = page.locator("#drift-rows tr")
    expect(rows.first).to_have_attribute("data-kind", "CREDIT_STATUS_MISMATCH", timeout=WAIT)
    listed = rows.count()
    assert listed == len(page.locator('#drift-rows tr[data-kind="CREDIT_STATUS_MISMATCH"]').all())
    drift_id = rows.first.get_attribute("data-drift")
    assert drift_id is not None
    drift = next(
        node
        for node in setting.accord.graphql(
            "{ reconciliation { drifts(kind: CREDIT_STATUS_MISMATCH) { nodes { id salesforceId erpValue } } } }",
            key="demo-ops",
        )["data"]["reconciliation"]["drifts"]["nodes"]
        if node["id"] == drift_id
    )
    section.screenshot(path=str(artifacts / "console-reconciliation.png"))

    # and apply the fix of the first one
    page.get_by_role("button", name=f"Fix {drift_id} (MIRROR_CREDIT_STATUS)").click()

    # then the account shows the ERP's status, and the report, run again, no longer lists it
    expect(page.locator("#status")).to_contain_text("Reconciled:", timeout=WAIT)
    expect(page.locator(f'#drift-rows tr[data-drift="{drift_id}"]')).to_have_count(0)
    expect(rows).to_have_count(listed - 1)
    account = setting.emulators.sf_get("Account", drift["salesforceId"])
    assert account["Credit_Status__c"] == drift["erpValue"]
    section.screenshot(path=str(artifacts / "console-fixed.png"))
    console.only_accord_was_asked(setting.accord)


def test_a_key_that_is_unknown_or_of_another_role_is_refused(console: Console) -> None:
    page = console.page
    page.get_by_label("API key").fill("not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Accord does not know this key.")

    page.get_by_label("API key").fill("demo-sales")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("for the ops and finance roles")
    expect(page.locator("#console")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0


def test_the_key_stays_for_the_tab_only_and_signing_out_forgets_it(
    console: Console, setting: Setting
) -> None:
    page = console.page
    sign_in(page, "demo-ops")
    assert page.evaluate("sessionStorage.getItem('accord-console-key')") == "demo-ops"
    assert page.evaluate("localStorage.length") == 0

    # a reload keeps the tab signed in
    page.reload()
    expect(page.locator("#live")).to_have_text("Live updates: on", timeout=WAIT)

    # signing out forgets the key
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API key")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_the_page_loads_only_accords_own_files_under_a_strict_policy(setting: Setting) -> None:
    with setting.accord.client() as client:
        page = client.get("/console")
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "'unsafe-inline'" not in policy
        assert "default-src 'none'" in policy
        html = page.text
        assert "http://" not in html
        assert "https://" not in html
        scripts = html.count("<script")
        assert scripts == html.count('<script src="/console/assets/')
        for name in ("console.js", "console.css"):
            asset = client.get(f"/console/assets/{name}")
            assert asset.status_code == 200, name
            assert asset.headers["x-content-type-options"] == "nosniff"
        assert client.get("/console/assets/../../server.py").status_code == 404
        assert json.loads(client.get("/readyz").text)["status"] == "ready"
