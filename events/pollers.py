"""Pollers: the changes webhooks miss, found by asking each system what changed since when.

A webhook can be lost (the sender gave up, Accord was down, nobody configured the flow). So
each source is also scanned every ``interval`` seconds for records modified since a durable
*watermark*, and every record found goes to the same ``process`` as webhook changes (the
`Normalizer`), whose snapshots make a change seen by both paths one event.

- Salesforce, per object: ``SELECT Id, CreatedDate, SystemModstamp FROM Account WHERE
  SystemModstamp >= <watermark> ORDER BY SystemModstamp, Id``.
- NetSuite, per table: ``SELECT id, TO_CHAR(datecreated, 'YYYY-MM-DD HH24:MI:SS') AS created,
  TO_CHAR(lastmodifieddate, ...) AS modified FROM customer WHERE lastmodifieddate >=
  TO_TIMESTAMP('<watermark>', 'YYYY-MM-DD HH24:MI:SS') ORDER BY lastmodifieddate, id``; the
  ``transaction`` scan adds ``recordtype`` and keeps sales orders, invoices and payments.
  SuiteQL's default rendering of a date-time is the date alone, useless as a watermark, hence
  ``TO_CHAR``; times are read in ``timezone`` (the account's; UTC in the sandbox).

The watermark is the newest modification time seen, kept per scan in the state backend
(``events:poll:<source>:<scan>``), and compared inclusively: modification times are whole
seconds in these APIs, so a record modified later within the second of the watermark is still
found; the records of that second are fed again each round and the snapshots discard them. A
first run starts at the newest record the scan finds and remembers the records it found there
as history (the watermark's ``skip``), so history is not replayed as news while a record
changed in that same second after the start still is. A round that fails part-way keeps the
watermark at the record that failed, which the next round retries. A watermark is never later
than the source's own present (read from the ``Date`` of its answers, `sources.clock`): a
record stamped in the source's future (clock skew, a bad import) would otherwise become the
watermark and hide every change made before that moment; clamped, the poller reads those
records again each round, their snapshots discard them, and the changes made meanwhile are
found. Records deleted between
two rounds are not seen (webhooks report deletions), and a record changed twice between rounds
is one change: the pollers report states, not every step.

Several replicas may run pollers: a lease (``StateBackend.lease``, ``events:poll:<source>``)
lets one of them scan a source at a time, and another takes over when it stops renewing.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from events.normalize import NETSUITE, SALESFORCE, Change, ChangeType
from sources.clock import SourceClock
from sources.errors import SourceError
from sources.outage import OutageLog
from state.backend import StateBackend
from state.errors import StateError

logger = logging.getLogger("accord.events.pollers")

DEFAULT_INTERVAL = 2.0
WATERMARK_PREFIX = "events:poll:"
WATERMARK_TTL = 90 * 86400.0
SUITEQL_FORMAT = "YYYY-MM-DD HH24:MI:SS"
_PY_FORMAT = "%Y-%m-%d %H:%M:%S"

Process = Callable[[Change], Awaitable[object]]


class SoqlClient(Protocol):
    """What the Salesforce poller needs: `sources.salesforce.SalesforceCrm` has it."""

    clock: SourceClock

    async def query(self, text: str) -> list[dict[str, Any]]: ...


class SuiteQlClient(Protocol):
    """What the NetSuite poller needs: `sources.netsuite_http.NetSuiteClient` has it."""

    clock: SourceClock

    async def suiteql(self, text: str) -> list[dict[str, Any]]: ...

    async def suiteql_page(
        self, text: str, *, limit: int, offset: int = 0
    ) -> tuple[list[dict[str, Any]], bool, int | None]: ...


@dataclass(frozen=True)
class Watermark:
    """Records modified at or after ``at`` are new, except those in ``skip``.

    ``skip`` maps record ids to the modification time (as the scan renders it) at which they
    are known already: the records the first run found at its starting point.
    """

    at: dt.datetime
    skip: Mapping[str, str] = field(default_factory=dict, hash=False)

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.astimezone(dt.UTC).isoformat(), "skip": dict(self.skip)}

    @classmethod
    def from_json(cls, value: Any) -> Watermark | None:
        try:
            at = dt.datetime.fromisoformat(str(value["at"]))
            skip = {str(k): str(v) for k, v in dict(value.get("skip") or {}).items()}
            return cls(at.astimezone(dt.UTC), skip)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    def known(self, change: Change) -> bool:
        return self.skip.get(change.record_id) == change.modified_at.isoformat()

    def no_later_than(self, present: dt.datetime | None) -> Watermark:
        """This watermark, moved back to ``present`` when it lies after it (``skip`` kept)."""
        if present is None or self.at <= present:
            return self
        return Watermark(present.astimezone(dt.UTC), self.skip)

    def moved_to(self, at: dt.datetime) -> Watermark:
        """The watermark at ``at``, still knowing the records of ``skip`` not before it."""
        return Watermark(
            at,
            {
                record: stamp
                for record, stamp in self.skip.items()
                if dt.datetime.fromisoformat(stamp) >= at
            },
        )


EPOCH = Watermark(dt.datetime(1970, 1, 1, tzinfo=dt.UTC))


class Scan(Protocol):
    """One query over one table: what changed since a watermark."""

    name: str

    def present(self) -> dt.datetime | None:
        """The source's own time now, when known (from its last answer)."""

    async def start(self) -> Watermark:
        """Where a first run begins: the newest records there are now, as known ones."""

    async def since(self, mark: Watermark) -> list[Change]:
        """The records modified since ``mark``, oldest first."""


# --------------------------------------------------------------------------- Salesforce


def _soql_datetime(moment: dt.datetime) -> str:
    utc = moment.astimezone(dt.UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond // 1000:03d}"
    return text + "Z"


def _sf_instant(value: Any) -> dt.datetime:
    text = str(value).replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":  # +0000 -> +00:00
        text = text[:-2] + ":" + text[-2:]
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


class SoqlScan:
    """Records of one sObject by ``SystemModstamp``."""

    def __init__(self, client: SoqlClient, sobject: str) -> None:
        self.client = client
        self.sobject = sobject
        self.name = sobject

    def present(self) -> dt.datetime | None:
        return self.client.clock.now()

    async def start(self) -> Watermark:
        newest = await self.client.query(
            f"SELECT SystemModstamp FROM {self.sobject} ORDER BY SystemModstamp DESC LIMIT 1"
        )
        if not newest:
            return EPOCH
        return _known(await self.since(Watermark(_sf_instant(newest[0]["SystemModstamp"]))))

    async def since(self, mark: Watermark) -> list[Change]:
        rows = await self.client.query(
            f"SELECT Id, CreatedDate, SystemModstamp FROM {self.sobject} "
            f"WHERE SystemModstamp >= {_soql_datetime(mark.at)} ORDER BY SystemModstamp, Id"
        )
        changes = []
        for row in rows:
            modified = _sf_instant(row["SystemModstamp"])
            created = row.get("CreatedDate")
            kind: ChangeType = (
                "create" if created and _sf_instant(created) == modified else "update"
            )
            changes.append(Change(SALESFORCE, self.sobject, str(row["Id"]), kind, modified))
        return changes


def _known(changes: list[Change]) -> Watermark:
    """The watermark of a first run: at the newest of ``changes``, all of them known."""
    at = max(change.modified_at for change in changes)
    return Watermark(at, {change.record_id: change.modified_at.isoformat() for change in changes})


# --------------------------------------------------------------------------- NetSuite


class SuiteQlScan:
    """Rows of one SuiteQL table by ``lastmodifieddate``, to the second."""

    def __init__(
        self,
        client: SuiteQlClient,
        name: str,
        *,
        table: str,
        created: str,
        record_type: str | None,
        where: str = "",
        timezone: dt.tzinfo = dt.UTC,
    ) -> None:
        self.client = client
        self.name = name
        self.table = table
        self.created = created
        self.record_type = record_type  # None: read from the row's recordtype column
        self.where = where
        self.timezone = timezone

    def present(self) -> dt.datetime | None:
        return self.client.clock.now()

    def _instant(self, text: Any) -> dt.datetime:
        naive = dt.datetime.strptime(str(text), _PY_FORMAT)
        return naive.replace(tzinfo=self.timezone).astimezone(dt.UTC)

    def _literal(self, moment: dt.datetime) -> str:
        local = moment.astimezone(self.timezone).replace(microsecond=0)
        return f"TO_TIMESTAMP('{local.strftime(_PY_FORMAT)}', '{SUITEQL_FORMAT}')"

    def _conditions(self, *extra: str) -> str:
        parts = [part for part in (self.where, *extra) if part]
        return f" WHERE {' AND '.join(parts)}" if parts else ""

    async def start(self) -> Watermark:
        rows, _, _ = await self.client.suiteql_page(
            f"SELECT TO_CHAR(lastmodifieddate, '{SUITEQL_FORMAT}') AS modified "
            f"FROM {self.table}{self._conditions()} ORDER BY lastmodifieddate DESC",
            limit=1,
        )
        if not rows or not rows[0].get("modified"):
            return EPOCH
        return _known(await self.since(Watermark(self._instant(rows[0]["modified"]))))

    async def since(self, mark: Watermark) -> list[Change]:
        at = mark.at.replace(microsecond=0)
        kind_column = ", recordtype" if self.record_type is None else ""
        rows = await self.client.suiteql(
            f"SELECT id{kind_column}, TO_CHAR({self.created}, '{SUITEQL_FORMAT}') AS created, "
            f"TO_CHAR(lastmodifieddate, '{SUITEQL_FORMAT}') AS modified FROM {self.table}"
            f"{self._conditions(f'lastmodifieddate >= {self._literal(at)}')} "
            "ORDER BY lastmodifieddate, id"
        )
        changes = []
        for row in rows:
            modified = self._instant(row["modified"])
            kind: ChangeType = "create" if row.get("created") == row["modified"] else "update"
            record_type = self.record_type or str(row.get("recordtype", "")).lower()
            changes.append(Change(NETSUITE, record_type, str(row["id"]), kind, modified))
        return changes


# --------------------------------------------------------------------------- the loop


class Poller:
    """Scans one source's tables in turn, under the source's lease, every ``interval``."""

    def __init__(
        self,
        source: str,
        scans: Sequence[Scan],
        backend: StateBackend,
        process: Process,
        *,
        interval: float = DEFAULT_INTERVAL,
        owner: str | None = None,
        lease_ttl: float | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.source = source
        self.scans = list(scans)
        self.backend = backend
        self.process = process
        self.interval = interval
        self.owner = owner or f"poller-{uuid.uuid4().hex[:12]}"
        self.lease_ttl = lease_ttl or max(10.0, 5 * interval)
        self.lease_name = f"{WATERMARK_PREFIX}{source}"

    def _key(self, scan: Scan) -> str:
        return f"{WATERMARK_PREFIX}{self.source}:{scan.name}"

    async def watermark(self, scan: Scan) -> Watermark | None:
        return Watermark.from_json(await self.backend.get(self._key(scan)))

    async def _advance(self, scan: Scan, mark: Watermark) -> None:
        """Store ``mark`` (never later than the source's present) unless another poller moved
        the watermark past it meanwhile."""
        mark = mark.no_later_than(scan.present())
        key = self._key(scan)
        for _ in range(5):
            current_raw = await self.backend.get(key)
            current = Watermark.from_json(current_raw)
            if current is not None and current.no_later_than(scan.present()).at > mark.at:
                return
            if await self.backend.compare_and_set(
                key, current_raw, mark.to_json(), ttl=WATERMARK_TTL
            ):
                return

    async def poll_once(self) -> int | None:
        """One round over every scan; the number of changes fed, None without the lease."""
        if not await self.backend.lease(self.lease_name, self.owner, self.lease_ttl):
            return None
        fed = 0
        for scan in self.scans:
            stored = await self.watermark(scan)
            if stored is None:
                await self._advance(scan, await scan.start())
                continue
            mark = stored.no_later_than(scan.present())
            newest = mark
            try:
                for change in await scan.since(mark):
                    if mark.known(change):
                        continue
                    await self.process(change)
                    fed += 1
                    if change.modified_at > newest.at:
                        newest = newest.moved_to(change.modified_at)
            finally:
                if newest != stored:
                    await self._advance(scan, newest)
        return fed

    async def run(self) -> None:
        """Poll until cancelled; a failed round is retried at the next interval. A source or
        the state backend being down is logged when it starts and when it ends, not at every
        round; anything else (a bug) with its traceback."""
        outage = OutageLog(logger, f"{self.source} polling")
        try:
            while True:
                try:
                    await self.poll_once()
                except (SourceError, StateError) as exc:
                    outage.failed(exc)
                except Exception:
                    logger.exception(
                        "%s poll failed; retrying in %.1fs", self.source, self.interval
                    )
                else:
                    outage.succeeded()
                await asyncio.sleep(self.interval)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.backend.release(self.lease_name, self.owner))


def salesforce_poller(
    client: SoqlClient,
    backend: StateBackend,
    process: Process,
    *,
    objects: Sequence[str] = ("Account", "Opportunity", "Order"),
    interval: float = DEFAULT_INTERVAL,
    owner: str | None = None,
) -> Poller:
    """A poller of the Salesforce objects Accord follows (``client``: a `SalesforceCrm`)."""
    scans = [SoqlScan(client, sobject) for sobject in objects]
    return Poller(SALESFORCE, scans, backend, process, interval=interval, owner=owner)


def netsuite_poller(
    client: SuiteQlClient,
    backend: StateBackend,
    process: Process,
    *,
    interval: float = DEFAULT_INTERVAL,
    timezone: dt.tzinfo = dt.UTC,
    owner: str | None = None,
) -> Poller:
    """A poller of NetSuite customers and transactions (``client``: a `NetSuiteClient`)."""
    scans: list[Scan] = [
        SuiteQlScan(
            client,
            "customer",
            table="customer",
            created="datecreated",
            record_type="customer",
            timezone=timezone,
        ),
        SuiteQlScan(
            client,
            "transaction",
            table="transaction",
            created="createddate",
            record_type=None,
            where="type IN ('SalesOrd', 'CustInvc', 'CustPymt')",
            timezone=timezone,
        ),
    ]
    return Poller(NETSUITE, scans, backend, process, interval=interval, owner=owner)
