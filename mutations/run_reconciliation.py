"""runReconciliation: ops compare the CRM and the ERP now, instead of at the next scheduled run.

The run reads both systems whole (`reconcile`), so it answers once the report is kept; while
another run is under way it is refused with RECONCILIATION_RUNNING, an answer not kept for the
idempotency key (the same request may run once that one is done).
"""

from __future__ import annotations

from domain.caller import Caller
from mutations.common import (
    Outcome,
    WriteServices,
    audit_write,
    idempotent,
    upstream_problem,
)
from mutations.errors import COMMON, ErrorCode, Problem, codes
from mutations.results import ReportResult
from reconcile import ON_DEMAND, Reconciler, ReconciliationBusy
from sources.errors import SourceError

CODES = codes(COMMON, ErrorCode.RECONCILIATION_RUNNING)
"""The codes runReconciliation answers with."""


async def run_reconciliation(
    services: WriteServices, reconciler: Reconciler, caller: Caller, key: str
) -> Outcome[ReportResult]:
    async def run(upstream: str) -> Outcome[ReportResult]:
        try:
            report = await reconciler.run(ON_DEMAND, caller.name)
        except ReconciliationBusy as busy:
            return Outcome(
                problems=[Problem(ErrorCode.RECONCILIATION_RUNNING, str(busy))], transient=True
            )
        except SourceError as error:
            return Outcome(problems=[upstream_problem(error)], transient=True)
        assert report is not None
        await audit_write(
            services,
            caller,
            action="runReconciliation",
            outcome="applied",
            idempotency_key=key,
            after={"report": report.id, "drifts": len(report.drifts)},
        )
        return Outcome(ReportResult(report.id))

    return await idempotent(services, "runReconciliation", caller, key, {}, run)
