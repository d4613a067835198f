"""A Tryton server over its JSON-RPC API: log in, keep the session, call models.

`TrytonRpc` is the wire layer under a Tryton adapter. It speaks to ``POST /<database>/rpc/``
only (Accord never imports Tryton, which runs as a separate server):

- ``common.db.login`` with ``[login, {"password": …}, language]`` answers
  ``[user_id, session, bus_url]``; every later call carries
  ``Authorization: Session base64("login:user_id:session")``. A 401 (session expired or
  revoked) logs in again once and repeats the call.
- after logging in, ``model.res.user.get_preferences(true, {})`` gives the user's context
  (company, companies, language, …). Tryton needs a context as the last argument of every
  model call; `call` sends this one, merged with what the caller adds (e.g. another
  ``company``, or ``_timestamp`` for optimistic locking).
- values travel as `sources.tryton.wire` encodes them; failures become `sources.errors` as
  `sources.tryton.errors` maps them. Every call passes through the source's `Resilience`:
  reads are retried, writes only when the caller says they are idempotent.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from sources.clock import SourceClock
from sources.errors import (
    SourceAuthError,
    SourceProtocolError,
    SourceTimeout,
    SourceUnavailable,
)
from sources.resilience import Resilience, ResiliencePolicy
from sources.tryton import wire
from sources.tryton.errors import SOURCE, error_from_answer, error_from_status

__all__ = ["READ_METHODS", "TrytonConfig", "TrytonRpc"]

READ_METHODS = frozenset(
    {"read", "search", "search_read", "search_count", "fields_get", "get_preferences"}
)
"""Model methods that change nothing, so repeating them after a failure is safe."""


@dataclass(frozen=True)
class TrytonConfig:
    url: str  # the server's root, e.g. https://erp.example.com
    database: str
    user: str
    password: str
    language: str = "en"  # Tryton's messages come in it; access errors are read in English
    ca_file: str | None = None
    max_connections: int = 10
    policy: ResiliencePolicy = field(default_factory=ResiliencePolicy)

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("Tryton's url starts with http:// or https://")
        for name in ("database", "user", "password"):
            if not getattr(self, name):
                raise ValueError(f"Tryton needs {name}")

    @property
    def rpc_path(self) -> str:
        return f"/{quote(self.database, safe='')}/rpc/"


@dataclass(frozen=True)
class _Session:
    user_id: int
    header: str


class TrytonRpc:
    def __init__(self, config: TrytonConfig, *, resilience: Resilience | None = None) -> None:
        self.config = config
        self.resilience = resilience or Resilience(SOURCE, config.policy)
        timeout = httpx.Timeout(config.policy.timeout, connect=min(5.0, config.policy.timeout))
        self._http = httpx.AsyncClient(
            base_url=config.url.rstrip("/"),
            verify=ssl.create_default_context(cafile=config.ca_file) if config.ca_file else True,
            timeout=timeout,
            limits=httpx.Limits(
                max_connections=config.max_connections,
                max_keepalive_connections=config.max_connections,
            ),
            headers={"Accept": "application/json", "Content-Type": "application/json"},
        )
        self._session: _Session | None = None
        self._context: dict[str, Any] = {}
        self._login_lock = asyncio.Lock()
        self._ids = itertools.count(1)
        self.clock = SourceClock()  # Tryton's own time, from its answers' Date header

    async def close(self) -> None:
        await self._http.aclose()

    @property
    def user_id(self) -> int | None:
        """The logged-in user's id, None before the first login."""
        return self._session.user_id if self._session else None

    @property
    def context(self) -> dict[str, Any]:
        """A copy of the user's context as the server gave it at the last login."""
        return dict(self._context)

    # ------------------------------------------------------------------ transport

    async def _post(self, method: str, params: list[Any], session: _Session | None) -> Any:
        """One JSON-RPC request; the answer's ``result``, or the mapped failure."""
        body = wire.dumps({"id": next(self._ids), "method": method, "params": params})
        headers = {"Authorization": session.header} if session else {}
        try:
            response = await self._http.post(self.config.rpc_path, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise SourceTimeout(SOURCE, f"{method}: no answer in time") from exc
        except httpx.TransportError as exc:
            raise SourceUnavailable(SOURCE, f"{method}: {exc!r}") from exc
        self.clock.observe(response.headers.get("date"))
        if response.status_code != 200:
            raise error_from_status(response, what=method)
        try:
            answer = wire.loads(response.content)
        except ValueError as exc:
            raise SourceProtocolError(
                SOURCE, f"{method}: the answer is not Tryton's JSON: {exc}", details=response.text
            ) from exc
        if not isinstance(answer, dict) or not ("result" in answer or "error" in answer):
            raise SourceProtocolError(
                SOURCE, f"{method}: not a JSON-RPC answer", details=response.text
            )
        if answer.get("error"):
            raise error_from_answer(answer["error"])
        return answer.get("result")

    # ------------------------------------------------------------------ session

    async def _login(self) -> _Session:
        config = self.config
        result = await self._post(
            "common.db.login", [config.user, {"password": config.password}, config.language], None
        )
        if (
            not isinstance(result, list)
            or len(result) < 2
            or not isinstance(result[0], int)
            or not isinstance(result[1], str)
        ):
            raise SourceProtocolError(SOURCE, "login answered without a user and session")
        user_id, token = result[0], result[1]
        credentials = f"{config.user}:{user_id}:{token}".encode()
        session = _Session(user_id, "Session " + base64.b64encode(credentials).decode("ascii"))
        preferences = await self._post("model.res.user.get_preferences", [True, {}], session)
        if not isinstance(preferences, dict):
            raise SourceProtocolError(SOURCE, "the user's preferences are not an object")
        self._session, self._context = session, preferences
        return session

    async def _current_session(self, stale: _Session | None = None) -> _Session:
        async with self._login_lock:
            if self._session is None or self._session == stale:
                try:
                    return await self._login()
                except SourceAuthError as exc:
                    raise SourceAuthError(
                        SOURCE,
                        f"login refused for user {self.config.user!r}",
                        status=exc.status,
                        details=exc.details,
                    ) from exc
            return self._session

    async def _send(self, method: str, params: list[Any]) -> Any:
        """A call with a valid session; a 401 logs in again and repeats it once."""
        session = await self._current_session()
        try:
            return await self._post(method, params, session)
        except SourceAuthError as exc:
            if exc.status != 401:
                raise
        session = await self._current_session(stale=session)
        return await self._post(method, params, session)

    async def login(self) -> None:
        """Log in now (calls log in by themselves when needed)."""
        await self.resilience.call(self._current_session, name="login", idempotent=True)

    # ------------------------------------------------------------------ calls

    async def call(
        self,
        model: str,
        method: str,
        *args: Any,
        context: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """``model.<model>.<method>(*args, context)``: the context is the user's, updated
        with ``context``. ``idempotent`` defaults to True for `READ_METHODS` only."""
        if not model or not method or "." in method:
            raise ValueError(f"not a model method: {model!r}.{method!r}")
        repeatable = method in READ_METHODS if idempotent is None else idempotent
        name = f"{model}.{method}"

        async def attempt() -> Any:
            await self._current_session()  # the user's context comes with the login
            merged = {**self._context, **(context or {})}
            return await self._send(f"model.{name}", [*args, merged])

        return await self.resilience.call(attempt, name=name, idempotent=repeatable)

    async def search_read(
        self,
        model: str,
        domain: list[Any],
        fields: list[str],
        *,
        offset: int = 0,
        limit: int | None = None,
        order: list[tuple[str, str]] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        rows = await self.call(
            model,
            "search_read",
            domain,
            offset,
            limit,
            [list(pair) for pair in order] if order else None,
            fields,
            context=context,
        )
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise SourceProtocolError(SOURCE, f"{model}.search_read answered no list of rows")
        return rows

    async def create(
        self,
        model: str,
        values: list[dict[str, Any]],
        *,
        context: Mapping[str, Any] | None = None,
    ) -> list[int]:
        """Create records in one call; their ids, in order. Not repeated after a failure."""
        ids = await self.call(model, "create", values, context=context)
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise SourceProtocolError(SOURCE, f"{model}.create answered no list of ids")
        if len(ids) != len(values):
            raise SourceProtocolError(SOURCE, f"{model}.create made {len(ids)} of {len(values)}")
        return ids

    async def ping(self) -> None:
        """Reach the server and check the session (logs in when needed)."""
        await self.call("res.user", "get_preferences", True)
