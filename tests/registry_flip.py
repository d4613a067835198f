"""Accord with fields moved to another owner, for the tests that prove the registry drives.

    python -m tests.registry_flip Customer.taxId=CRM [--schema | server options...]

Each ``path=OWNER`` moves one registry entry before anything else is imported, so the schema,
the resolvers, the cache entities and the write routing are all built from the changed
registry, as they would be from an edited ``domain/ownership.py``. ``--schema`` prints the SDL;
anything else runs ``server.py`` with those options.
"""

from __future__ import annotations

import sys

from domain import ownership


def main(argv: list[str]) -> int:
    moves = [arg for arg in argv if "=" in arg and not arg.startswith("-")]
    rest = [arg for arg in argv if arg not in moves]
    for move in moves:
        path, owner = move.split("=", 1)
        ownership.REGISTRY = ownership.REGISTRY.with_owner(path, ownership.System(owner))
    if rest[:1] == ["--schema"]:
        from schema.__main__ import sdl

        print(sdl(), end="")
        return 0
    import server

    return server.main(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
