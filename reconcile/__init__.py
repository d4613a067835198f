"""Reconciliation: where the CRM and the ERP disagree, and what ends each disagreement.

A concern of its own, beside the read path and the write path: it reads both systems whole
(through the ports' sweeps, `sources.ports`), compares them (accounts and ERP customers,
their links, credit mirrors, names and billing streets; won opportunities and ERP sales
orders, their amounts) and keeps the report in the shared state (`state`), so that every
replica and the ops console see the same one. It writes nothing upstream: each drift names
the fix, and the fixes that Accord can apply are mutations (`mutations.link_account`,
`mutations.mirror_credit_status`, bookOrder).

Layers: `reconcile` sits with `resolvers` and `mutations` (it imports `sources`, `state`,
`events` for the credit mirror's values, and `domain`); `schema` exposes its report to the ops
role, and the composition root (`server`, the ``accord reconcile`` command) runs it, on demand
and on a schedule.

    drift.py     what a run finds: drift kinds, fixes, the report
    sweep.py     reading both systems whole, in the fewest upstream calls
    compare.py   the comparison itself (pure)
    store.py     reports kept in the state backend
    job.py       one run at a time across replicas; the schedule
"""

from __future__ import annotations

from reconcile.drift import DRIFT_MEANINGS, Drift, DriftKind, Fix, FixAction, Report
from reconcile.job import COMMAND_LINE, ON_DEMAND, SCHEDULE, Reconciler, ReconciliationBusy

__all__ = [
    "COMMAND_LINE",
    "DRIFT_MEANINGS",
    "ON_DEMAND",
    "SCHEDULE",
    "Drift",
    "DriftKind",
    "Fix",
    "FixAction",
    "Reconciler",
    "ReconciliationBusy",
    "Report",
]
