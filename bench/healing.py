"""Healing: after a NetSuite outage, how soon failures stop, and do bookings finish by themselves.

Accord (one worker, read cache off so that every read reaches NetSuite) is driven with two
loads at once: the Lightning credit query over many accounts, by a few connections in a
closed loop, and bookings of fresh Closed Won deals (`sandbox.deals`), four a second, each
on a customer both systems know (so it books straight through). A few seconds in, every
NetSuite call is made to fail (the emulator answers 503) for ten seconds, then NetSuite is
well again. No one retries anything by hand.

- *failures_stop_after_s*: from the moment NetSuite is well again to the last read that
  still failed (a credit field null with a SOURCE_* error); target at most 15 s. The
  circuit breaker is what decides it: it must try NetSuite again soon after the fault clears.
- *healed_bookings_pct*: of the bookings started while NetSuite was down, the share that
  reached COMPLETED by themselves (the workflow's own retries, within its retry window),
  read through ``workflow(id:)`` until each rests; target at least 99 %.

An answer that is an internal error (HTTP 5xx, INTERNAL_SERVER_ERROR) counts as an error of
the run; the SOURCE_* errors of reads during the outage are what the scenario measures.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.harness import AccordProcess
from bench.queries import CREDIT_QUERY, HEADERS
from bench.suite import Bench, Outcome, at_least, at_most, figure
from sandbox.clock import parse_instant
from sandbox.deals import Deals
from sandbox.world import build_world

BOOK = """mutation($i: BookOrderInput!) { bookOrder(input: $i) {
  errors { code } workflow { id status } } }"""
STATUS = "query($id: ID!) { workflow(id: $id) { status } }"
RESTING = {"COMPLETED", "EXCEPTION", "CANCELLED", "PENDING_APPROVAL"}
READERS = 4
BOOKINGS_PER_SECOND = 4.0
TARGET_STOP_S = 15.0
TARGET_HEALED_PCT = 99.0


@dataclass
class Timeline:
    """What the loads saw, in seconds since the load started."""

    read_failures: list[float] = field(default_factory=list)
    reads: int = 0
    bookings: list[tuple[float, str | None, str]] = field(default_factory=list)  # (t, id, status)
    errors: list[str] = field(default_factory=list)


def _internal(body: Any, status: int) -> str | None:
    """Why an answer is an internal error (not an outage the scenario provokes), if it is."""
    if status >= 500:
        return f"HTTP {status}"
    for error in (body or {}).get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code == "INTERNAL_SERVER_ERROR":
            return str(error.get("message"))
    return None


async def _reader(
    client: httpx.AsyncClient, ids: list[str], start: float, stop: float, seen: Timeline
) -> None:
    n = 0
    while time.monotonic() < stop:
        account = ids[n % len(ids)]
        n += 1
        try:
            response = await client.post(
                "/graphql",
                json={"query": CREDIT_QUERY, "variables": {"id": account}},
                headers=HEADERS,  # credit is confidential: a finance caller asks
            )
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            seen.errors.append(f"read: {type(exc).__name__}: {exc}")
            continue
        seen.reads += 1
        problem = _internal(body, response.status_code)
        if problem:
            seen.errors.append(f"read: {problem}")
        elif body.get("errors"):
            codes = {(error.get("extensions") or {}).get("code") for error in body["errors"]}
            if all(str(code).startswith("SOURCE_") for code in codes):
                seen.read_failures.append(time.monotonic() - start)
            else:  # not the outage: a read the scenario cannot count
                seen.errors.append(f"read: {sorted(map(str, codes))}")


async def _book(client: httpx.AsyncClient, opportunity: str, start: float, seen: Timeline) -> None:
    at = time.monotonic() - start
    variables = {"i": {"idempotencyKey": f"heal-{uuid.uuid4()}", "opportunityId": opportunity}}
    try:
        response = await client.post(
            "/graphql",
            json={"query": BOOK, "variables": variables},
            headers={"Authorization": "Bearer demo-sales"},
        )
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        seen.errors.append(f"book: {type(exc).__name__}: {exc}")
        return
    problem = _internal(body, response.status_code)
    if problem:
        seen.errors.append(f"book: {problem}")
        return
    payload = ((body.get("data") or {}).get("bookOrder")) or {}
    workflow = payload.get("workflow") or {}
    seen.bookings.append((at, workflow.get("id"), str(workflow.get("status"))))


async def _settle(
    client: httpx.AsyncClient, bookings: list[tuple[float, str | None, str]], wait: float
) -> dict[str, str]:
    """Each booking's workflow status once it rests (or as it is at the deadline)."""
    final = {wid: status for _, wid, status in bookings if wid}
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        moving = [wid for wid, status in final.items() if status not in RESTING]
        if not moving:
            break
        for wid in moving:
            response = await client.post(
                "/graphql",
                json={"query": STATUS, "variables": {"id": wid}},
                headers={"Authorization": "Bearer demo-ops"},
            )
            found = ((response.json().get("data") or {}).get("workflow")) or {}
            final[wid] = str(found.get("status"))
        await asyncio.sleep(0.5)
    return final


async def _drive(
    accord: AccordProcess,
    control: Any,
    ids: list[str],
    opportunities: list[str],
    *,
    before: float,
    outage: float,
    after: float,
    settle: float,
) -> tuple[Timeline, dict[str, str]]:
    seen = Timeline()
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    async with httpx.AsyncClient(base_url=accord.url, timeout=60, limits=limits) as client:
        start = time.monotonic()
        stop = start + before + outage + after
        readers = [
            asyncio.create_task(_reader(client, ids, start, stop, seen)) for _ in range(READERS)
        ]
        bookings: list[asyncio.Task[None]] = []
        faulted = False
        for opportunity in opportunities:
            now = time.monotonic() - start
            if now >= before + outage + after:
                break
            if not faulted and now >= before:
                await asyncio.to_thread(control.fault, pattern="*", outage=True)
                faulted = True
            if faulted and now >= before + outage:
                await asyncio.to_thread(control.reset)
            bookings.append(asyncio.create_task(_book(client, opportunity, start, seen)))
            await asyncio.sleep(1 / BOOKINGS_PER_SECOND)
        await asyncio.to_thread(control.reset)
        await asyncio.gather(*readers, *bookings)
        final = await _settle(client, seen.bookings, settle)
    return seen, final


class _NetSuiteOnly:
    """The fault switch of the NetSuite emulator alone (Salesforce stays well)."""

    def __init__(self, control: Any) -> None:
        self.client = control.clients["netsuite"]

    def fault(self, **fault: Any) -> None:
        self.client.post("/__sandbox__/faults", json=fault).raise_for_status()

    def reset(self) -> None:
        self.client.post("/__sandbox__/faults", json={"clear": True}).raise_for_status()


def run(bench: Bench) -> Outcome:
    box = bench.sandbox()
    info = box.endpoints.sandbox
    world = build_world(info.seed, info.customers, now=parse_instant(info.now))
    before, outage, after = bench.pick(4.0, 2.0), bench.pick(10.0, 3.0), bench.pick(20.0, 6.0)
    settle = bench.pick(90.0, 40.0)
    deals = Deals(box.upstream, world)
    count = int((before + outage + after) * BOOKINGS_PER_SECOND) + 4
    opportunities = [deals.on_existing_customer().opportunity_id for _ in range(count)]
    ids = box.upstream.salesforce_ids(200)
    env = {"ACCORD_CACHE": "off", "ACCORD_SOURCE_TIMEOUT": "2"}
    with AccordProcess(box.endpoints_file, env) as accord:
        seen, final = asyncio.run(
            _drive(
                accord,
                _NetSuiteOnly(box.control),
                ids,
                opportunities,
                before=before,
                outage=outage,
                after=after,
                settle=settle,
            )
        )
    cleared = before + outage
    late = [t - cleared for t in seen.read_failures if t >= cleared]
    stop_after = max(late, default=0.0)
    during = [wid for t, wid, _ in seen.bookings if before <= t < cleared and wid]
    healed = [wid for wid in during if final.get(wid) == "COMPLETED"]
    healed_pct = 100.0 * len(healed) / len(during) if during else 0.0
    statuses: dict[str, int] = {}
    for wid in during:
        statuses[final.get(wid, "?")] = statuses.get(final.get(wid, "?"), 0) + 1
    reason = None if during else "no booking was started during the outage"
    return Outcome(
        scenario="healing",
        line=(
            f"healing    after a {outage:.0f} s NetSuite outage, failures stop "
            f"{stop_after:.1f} s after it clears (target <= {TARGET_STOP_S:.0f} s); "
            f"{len(healed)}/{len(during)} bookings made during it completed by themselves "
            f"({healed_pct:.1f} %, target >= {TARGET_HEALED_PCT:.0f} %); "
            f"{len(seen.errors)} errors"
        ),
        figures={
            "failures_stop_after_s": figure(
                stop_after, "s", "the fault clearing", at_most(stop_after, TARGET_STOP_S)
            ),
            "healed_bookings_pct": figure(
                healed_pct,
                "percent",
                "bookings started during the outage",
                at_least(healed_pct, TARGET_HEALED_PCT),
            ),
        },
        errors=len(seen.errors),
        available=bool(during),
        reason=reason,
        details={
            "outage_s": outage,
            "reads": seen.reads,
            "read_failures": len(seen.read_failures),
            "read_failures_after_clear": len(late),
            "bookings": len(seen.bookings),
            "bookings_during_outage": len(during),
            "statuses_of_those": statuses,
            "error_samples": seen.errors[:5],
        },
    )
