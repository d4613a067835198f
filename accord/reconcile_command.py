"""``accord reconcile``: compare the CRM and the ERP once, print every drift and its fix.

    accord reconcile                      # the configured systems, or an embedded sandbox
    accord reconcile --sandbox F          # a running sandbox (its endpoints file)
    accord reconcile --json --kind ORDER_MISSING --fail-on-drift

The systems come from the ``ACCORD_*`` settings, as for ``accord serve``; with none configured
and no ``--sandbox``, a sandbox is started for the run and stopped after it. The report is
also kept in the state (``ACCORD_REDIS_URL``), where the ops console of every replica sees it.

Exit status: 0 done; 1 drift found, with ``--fail-on-drift``; 2 bad usage or settings; 3 a
system could not be read whole, or another run is under way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path

from config.settings import Settings, SettingsError, load_settings
from reconcile import COMMAND_LINE, Drift, DriftKind, Reconciler, ReconciliationBusy, Report
from sources.errors import SourceError
from sources.netsuite import NetSuiteErp
from sources.netsuite_http import NetSuiteConfig
from sources.salesforce import SalesforceCrm
from sources.salesforce_client import SalesforceConfig
from sources.tryton.adapter import TrytonErp
from sources.tryton.rpc import TrytonConfig
from state.backend import open_backend
from state.errors import StateError

DRIFT_FOUND, FAILED = 1, 3


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="accord reconcile",
        description="Compare the CRM and the ERP once; print every drift with the action that "
        "fixes it.",
    )
    parser.add_argument(
        "--sandbox", type=Path, help="compare the sandbox described by this endpoints file"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--kind",
        action="append",
        choices=[kind.value for kind in DriftKind],
        metavar="KIND",
        help="only drifts of this kind (repeat for several): "
        + ", ".join(kind.value for kind in DriftKind),
    )
    parser.add_argument(
        "--fail-on-drift",
        action="store_true",
        help=f"exit with status {DRIFT_FOUND} when a drift is found (for a cron job or CI)",
    )
    return parser.parse_args(argv)


async def reconcile_once(
    salesforce: SalesforceConfig, erp_config: NetSuiteConfig | TrytonConfig, settings: Settings
) -> Report:
    crm = SalesforceCrm(salesforce)
    erp = TrytonErp(erp_config) if isinstance(erp_config, TrytonConfig) else NetSuiteErp(erp_config)
    backend = open_backend(settings.redis_url, prefix=settings.redis_prefix)
    try:
        await crm.start()
        await erp.start()
        report = await Reconciler(crm, erp, backend).run(COMMAND_LINE)
        assert report is not None
        return report
    finally:
        await crm.close()
        await erp.close()
        await backend.close()


def render(report: Report, drifts: list[Drift]) -> str:
    scanned = report.scanned
    lines = [
        f"Reconciliation {report.id}, {report.finished_at:%Y-%m-%d %H:%M:%S} UTC: read "
        f"{scanned.get('accounts', 0)} accounts, {scanned.get('wonOpportunities', 0)} won "
        f"opportunities, {scanned.get('erpCustomers', 0)} ERP customers and "
        f"{scanned.get('erpOrders', 0)} ERP orders in {sum(report.reads.values())} upstream reads.",
        f"{len(drifts)} drifts" + (":" if drifts else "."),
    ]
    shown = {drift.kind for drift in drifts}
    lines += [
        f"  {kind.value:<24} {count}"
        for kind, count in report.counts().items()
        if count and kind in shown
    ]
    for drift in drifts:
        fix = drift.fix
        applied = f", {fix.mutation} {json.dumps(fix.input)}" if fix.mutation else ""
        lines += [
            "",
            f"{drift.kind.value} {drift.subject}",
            f"  {drift.message}",
            f"  fix ({fix.action.value}{applied}): {fix.description}",
        ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings(os.environ)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    process = None
    try:
        endpoints_file: Path | None = args.sandbox
        if settings.sandbox and endpoints_file is None:
            from sandbox.process import SandboxProcess

            print("Starting a sandbox to compare...", file=sys.stderr, flush=True)
            process = SandboxProcess(customers=settings.sandbox_customers)
            process.start()
            endpoints_file = process.endpoints_file
        from server import source_configs

        salesforce, erp_config = source_configs(settings, endpoints_file)
        report = asyncio.run(reconcile_once(salesforce, erp_config, settings))
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    except ReconciliationBusy as exc:
        print(f"accord reconcile: {exc}", file=sys.stderr)
        return FAILED
    except SourceError as exc:
        print(f"accord reconcile: {exc.source} could not be read: {exc.message}", file=sys.stderr)
        return FAILED
    except StateError as exc:
        print(f"accord reconcile: the state backend failed: {exc}", file=sys.stderr)
        return FAILED
    finally:
        if process is not None:
            process.stop()
    wanted = set(args.kind or [])
    drifts = [d for d in report.drifts if not wanted or d.kind.value in wanted]
    if args.json:
        data = report.to_json()
        data["drifts"] = [drift.to_json() for drift in drifts]
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(render(report, drifts))
    return DRIFT_FOUND if args.fail_on_drift and drifts else 0
