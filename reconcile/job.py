"""The reconciliation job: sweep both systems, compare, keep the report; on demand or on a
schedule, one run at a time across every replica.

A run holds the lease ``reconciliation`` in the state backend (renewed while it works), so a
second request while one runs is told so (`ReconciliationBusy`) rather than doubling the
upstream load. Every replica runs the schedule: each wakes when the last report is older than
the interval, and whichever takes the lease runs; the others find a fresh report and sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Callable

from reconcile.compare import find_drift
from reconcile.drift import Report
from reconcile.store import ReportStore
from reconcile.sweep import read_systems
from sources.errors import SourceError
from sources.ports import CrmPort, ErpPort
from state.backend import StateBackend
from state.errors import StateError

logger = logging.getLogger("accord.reconcile")

LEASE = "reconciliation"
SCHEDULE = "schedule"
ON_DEMAND = "on demand"
COMMAND_LINE = "command line"


class ReconciliationBusy(Exception):
    """Another run holds the lease."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Reconciler:
    def __init__(
        self,
        crm: CrmPort,
        erp: ErpPort,
        backend: StateBackend,
        *,
        lease_ttl: float = 60.0,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.crm = crm
        self.erp = erp
        self.backend = backend
        self.store = ReportStore(backend)
        self.lease_ttl = lease_ttl
        self.clock = clock
        self.owner = f"reconciler-{uuid.uuid4().hex[:12]}"

    async def run(
        self, trigger: str, requested_by: str | None = None, *, unless_newer: float | None = None
    ) -> Report | None:
        """Run once and keep the report. With ``unless_newer`` (seconds), a report that recent
        is enough: nothing runs and None is returned. Raises `ReconciliationBusy` while another
        run holds the lease, `SourceError` when a system cannot be read whole."""
        if not await self.backend.lease(LEASE, self.owner, self.lease_ttl):
            raise ReconciliationBusy("a reconciliation is running; its report comes shortly")
        heartbeat = asyncio.create_task(self._keep_lease())
        try:
            if unless_newer is not None and await self._fresh(unless_newer):
                return None
            started = self.clock()
            snapshot = await read_systems(self.crm, self.erp)
            report = Report(
                id=f"rec:{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}",
                started_at=started,
                finished_at=self.clock(),
                trigger=trigger,
                requested_by=requested_by,
                scanned=snapshot.scanned(),
                reads=snapshot.reads,
                drifts=find_drift(snapshot),
            )
            await self.store.save(report)
            logger.info(
                "reconciliation %s (%s): %d drifts in %s",
                report.id,
                trigger,
                len(report.drifts),
                ", ".join(f"{n} {kind}" for kind, n in report.scanned.items()),
            )
            return report
        finally:
            heartbeat.cancel()
            with contextlib.suppress(Exception):
                await self.backend.release(LEASE, self.owner)

    async def _fresh(self, seconds: float) -> bool:
        latest = await self.store.latest()
        age = (self.clock() - latest.finished_at).total_seconds() if latest else None
        return age is not None and age < seconds

    async def _keep_lease(self) -> None:
        while True:
            await asyncio.sleep(self.lease_ttl / 3)
            try:
                if not await self.backend.renew(LEASE, self.owner, self.lease_ttl):
                    logger.warning("the reconciliation lease lapsed during a run")
                    return
            except StateError:
                logger.warning("could not renew the reconciliation lease", exc_info=True)

    async def run_forever(self, every: float, *, check: float = 60.0) -> None:
        """Run whenever the last report is ``every`` seconds old (or there is none), looking
        at most every ``check`` seconds; a failed run is logged and tried at the next look."""
        while True:
            try:
                await self.run(SCHEDULE, unless_newer=every)
            except ReconciliationBusy:
                pass
            except SourceError as error:
                logger.warning("scheduled reconciliation failed: %s", error)
            except StateError as error:
                logger.warning("scheduled reconciliation could not use the state: %s", error)
            except Exception:
                logger.exception("scheduled reconciliation failed")
            await asyncio.sleep(await self._until_due(every, check))

    async def _until_due(self, every: float, check: float) -> float:
        try:
            latest = await self.store.latest()
        except StateError:
            return check
        if latest is None:
            return min(check, every)
        due = latest.finished_at + dt.timedelta(seconds=every)
        return max(1.0, min(check, (due - self.clock()).total_seconds()))
