"""Webhook intake: ``POST /events/<source>``, one route per system whose adapter takes
notifications (`sources.ports.ChangeFeed.webhooks`) and that has a secret.

Each request passes, in this order, before anything is processed:

==========================================  ======  =======================================
check                                       status  why
==========================================  ======  =======================================
body at most ``max_body`` bytes (1 MB)      413     read no further than the limit (the
                                                    reader every endpoint shares,
                                                    `api.http_body`)
``X-Accord-Signature`` valid (`signing`)    401     unsigned, wrong secret, tampered, stale
a notification of the source's shape       400     malformed or not a change notification
the event id (in the signed body) matches   400     the header cannot rebind a signed body
  ``X-Accord-Event-Id`` when both are given
event id not seen before                    409     a replay, or a retry of a delivered one
event id not being processed right now      503     a retry racing the first delivery
the state backend answers                   503     replay protection cannot be checked
==========================================  ======  =======================================

The source's adapter parses the body (``parse_notification``): Accord's side knows no
vendor's notification format. Refusals answer ``{"error": <code>, "message": <text>}`` and
publish nothing. Then each change the notification names goes to ``process`` (the
normaliser's `Normalizer.process`), awaited before answering 202 ``{"accepted": <event id>,
"changes": N}``. Awaiting keeps the sender's retry as the delivery guarantee: if processing
fails (a source is down, or the state backend), the event id is forgotten again and the
answer is 503 ``PROCESSING_FAILED`` (``STATE_UNAVAILABLE`` for the state backend) with
``Retry-After``, so the sender retries later, and a crash mid-way loses nothing the sender
will not resend. The wait asked for is when the retry can get through: while the source's
circuit is open, the seconds to its next trial; when the source asked Accord to wait, that
wait; else one second. It costs the sender the time of the normaliser's reads (a few upstream round
trips, tens of milliseconds), well inside a second, which is the latency the events promise;
``process`` may enqueue instead when a deployment wants an immediate 202.

The event id is where replay protection binds: the adapter finds it inside the signed body.
Ids seen are kept in the state
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
import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.http_body import MAX_BODY_BYTES, BodyTooLarge, read_body
from events.signing import (
    DEFAULT_TOLERANCE,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    Secrets,
    SignatureError,
    signature_header,
    verify,
)
from sources.changes import MalformedNotification, RecordChange
from sources.errors import SourceError
from sources.outage import OutageLog
from sources.ports import ChangeFeed
from state.backend import StateBackend
from state.errors import StateError

logger = logging.getLogger("accord.events.intake")  # the name operators filter on

MAX_BODY = MAX_BODY_BYTES  # the limit every endpoint applies
REPLAY_TTL = 86400.0
PROCESSING_TTL = 60.0
SEEN_PREFIX = "events:intake:seen:"
SEEN = "seen"
MAX_EVENT_ID = 128
RETRY_AFTER = 1  # seconds a sender waits before a retry that should get through

Process = Callable[[RecordChange], Awaitable[object]]

__all__ = ["IntakeEndpoint", "MalformedNotification", "intake_routes"]


# --------------------------------------------------------------------------- the endpoint


def _refuse(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


class IntakeEndpoint:
    """One source's webhook endpoint: checks, replay protection, then processing."""

    def __init__(
        self,
        feed: ChangeFeed,
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
        if not feed.webhooks:
            raise ValueError(f"{feed.source} sends no notifications")
        self.feed = feed
        self.source = source = feed.source
        self.secrets = secrets
        self.backend = backend
        self.process = process
        self.tolerance = tolerance
        self.replay_ttl = replay_ttl
        self.max_body = max_body
        self.processing_ttl = processing_ttl
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
        try:
            body = await read_body(request, self.max_body)
        except BodyTooLarge:
            return _refuse(413, "BODY_TOO_LARGE", f"bodies are limited to {self.max_body} bytes")
        try:
            verify(
                request.headers.get(SIGNATURE_HEADER), body, self.secrets, tolerance=self.tolerance
            )
        except SignatureError as exc:
            logger.warning("refused %s webhook: %s", self.source, exc.message)
            return _refuse(401, f"SIGNATURE_{exc.reason.upper()}", exc.message)
        try:
            notice = self.feed.parse_notification(request.headers, body)
        except (ValueError, RecursionError) as exc:
            message = str(exc) if isinstance(exc, MalformedNotification) else "body is not JSON"
            return _refuse(400, "MALFORMED", message)
        identifier, changes = notice.event_id, notice.changes
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
            after = getattr(exc, "retry_after", None)  # an open circuit, a rate limit
            return _retry_later(code, "the change could not be processed; retry", after)
        self._outage.succeeded()
        try:
            await self.backend.set(seen, SEEN, ttl=self.replay_ttl)
        except Exception:  # processed all the same; the claim expires, and snapshots dedupe
            logger.warning("could not record %s event %s as seen", self.source, identifier)
        return JSONResponse({"accepted": identifier, "changes": len(changes)}, status_code=202)


def _retry_later(code: str, message: str, after: float | None = None) -> JSONResponse:
    """503 with ``Retry-After``: a condition the sender's retry gets past; ``after`` is when
    it should (a source's open circuit until its next trial, or the wait a source asked
    for), else `RETRY_AFTER`."""
    refusal = _refuse(503, code, message)
    wait = RETRY_AFTER if after is None else max(RETRY_AFTER, math.ceil(after))
    refusal.headers["Retry-After"] = str(wait)
    return refusal


def intake_routes(
    *,
    backend: StateBackend,
    process: Process,
    feeds: Sequence[tuple[ChangeFeed, Secrets | None]],
    tolerance: float = DEFAULT_TOLERANCE,
    replay_ttl: float = REPLAY_TTL,
    max_body: int = MAX_BODY,
    processing_ttl: float = PROCESSING_TTL,
) -> list[Route]:
    """The intake routes of the systems (adapters) that have a secret (one, or several while
    rotating) and take notifications."""
    routes: list[Route] = []
    for feed, secrets in feeds:
        if secrets is None or not feed.webhooks:
            continue
        endpoint = IntakeEndpoint(
            feed,
            secrets,
            backend,
            process,
            tolerance=tolerance,
            replay_ttl=replay_ttl,
            max_body=max_body,
            processing_ttl=processing_ttl,
        )
        routes.append(Route(f"/events/{feed.source}", endpoint.handle, methods=["POST"]))
    return routes
