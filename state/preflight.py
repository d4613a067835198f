"""The state backend checked before Accord serves: does Redis answer, and will it keep things?

`check_redis` runs once at start (``python server.py`` with ``ACCORD_REDIS_URL``):

- a Redis that does not answer (refused, unknown host, wrong password, TLS mismatch, no such
  database) stops the start with `RedisUnusable`, whose message is one line naming
  ``ACCORD_REDIS_URL`` (password masked) and the reason: a replica without its state backend
  could take no write and no webhook;
- a Redis that answers but keeps nothing across its own restart (neither the append-only
  file nor RDB snapshots on) is a warning: idempotency claims, workflows and the audit trail
  would be lost when Redis restarts, so a retried payment could post twice. docs/state.md
  says what each setting risks. A Redis that will not say (``CONFIG`` disabled, as on some
  managed services) is a warning too, asking the operator to check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from state.urls import redact_url

if TYPE_CHECKING:
    import redis

__all__ = ["Durability", "RedisUnusable", "check_redis", "durability_warnings"]


class RedisUnusable(Exception):
    """Redis cannot be used at all; the message is the one line to show."""


@dataclass(frozen=True)
class Durability:
    """Redis's persistence settings, as ``CONFIG GET`` reports them (None: not readable)."""

    appendonly: bool | None = None
    appendfsync: str | None = None
    save: str | None = None  # "" when RDB snapshots are off
    problems: list[str] = field(default_factory=list)


def check_redis(url: str, *, timeout: float = 2.0) -> list[str]:
    """Check the Redis at ``url`` answers; the warnings to print (empty when all is well).

    Raises `RedisUnusable` when it does not answer."""
    import redis  # loaded by the processes that use Redis only
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    shown = redact_url(url)
    try:
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
    except ValueError as exc:  # a URL redis-py cannot parse
        raise RedisUnusable(f"ACCORD_REDIS_URL={shown}: {exc}") from None
    try:
        try:
            client.ping()
        except redis.RedisError as exc:
            raise RedisUnusable(
                f"ACCORD_REDIS_URL={shown}: Redis cannot be used ({_reason(exc)}); start it, "
                "or fix the URL"
            ) from None
        return durability_warnings(_durability(client), shown)
    finally:
        client.close()


def _durability(client: redis.Redis) -> Durability:
    import redis

    try:
        found = client.config_get("appendonly")
        found.update(client.config_get("appendfsync"))
        found.update(client.config_get("save"))
    except redis.RedisError as exc:
        return Durability(problems=[_reason(exc)])
    text = {str(_text(k)): str(_text(v)) for k, v in found.items()}
    return Durability(
        appendonly=text.get("appendonly", "no") == "yes",
        appendfsync=text.get("appendfsync"),
        save=text.get("save", "").strip(),
    )


def durability_warnings(found: Durability, shown: str) -> list[str]:
    """What to tell the operator about Redis at ``shown`` keeping Accord's state."""
    if found.problems:
        return [
            f"ACCORD_REDIS_URL={shown}: could not read Redis's persistence settings "
            f"({found.problems[0]}); make sure the append-only file or RDB snapshots are on, "
            "or idempotency claims and workflows are lost when Redis restarts"
        ]
    if not found.appendonly and not found.save:
        return [
            f"ACCORD_REDIS_URL={shown}: Redis keeps nothing across a restart (appendonly no, "
            'save ""): idempotency claims, workflows and the audit trail would be lost, and '
            "a retried write could apply twice; turn on appendonly yes (docs/state.md)"
        ]
    return []


def _text(value: object) -> object:
    return value.decode() if isinstance(value, bytes) else value


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    detail = text[0] if text else ""
    name = type(error).__name__
    return f"{name}: {detail}" if detail else name
