"""Webhook intake: ``POST /events/salesforce`` and ``POST /events/netsuite``.

Each request passes, in this order, before anything is processed:

==========================================  ======  =======================================
check                                       status  why
==========================================  ======  =======================================
body at most ``max_body`` bytes (1 MB)      413     read no further than the limit
``X-Accord-Signature`` valid (`signing`)    401     unsigned, wrong secret, tampered, stale
JSON of the source's shape                  400     malformed or not a change notification
the event id (in the signed body) matches   400     the header cannot rebind a signed body
  ``X-Accord-Event-Id`` when both are given
event id not seen before                    409     a replay, or a retry of a delivered one
event id not being processed right now      503     a retry racing the first delivery
the state backend answers                   503     replay protection cannot be checked
==========================================  ======  =======================================

Refusals answer ``{"error": <code>, "message": <text>}`` and publish nothing. Then each
`Change` the notification names goes to ``process`` (the normaliser's `Normalizer.process`),
awaited before answering 202 ``{"accepted": <event id>, "changes": N}``. Awaiting keeps the
sender's retry as the delivery guarantee: if processing fails (a source is down, or the
state backend), the event id is forgotten again and the answer is 503 ``PROCESSING_FAILED``
(``STATE_UNAVAILABLE`` for the state backend) with ``Retry-After``, so the sender retries
later, and a crash mid-way loses nothing the sender will not resend. It costs the sender
the time of the normaliser's reads (a few upstream round trips, tens of milliseconds), well
inside a second, which is the latency the events promise; ``process`` may enqueue instead
when a deployment wants an immediate 202.

The event id is where replay protection binds: Salesforce-shaped bodies carry it as
``data.event.EventUuid``, NetSuite-shaped ones as ``id``. Ids seen are kept in the state
backend (``events:intake:seen:<source>:<id>``) for ``replay_ttl`` seconds, longer than the
signature's tolerance window, so every replay inside the window is caught, across replicas.
While a delivery is processed its id is only *claimed* (for ``processing_ttl`` seconds): a
retry arriving meanwhile (the sender gave up waiting) is answered 503 ``IN_PROGRESS`` with
``Retry-After``, not 409, because senders take a 409 for "delivered" and the processing may
still fail. The id becomes *seen* once processing succeeded; a replica that dies mid-way
leaves a claim that expires, after which the sender's retry is taken.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from domain import sfid
from events.normalize import NETSUITE, SALESFORCE, Change, ChangeType
from events.signing import (
    DEFAULT_TOLERANCE,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    Secrets,
    SignatureError,
    signature_header,
    verify,
)
from sources.errors import SourceError
from sources.outage import OutageLog
from state.backend import StateBackend
from state.errors import StateError

logger = logging.getLogger("accord.events.intake")

MAX_BODY = 1_000_000
REPLAY_TTL = 86400.0
PROCESSING_TTL = 60.0
SEEN_PREFIX = "events:intake:seen:"
SEEN = "seen"
MAX_EVENT_ID = 128
RETRY_AFTER = 1  # seconds a sender waits before a retry that should get through

Process = Callable[[Change], Awaitable[object]]

_CDC_TYPES: dict[str, ChangeType | None] = {
    "CREATE": "create",
    "UPDATE": "update",
    "DELETE": "delete",
    "UNDELETE": "update",  # the record is back: read it as it is now
    "GAP_CREATE": "create",
    "GAP_UPDATE": "update",
    "GAP_DELETE": "delete",
    "GAP_UNDELETE": "update",
    "GAP_OVERFLOW": None,  # too many changes to describe: the poller catches up
}
_NS_TYPES: dict[str, ChangeType] = {
    "create": "create",
    "edit": "update",
    "xedit": "update",  # inline edit
    "delete": "delete",
}


class MalformedNotification(ValueError):
    """The body is JSON but not a change notification of the expected shape."""


# --------------------------------------------------------------------------- shapes


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedNotification(f"{where} must be a JSON object")
    return value


def _text(value: Any, where: str, *, limit: int = 255) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise MalformedNotification(f"{where} must be a non-empty string")
    return value


def _event_id(value: Any, where: str) -> str:
    text = _text(value, where, limit=MAX_EVENT_ID)
    if not text.isascii() or not text.isprintable():
        raise MalformedNotification(f"{where} must be printable ASCII")
    return text


def _names(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise MalformedNotification(f"{where} must be a list of strings")
    return tuple(value)


def parse_salesforce(body: Any) -> tuple[str, list[Change]]:
    """(event id, changes) of a Change Data Capture event; `MalformedNotification` if not one."""
    data = _object(_object(body, "the body").get("data"), "data")
    payload = _object(data.get("payload"), "data.payload")
    header = _object(payload.get("ChangeEventHeader"), "data.payload.ChangeEventHeader")
    event = _object(data.get("event"), "data.event")
    identifier = _event_id(event.get("EventUuid"), "data.event.EventUuid")
    entity = _text(header.get("entityName"), "ChangeEventHeader.entityName", limit=80)
    if not entity.replace("_", "").isalnum():
        raise MalformedNotification("ChangeEventHeader.entityName is not an sObject name")
    raw_type = header.get("changeType")
    if not isinstance(raw_type, str) or raw_type not in _CDC_TYPES:
        raise MalformedNotification(
            "ChangeEventHeader.changeType must be one of " + ", ".join(_CDC_TYPES)
        )
    stamp = header.get("commitTimestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, int) or not 0 <= stamp < 2**45:
        raise MalformedNotification("ChangeEventHeader.commitTimestamp must be epoch milliseconds")
    changed = _names(header.get("changedFields"), "ChangeEventHeader.changedFields")
    change_type = _CDC_TYPES[raw_type]
    record_ids = header.get("recordIds")
    if change_type is None:
        return identifier, []
    if not isinstance(record_ids, list) or not record_ids or len(record_ids) > 1000:
        raise MalformedNotification("ChangeEventHeader.recordIds must list the records")
    modified = dt.datetime.fromtimestamp(stamp / 1000, dt.UTC)
    changes: list[Change] = []
    for raw in record_ids:
        try:
            record_id = sfid.to18(raw) if isinstance(raw, str) else None
        except ValueError:
            record_id = None
        if record_id is None:
            raise MalformedNotification(f"{str(raw)[:40]!r} is not a Salesforce record id")
        changes.append(Change(SALESFORCE, entity, record_id, change_type, modified, changed))
    return identifier, changes


def _instant(value: Any, where: str) -> dt.datetime:
    text = _text(value, where, limit=40)
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedNotification(f"{where} must be an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise MalformedNotification(f"{where} must carry a time zone (Z)")
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:  # 9999-12-31T23:59:59-01:00 is past the last representable instant
        raise MalformedNotification(f"{where} is out of range") from None


def parse_netsuite(body: Any) -> tuple[str, list[Change]]:
    """(event id, changes) of a record change notification; `MalformedNotification` if not one."""
    notice = _object(body, "the body")
    identifier = _event_id(notice.get("id"), "id")
    record_type = _text(notice.get("recordType"), "recordType", limit=60)
    if not record_type.isalnum():
        raise MalformedNotification("recordType is not a record type name")
    raw_id = notice.get("recordId")
    record_id = (
        str(raw_id) if isinstance(raw_id, int | str) and not isinstance(raw_id, bool) else ""
    )
    if not record_id.isascii() or not record_id.isdigit() or len(record_id) > 18:
        raise MalformedNotification("recordId must be an internal id (digits)")
    event_type = notice.get("eventType")
    if not isinstance(event_type, str) or event_type not in _NS_TYPES:
        raise MalformedNotification("eventType must be one of " + ", ".join(_NS_TYPES))
    stamp = notice.get("lastModified", notice.get("timestamp"))
    modified = _instant(stamp, "lastModified")
    fields = notice.get("fields")
    old = notice.get("oldFields")
    if fields is not None:
        _object(fields, "fields")
    if old is not None:
        _object(old, "oldFields")
    change = Change(
        NETSUITE,
        record_type.lower(),
        str(int(record_id)),
        _NS_TYPES[event_type],
        modified,
        tuple(fields or ()),
        dict(old or {}),
    )
    return identifier, [change]


PARSERS: dict[str, Callable[[Any], tuple[str, list[Change]]]] = {
    SALESFORCE: parse_salesforce,
    NETSUITE: parse_netsuite,
}


# --------------------------------------------------------------------------- the endpoint


def _refuse(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class IntakeEndpoint:
    """One source's webhook endpoint: checks, replay protection, then processing."""

    def __init__(
        self,
        source: str,
        secrets: Secrets,
        backend: StateBackend,
        process: Process,
        *,
        tolerance: float = DEFAULT_TOLERANCE,
        replay_ttl: float = REPLAY_TTL,
        max_body: int = MAX_BODY,
        processing_ttl: float = PROCESSING_TTL,
    ) -> None:
        if replay_ttl < 2 * tolerance:
            raise ValueError("replay_ttl must cover the signature window both ways")
        if processing_ttl <= 0:
            raise ValueError("processing_ttl must be positive")
        signature_header(secrets, b"")  # an empty secret is refused now, not at each request
        self.source = source
        self.secrets = secrets
        self.backend = backend
        self.process = process
        self.tolerance = tolerance
        self.replay_ttl = replay_ttl
        self.max_body = max_body
        self.processing_ttl = processing_ttl
        self.parse = PARSERS[source]
        self._outage = OutageLog(logger, f"{source} webhook processing")

    def _failed(self, identifier: str, error: Exception) -> str:
        """Log a failed processing (an outage once, a bug with its traceback); its code."""
        if isinstance(error, StateError):
            self._outage.failed(error)
            return "STATE_UNAVAILABLE"
        if isinstance(error, SourceError):
            self._outage.failed(error)
            return "PROCESSING_FAILED"
        logger.exception(
            "processing %s event %s failed; the sender retries", self.source, identifier
        )
        return "PROCESSING_FAILED"

    async def handle(self, request: Request) -> Response:
        body = await _read_limited(request, self.max_body)
        if body is None:
            return _refuse(413, "BODY_TOO_LARGE", f"bodies are limited to {self.max_body} bytes")
        try:
            verify(
                request.headers.get(SIGNATURE_HEADER), body, self.secrets, tolerance=self.tolerance
            )
        except SignatureError as exc:
            logger.warning("refused %s webhook: %s", self.source, exc.message)
            return _refuse(401, f"SIGNATURE_{exc.reason.upper()}", exc.message)
        try:
            identifier, changes = self.parse(json.loads(body))
        except (ValueError, RecursionError) as exc:
            message = str(exc) if isinstance(exc, MalformedNotification) else "body is not JSON"
            return _refuse(400, "MALFORMED", message)
        claimed = request.headers.get(EVENT_ID_HEADER)
        if claimed is not None and claimed != identifier:
            return _refuse(400, "EVENT_ID_MISMATCH", f"{EVENT_ID_HEADER} differs from the body's")
        seen = f"{SEEN_PREFIX}{self.source}:{identifier}"
        claim = f"processing:{uuid.uuid4().hex}"
        try:
            fresh = await self.backend.set(
                seen, claim, ttl=self.processing_ttl, only_if_absent=True
            )
            held = None if fresh else await self.backend.get(seen)
        except StateError as exc:
            # Replay protection cannot be checked: nothing is processed, the sender retries.
            self._outage.failed(exc)
            return _retry_later("STATE_UNAVAILABLE", "Accord's shared state is unavailable; retry")
        if not fresh:
            if isinstance(held, str) and held.startswith("processing:"):
                return _retry_later("IN_PROGRESS", f"event {identifier} is being processed; retry")
            return _refuse(409, "REPLAYED", f"event {identifier} was already received")
        try:
            for change in changes:
                await self.process(change)
        except Exception as exc:
            code = self._failed(identifier, exc)
            with contextlib.suppress(StateError):  # if it stays, it expires with its TTL
                if await self.backend.get(seen) == claim:
                    await self.backend.delete(seen)
            return _retry_later(code, "the change could not be processed; retry")
        self._outage.succeeded()
        try:
            await self.backend.set(seen, SEEN, ttl=self.replay_ttl)
        except Exception:  # processed all the same; the claim expires, and snapshots dedupe
            logger.warning("could not record %s event %s as seen", self.source, identifier)
        return JSONResponse({"accepted": identifier, "changes": len(changes)}, status_code=202)


def _retry_later(code: str, message: str) -> JSONResponse:
    """503 with ``Retry-After``: a condition the sender's retry gets past."""
    refusal = _refuse(503, code, message)
    refusal.headers["Retry-After"] = str(RETRY_AFTER)
    return refusal


def intake_routes(
    *,
    backend: StateBackend,
    process: Process,
    salesforce_secret: Secrets | None,
    netsuite_secret: Secrets | None,
    tolerance: float = DEFAULT_TOLERANCE,
    replay_ttl: float = REPLAY_TTL,
    max_body: int = MAX_BODY,
    processing_ttl: float = PROCESSING_TTL,
) -> list[Route]:
    """The intake routes of the sources that have a secret (one, or several while rotating)."""
    routes: list[Route] = []
    for source, secrets in ((SALESFORCE, salesforce_secret), (NETSUITE, netsuite_secret)):
        if secrets is None:
            continue
        endpoint = IntakeEndpoint(
            source,
            secrets,
            backend,
            process,
            tolerance=tolerance,
            replay_ttl=replay_ttl,
            max_body=max_body,
            processing_ttl=processing_ttl,
        )
        routes.append(Route(f"/events/{source}", endpoint.handle, methods=["POST"]))
    return routes
