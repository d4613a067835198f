"""Pollers: the changes webhooks miss, found by asking each system what changed since when.

A webhook can be lost (the sender gave up, Accord was down, nobody configured the flow). So
each source is also scanned every ``interval`` seconds for records modified since a durable
*watermark*, and every record found goes to the same ``process`` as webhook changes (the
`Normalizer`), whose snapshots make a change seen by both paths one event. What to scan, and
how, is the adapter's (`sources.ports.ChangeFeed.change_scans`, `sources.changes.ChangeScan`);
this module keeps the watermarks and runs the rounds.

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
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence

from sources.changes import EPOCH, ChangeScan, RecordChange, Watermark
from sources.errors import SourceError
from sources.outage import OutageLog
from sources.ports import ChangeFeed
from state.backend import StateBackend
from state.errors import StateError

logger = logging.getLogger("accord.events.pollers")

DEFAULT_INTERVAL = 2.0
WATERMARK_PREFIX = "events:poll:"
WATERMARK_TTL = 90 * 86400.0

Process = Callable[[RecordChange], Awaitable[object]]

__all__ = ["EPOCH", "Poller", "Process", "Scan", "Watermark", "feed_poller"]


Scan = ChangeScan


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


def feed_poller(
    feed: ChangeFeed,
    backend: StateBackend,
    process: Process,
    *,
    interval: float = DEFAULT_INTERVAL,
    owner: str | None = None,
) -> Poller:
    """A poller of the scans a system's change feed offers (``feed``: an adapter)."""
    return Poller(
        feed.source, feed.change_scans(), backend, process, interval=interval, owner=owner
    )
