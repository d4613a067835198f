"""Request paths as the control API's stats count them.

Record ids, query locators and external-id values become ``{id}`` and a trailing slash is
dropped, so ``GET /services/data/v59.0/sobjects/Account/001.../`` and every other record of
the kind count under ``GET /services/data/v59.0/sobjects/Account/{id}``.
"""

from __future__ import annotations

import re

from domain import sfid

_OBJECT_ACTIONS = frozenset({"describe", "deleted", "updated"})
_ID_LIKE = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")


def _is_id(segment: str) -> bool:
    return bool(_ID_LIKE.fullmatch(segment)) and sfid.is_valid(segment)


def normalize_path(path: str) -> str:
    parts = path.rstrip("/").split("/") if path != "/" else [""]
    if len(parts) >= 4 and parts[1:3] == ["services", "data"] and parts[3].startswith("v"):
        head, rest = parts[:4], parts[4:]
        if len(rest) >= 2 and rest[0] in ("query", "queryAll"):
            rest = [rest[0], "{id}"]
        elif len(rest) >= 3 and rest[0] == "sobjects":
            third = rest[2]
            if third in _OBJECT_ACTIONS:
                rest = rest[:3]
            elif len(rest) == 3 or _is_id(third):
                rest = [*rest[:2], "{id}", *rest[3:4]]
            else:
                rest = [*rest[:3], "{id}"]  # external id field and value
        else:
            rest = ["{id}" if _is_id(part) else part for part in rest]
        return "/".join(head + rest)
    if len(parts) >= 6 and parts[1:4] == ["services", "Soap", "u"]:
        return "/".join([*parts[:5], "{id}"])
    return "/".join("{id}" if _is_id(part) else part for part in parts) or "/"
