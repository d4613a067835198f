"""``accord <command> [options]`` (also ``python -m accord``).

    accord serve [--host H] [--port P] [--sandbox F] ...   run Accord (python server.py)
    accord sandbox [--now T] [--endpoints-file F] ...       run the emulators alone
    accord reconcile [--sandbox F] [--json] [--kind K] ...  compare the CRM and the ERP once
    accord schema [--write | --ownership]                   print or write the SDL

Each command takes the options of the program it runs; ``accord <command> --help`` lists them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

USAGE = __doc__ or ""


def _serve(argv: list[str]) -> int:
    import server

    return server.main(argv)


def _sandbox(argv: list[str]) -> int:
    from sandbox.__main__ import main

    main(argv)
    return 0


def _reconcile(argv: list[str]) -> int:
    from accord.reconcile_command import main

    return main(argv)


def _schema(argv: list[str]) -> int:
    from schema.__main__ import main

    main(argv)
    return 0


COMMANDS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "serve": (_serve, "run Accord"),
    "sandbox": (_sandbox, "run the Salesforce and NetSuite emulators alone"),
    "reconcile": (_reconcile, "compare the CRM and the ERP once, print every drift"),
    "schema": (_schema, "print the SDL, or write schema/schema.graphql"),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE.strip())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    command = COMMANDS.get(name)
    if command is None:
        known = ", ".join(COMMANDS)
        print(f"accord: unknown command {name!r} (commands: {known})", file=sys.stderr)
        return 2
    return command[0](rest)
