"""Calling Tryton's workflow buttons from the seed: batches, company context, warnings.

Tryton stops a call with a ``UserWarning`` when it wants a person to confirm something (a due
date already past, an invoice dated after today). The seed confirms the way a person would:
it records the warning's name in ``res.user.warning`` and calls again. Warnings it can foresee
(one per posted invoice whose due date is past) are recorded before the call, so a batch goes
through in one call instead of one call per invoice; any other warning is confirmed as it comes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sources.errors import SourceWarning
from sources.tryton.rpc import TrytonRpc

__all__ = ["call_confirming", "chunks", "company", "confirm_ahead", "forget_confirmations"]

T = TypeVar("T")
MAX_CONFIRMATIONS = 20  # warnings confirmed one by one in one call before giving up


def company(company_id: int) -> dict[str, int]:
    """The context that makes ``company_id`` the current company of a call."""
    return {"company": company_id}


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def warning_name(model: str, ids: Iterable[int], name: str) -> str:
    """The name Tryton gives the warning ``name`` about records ``ids`` of ``model``."""
    records = "|".join(f"{model},{record_id}" for record_id in ids)
    return f"{hashlib.md5(records.encode()).hexdigest()}.{name}"


async def confirm_ahead(rpc: TrytonRpc, names: Iterable[str]) -> None:
    """Confirm warnings before the call that will raise them."""
    rows = [{"user": rpc.user_id, "name": name, "always": False} for name in names]
    for batch in chunks(rows, 1000):
        await rpc.create("res.user.warning", list(batch))


async def call_confirming(
    rpc: TrytonRpc, model: str, method: str, ids: list[int], *, context: dict[str, Any]
) -> Any:
    """``model.method(ids)``, confirming each warning the server raises and calling again."""
    for _ in range(MAX_CONFIRMATIONS):
        try:
            return await rpc.call(model, method, ids, context=context)
        except SourceWarning as warning:
            await confirm_ahead(rpc, [warning.warning])
    raise RuntimeError(f"{model}.{method} kept asking for confirmation")


async def forget_confirmations(rpc: TrytonRpc) -> None:
    """Delete confirmations recorded ahead that no call used."""
    rows = await rpc.search_read("res.user.warning", [["user", "=", rpc.user_id]], ["id"])
    for batch in chunks([row["id"] for row in rows], 1000):
        await rpc.call("res.user.warning", "delete", list(batch))
