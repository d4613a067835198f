"""Key prefixes in the test Redis, and the sweep that leaves it as the run found it.

Every key a test writes (directly, through a backend, or through an Accord process it starts)
lies under `unique_prefix()`: ``test:<run>:<uuid>:``, where ``<run>`` is this test run's own
id. At the end of the session `sweep` deletes every key under ``test:<run>:`` and reports any
that a still-running writer put back, so a run leaves nothing behind whatever its tests did.
"""

from __future__ import annotations

import uuid

import redis

RUN_ID = uuid.uuid4().hex[:12]
RUN_PREFIX = f"test:{RUN_ID}:"


def unique_prefix() -> str:
    """A key prefix no other test (of this run or another) uses."""
    return f"{RUN_PREFIX}{uuid.uuid4().hex}:"


def keys_of_this_run(client: redis.Redis) -> list[bytes]:
    return list(client.scan_iter(match=f"{RUN_PREFIX}*", count=1000))


def sweep(url: str) -> list[str]:
    """Delete this run's keys; the names of any still there afterwards (none when clean).

    An unreachable Redis leaves nothing to sweep: the tests that needed it failed already."""
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)
    try:
        try:
            keys = keys_of_this_run(client)
        except redis.ConnectionError:
            return []
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
        return [key.decode() for key in keys_of_this_run(client)]
    finally:
        client.close()
