"""A real Tryton's configuration from ``ACCORD_TRYTON_*`` variables (with ``ACCORD_ERP=tryton``),
each mistake named by its variable; `config.settings` reports them with the others.

    ACCORD_TRYTON_URL               the server's root, https://erp.example.com
    ACCORD_TRYTON_DATABASE          the database Accord works in
    ACCORD_TRYTON_USER              the integration user's login
    ACCORD_TRYTON_PASSWORD          its password, or:
    ACCORD_TRYTON_SESSION           a session opened elsewhere, "user_id:token"
    ACCORD_TRYTON_CA_FILE           extra CA bundle (PEM), optional
    ACCORD_TRYTON_MAX_CONNECTIONS   default 10

``ACCORD_SOURCE_TIMEOUT`` (seconds per attempt) applies as to every source. The sandbox's own
``ACCORD_TRYTON_CACHE_DIR`` and ``ACCORD_TRYTON_DATABASE_URI`` configure no real Tryton.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

from sources.resilience import ResiliencePolicy
from sources.tryton.rpc import TrytonConfig

__all__ = ["PREFIX", "SANDBOX_VARIABLES", "TrytonSettingsError", "configure", "configured"]

PREFIX = "ACCORD_TRYTON_"
SANDBOX_VARIABLES = frozenset({"ACCORD_TRYTON_CACHE_DIR", "ACCORD_TRYTON_DATABASE_URI"})
_SESSION = re.compile(r"[0-9]{1,18}:[^\s:]{1,200}")


class TrytonSettingsError(ValueError):
    """The ``ACCORD_TRYTON_*`` variables do not describe a usable Tryton; ``problems`` lists
    every mistake, by variable name."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def configured(env: Mapping[str, str]) -> list[str]:
    """The ``ACCORD_TRYTON_*`` variables set that configure a real Tryton."""
    return sorted(
        name
        for name, value in env.items()
        if name.startswith(PREFIX) and name not in SANDBOX_VARIABLES and value.strip()
    )


def configure(env: Mapping[str, str]) -> TrytonConfig | None:
    """The Tryton the variables name, None when none is set (the sandbox's Tryton then)."""
    if not configured(env):
        return None
    problems: list[str] = []

    def text(name: str) -> str | None:
        return env.get(PREFIX + name, "").strip() or None

    url = text("URL")
    if url is not None:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            problems.append(f"{PREFIX}URL={url!r} is not an http(s) URL")
    session = text("SESSION")
    if session is not None and not _SESSION.fullmatch(session):
        problems.append(f"{PREFIX}SESSION={session!r} is not a session 'user_id:token'")
    ca_file = text("CA_FILE")
    if ca_file is not None and not Path(ca_file).is_file():
        problems.append(f"{PREFIX}CA_FILE={ca_file!r}: no such file")
    connections = 10
    raw = text("MAX_CONNECTIONS")
    if raw is not None:
        if not raw.isdigit() or not 1 <= int(raw) <= 100:
            problems.append(f"{PREFIX}MAX_CONNECTIONS={raw!r} must be a whole number, 1 to 100")
        else:
            connections = int(raw)
    missing = [PREFIX + name for name in ("URL", "DATABASE", "USER") if text(name) is None]
    if missing:
        problems.append(f"Tryton needs {', '.join(missing)}")
    if text("PASSWORD") is None and text("SESSION") is None:
        problems.append(f"Tryton needs {PREFIX}PASSWORD or {PREFIX}SESSION")
    if problems:
        raise TrytonSettingsError(problems)
    try:
        timeout = float(env.get("ACCORD_SOURCE_TIMEOUT", "").strip() or 10.0)
    except ValueError:
        timeout = 10.0  # reported by the settings themselves
    return TrytonConfig(
        url=url or "",
        database=text("DATABASE") or "",
        user=text("USER") or "",
        password=text("PASSWORD") or "",
        session=session,
        ca_file=ca_file,
        max_connections=connections,
        policy=ResiliencePolicy(timeout=min(max(timeout, 0.1), 300.0)),
    )
