"""Outbound webhooks: how an emulator tells subscribers that its data changed.

In a real deployment a Salesforce flow (or a Change Data Capture relay) and a NetSuite
user-event script post each committed change to an HTTPS endpoint. The emulators do the same:
their stores report every committed write to a listener (`sandbox.salesforce.webhooks`,
`sandbox.netsuite.webhooks`), which shapes the vendor's notification and hands it to
`Webhooks.emit`. Delivery never holds up the write: each target has a bounded queue and a
background task that POSTs the body, signed as `events.signing` describes, and retries with
exponential backoff on a network error, 408, 425, 429 or 5xx, waiting at least what the
receiver's ``Retry-After`` asks (in seconds, up to ``retry_after_max``), as senders do. A
2xx or 409 (the receiver had it already) counts as delivered; another 4xx is a refusal and
is not retried; a body still undelivered after the last attempt, or arriving at a full
queue, is dropped with a log line.

Targets are managed through the control API, served in front of the emulator's own:

- ``GET  /__sandbox__/webhooks`` -> ``{"targets": [{"url", "enabled", "secrets", "pending",
  "delivered", "retried", "rejected", "dropped", "last_error"}]}`` (secrets are counted,
  never shown);
- ``POST /__sandbox__/webhooks`` ``{"url", "secret", "enabled": true}`` adds a target or
  updates the one with that URL (``secret`` may be a list while rotating: every secret signs);
  ``{"url", "enabled": false}`` switches it off and drops what it still had queued.

``POST /__sandbox__/reset`` clears stats and faults only: targets stay registered, so a test
resetting counters does not cut Accord off from its change feed. Faults do not apply to
webhooks: they describe the vendor's API, not its outbound calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from events.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, signature_header

logger = logging.getLogger("sandbox.webhooks")

CONTROL_PATH = "/__sandbox__/webhooks"
RETRYABLE = frozenset({408, 425, 429})


@dataclass(frozen=True)
class WebhookSettings:
    queue_size: int = 1000  # per target; beyond it new notifications are dropped
    attempts: int = 5
    backoff: float = 0.2  # seconds before the first retry, doubling up to backoff_max
    backoff_max: float = 5.0
    retry_after_max: float = 30.0  # the longest Retry-After waited out
    timeout: float = 5.0


@dataclass
class Target:
    url: str
    secrets: list[str]
    enabled: bool
    queue: asyncio.Queue[tuple[str, bytes]]
    task: asyncio.Task[None] | None = None
    delivered: int = 0
    retried: int = 0
    rejected: int = 0
    dropped: int = 0
    last_error: str | None = None
    in_flight: int = field(default=0)

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "enabled": self.enabled,
            "secrets": len(self.secrets),
            "pending": self.queue.qsize() + self.in_flight,
            "delivered": self.delivered,
            "retried": self.retried,
            "rejected": self.rejected,
            "dropped": self.dropped,
            "last_error": self.last_error,
        }


class Webhooks:
    """The webhook targets of one emulator and their delivery."""

    def __init__(self, name: str, settings: WebhookSettings | None = None) -> None:
        self.name = name
        self.settings = settings or WebhookSettings()
        self.targets: dict[str, Target] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None

    @property
    def active(self) -> bool:
        """Whether any target is enabled: listeners skip building bodies when none is."""
        return any(target.enabled for target in self.targets.values())

    # ------------------------------------------------------------------ sending

    def emit(self, event_id: str, body: bytes) -> None:
        """Queue ``body`` for every enabled target; safe from any thread, never blocks."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._enqueue(event_id, body)
        else:
            loop.call_soon_threadsafe(self._enqueue, event_id, body)

    def _enqueue(self, event_id: str, body: bytes) -> None:
        for target in self.targets.values():
            if not target.enabled:
                continue
            try:
                target.queue.put_nowait((event_id, body))
            except asyncio.QueueFull:
                target.dropped += 1
                logger.warning(
                    "%s webhook queue for %s full: dropped %s", self.name, target.url, event_id
                )

    async def _run(self, target: Target) -> None:
        while True:
            event_id, body = await target.queue.get()
            target.in_flight = 1
            try:
                await self._deliver(target, event_id, body)
            except Exception:  # a bug must not stop the target's delivery for good
                logger.exception("%s webhook delivery to %s failed", self.name, target.url)
                target.dropped += 1
            finally:
                target.in_flight = 0

    async def _deliver(self, target: Target, event_id: str, body: bytes) -> None:
        settings = self.settings
        client = self._http()
        for attempt in range(1, settings.attempts + 1):
            if not target.enabled:
                target.dropped += 1
                return
            headers = {
                "Content-Type": "application/json",
                "User-Agent": f"accord-sandbox-{self.name}-webhooks/1.0",
                SIGNATURE_HEADER: signature_header(target.secrets, body),
                EVENT_ID_HEADER: event_id,
            }
            asked = 0.0  # the receiver's Retry-After, in seconds
            try:
                response = await client.post(target.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                target.last_error = f"{type(exc).__name__}: {exc}"[:300]
            else:
                asked = _seconds(response.headers.get("Retry-After"), settings.retry_after_max)
                status = response.status_code
                if 200 <= status < 300 or status == 409:
                    target.delivered += 1
                    return
                target.last_error = f"HTTP {status}: {response.text[:200]}"
                if status < 500 and status not in RETRYABLE:
                    target.rejected += 1
                    logger.warning(
                        "%s webhook %s refused by %s: %s",
                        self.name,
                        event_id,
                        target.url,
                        target.last_error,
                    )
                    return
            if attempt < settings.attempts:
                target.retried += 1
                backoff = min(settings.backoff * 2 ** (attempt - 1), settings.backoff_max)
                await asyncio.sleep(max(backoff, asked))
        target.dropped += 1
        logger.warning(
            "%s webhook %s to %s dropped after %d attempts: %s",
            self.name,
            event_id,
            target.url,
            settings.attempts,
            target.last_error,
        )

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.settings.timeout,
                limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
                trust_env=False,
            )
        return self._client

    async def close(self) -> None:
        for target in self.targets.values():
            if target.task is not None:
                target.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await target.task
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # ------------------------------------------------------------------ control API

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """``app`` with ``/__sandbox__/webhooks`` served in front of it."""
        return WebhookControl(app, self)

    async def handle(self, request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(self.listing())
        if request.method != "POST":
            return JSONResponse({"error": f"no control action {request.method} webhooks"}, 405)
        try:
            body = json.loads(await request.body() or b"null")
            message = self.configure(body)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse({**self.listing(), "result": message})

    def listing(self) -> dict[str, Any]:
        return {"targets": [target.to_json() for target in self.targets.values()]}

    def configure(self, body: Any) -> str:
        """Apply one POST body; ValueError with the reason when it is not a valid one."""
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object {url, secret, enabled}")
        unknown = set(body) - {"url", "secret", "enabled"}
        if unknown:
            raise ValueError(f"unknown keys: {sorted(unknown)}")
        url = body.get("url")
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("url must be an absolute http(s) URL")
        assert isinstance(url, str)
        enabled = body.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ValueError("enabled must be true or false")
        secrets = _secrets(body["secret"]) if "secret" in body else None
        target = self.targets.get(url)
        if target is None:
            if enabled and secrets is None:
                raise ValueError("a new target needs a secret")
            target = Target(url, secrets or [], enabled, asyncio.Queue(self.settings.queue_size))
            self.targets[url] = target
            result = "added"
        else:
            result = "updated"
        if secrets is not None:
            target.secrets = secrets
        if enabled and not target.secrets:
            raise ValueError("an enabled target needs a secret")
        target.enabled = enabled
        if not enabled:
            while not target.queue.empty():
                target.queue.get_nowait()
                target.dropped += 1
        self._loop = asyncio.get_running_loop()
        if target.task is None or target.task.done():
            target.task = asyncio.create_task(self._run(target), name=f"webhooks-{self.name}")
        return result if enabled else "disabled"


def _secrets(value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if (
        not isinstance(items, list)
        or not items
        or not all(isinstance(item, str) and item for item in items)
    ):
        raise ValueError("secret must be a non-empty string or a list of them")
    return list(items)


class WebhookControl:
    """Serves ``/__sandbox__/webhooks``; everything else goes to the wrapped app."""

    def __init__(self, app: ASGIApp, webhooks: Webhooks) -> None:
        self.app = app
        self.webhooks = webhooks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].rstrip("/") == CONTROL_PATH:
            response = await self.webhooks.handle(Request(scope, receive))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _seconds(retry_after: str | None, most: float) -> float:
    """A ``Retry-After`` of delta-seconds, at most ``most``; 0 when absent or not seconds."""
    if retry_after is None or not retry_after.strip().isdigit():
        return 0.0
    return min(float(retry_after.strip()), most)
