"""A Tryton server over its JSON-RPC API: log in, keep the session, call models.

`TrytonRpc` is the wire layer under a Tryton adapter. It speaks to ``POST /<database>/rpc/``
only (Accord never imports Tryton, which runs as a separate server):

- ``common.db.login`` with ``[login, {"password": …}, language]`` answers
  ``[user_id, session, bus_url]``; every later call carries
  ``Authorization: Session base64("login:user_id:session")``. A 401 (session expired or
  revoked) logs in again once and repeats the call.
- a session opened elsewhere (``TrytonConfig.session``, ``"user_id:token"``) is used as it
  is until the server refuses it; then, with a password, the client logs in itself.
- after logging in, ``model.res.user.get_preferences(true, {})`` gives the user's context
  (company, companies, language, …). Tryton needs a context as the last argument of every
  model call; `call` sends this one, merged with what the caller adds (e.g. another
  ``company``, or ``_timestamp`` for optimistic locking).
- a ``UserWarning`` (a confirmation Tryton asks for) stops a call as `SourceWarning`;
  `approve_warning` confirms it, after which the same call goes through.
- values travel as `sources.tryton.wire` encodes them; failures become `sources.errors` as
  `sources.tryton.errors` maps them. Every call passes through the source's `Resilience`:
  reads are retried, writes only when the caller says they are idempotent.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
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
    SourceError,
    SourceProtocolError,
    SourceTimeout,
    SourceUnavailable,
)
from sources.resilience import Resilience, ResiliencePolicy
from sources.tryton import wire
from sources.tryton.errors import SOURCE, error_from_answer, error_from_status
from sources.upstream_http import upstream_client

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
    password: str = ""
    session: str | None = None  # "user_id:token" of a session opened elsewhere
    language: str = "en"  # Tryton's messages come in it; access errors are read in English
    ca_file: str | None = None
    max_connections: int = 10
    policy: ResiliencePolicy = field(default_factory=ResiliencePolicy)

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("Tryton's url starts with http:// or https://")
        for name in ("database", "user"):
            if not getattr(self, name):
                raise ValueError(f"Tryton needs {name}")
        if not self.password and not self.session:
            raise ValueError("Tryton needs a password or a session")
        if self.session is not None:
            user_id, _, token = self.session.partition(":")
            if not user_id.isdigit() or not token:
                raise ValueError("a Tryton session is 'user_id:token'")

    @property
    def rpc_path(self) -> str:
        return f"/{quote(self.database, safe='')}/rpc/"


@dataclass(frozen=True)
class _Session:
    user_id: int
    header: str
    own: bool  # opened by this client's login, so it logs it out


class TrytonRpc:
    def __init__(self, config: TrytonConfig, *, resilience: Resilience | None = None) -> None:
        self.config = config
        self.resilience = resilience or Resilience(SOURCE, config.policy)
        timeout = httpx.Timeout(config.policy.timeout, connect=min(5.0, config.policy.timeout))
        self._http = upstream_client(
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
        self._adopted = False  # whether the configured session was tried
        self._context: dict[str, Any] = {}
        self._login_lock = asyncio.Lock()
        self._ids = itertools.count(1)
        self.clock = SourceClock()  # Tryton's own time, from its answers' Date header

    async def close(self) -> None:
        """Log out a session this client opened (one from elsewhere is left alone); close."""
        session, self._session = self._session, None
        try:
            if session is not None and session.own:
                with contextlib.suppress(SourceError):
                    await self._post("common.db.logout", [], session)
        finally:
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

    def _header(self, user_id: int, token: str, *, own: bool) -> _Session:
        credentials = f"{self.config.user}:{user_id}:{token}".encode()
        header = "Session " + base64.b64encode(credentials).decode("ascii")
        return _Session(user_id, header, own)

    async def _start(self, session: _Session) -> _Session:
        """Take ``session`` as the client's, with the user's context read through it."""
        preferences = await self._post("model.res.user.get_preferences", [True, {}], session)
        if not isinstance(preferences, dict):
            raise SourceProtocolError(SOURCE, "the user's preferences are not an object")
        self._session, self._context = session, preferences
        return session

    async def _login(self) -> _Session:
        config = self.config
        if config.session and not self._adopted:
            self._adopted = True
            user_id, _, token = config.session.partition(":")
            try:
                return await self._start(self._header(int(user_id), token, own=False))
            except SourceAuthError:
                if not config.password:
                    raise
        if not config.password:
            raise SourceAuthError(SOURCE, "the session was refused and there is no password")
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
        return await self._start(self._header(result[0], result[1], own=True))

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

    async def approve_warning(self, name: str, *, always: bool = False) -> None:
        """Confirm the warning ``name`` (`SourceWarning.warning`) for this user, as a person
        does in Tryton's client: the next call that raises it goes through (every later one
        too with ``always``). Not repeated after a failure."""
        await self.call("res.user.warning", "skip", name, always, idempotent=False)

    async def refresh_context(self) -> None:
        """Read the user's context again (after its companies or preferences changed)."""
        preferences = await self.call("res.user", "get_preferences", True, context={})
        if not isinstance(preferences, dict):
            raise SourceProtocolError(SOURCE, "the user's preferences are not an object")
        self._context = preferences

    async def ping(self) -> None:
        """Reach the server and check the session (logs in when needed)."""
        await self.call("res.user", "get_preferences", True)
