"""``python -m sandbox``: run the Salesforce emulator and an ERP alone.

    python -m sandbox --host 127.0.0.1 --salesforce-port 0 --netsuite-port 0 \
        --seed 42 --customers 300 --endpoints-file sandbox.json [--now 2026-12-05T00:30:00Z]

The ERP is the NetSuite emulator, or with ``--erp tryton`` a real Tryton server (the
``tryton`` extra must be installed; ``ACCORD_TRYTON_DATABASE_URI`` may name a PostgreSQL
server for its databases, ``ACCORD_TRYTON_CACHE_DIR`` where prepared ones are kept).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
from pathlib import Path

from sandbox.clock import parse_instant
from sandbox.endpoints import Endpoints, NetSuiteEndpoint
from sandbox.runner import ERPS, SandboxConfig, run
from sandbox.tryton.errors import TrytonSandboxError


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is between 0 and 65535 (0 picks a free one)")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="Run Accord's Salesforce emulator and an ERP on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--salesforce-port", type=_port, default=0, help="0 picks a free port")
    parser.add_argument("--netsuite-port", type=_port, default=0, help="0 picks a free port")
    parser.add_argument(
        "--erp",
        choices=ERPS,
        default="netsuite",
        help="the ERP: the NetSuite emulator (default) or a real Tryton server",
    )
    parser.add_argument(
        "--tryton-cache-dir",
        type=Path,
        default=None,
        help="where prepared Tryton databases are kept (default: $ACCORD_TRYTON_CACHE_DIR, "
        "else ~/.cache/accord/tryton)",
    )
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated data")
    parser.add_argument("--customers", type=_non_negative, default=300, help="number of customers")
    parser.add_argument(
        "--now",
        metavar="TIMESTAMP",
        default=None,
        help="the instant the sandbox starts at, ISO 8601 (e.g. 2026-12-05T00:30:00Z; no offset "
        "means UTC; default: the real time). Its clock runs on from there.",
    )
    parser.add_argument("--endpoints-file", type=Path, help="write the endpoints JSON here")
    parser.add_argument("--state-dir", type=Path, help="where to keep the CA and certificates")
    parser.add_argument("--log-level", default="warning")
    return parser.parse_args(argv)


def _start_instant(text: str | None) -> dt.datetime | None:
    """``--now`` as an instant; a value that is not a timestamp ends the process (status 2)."""
    if text is None:
        return None
    try:
        return parse_instant(text)
    except ValueError as exc:
        print(f"python -m sandbox: --now: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    now = _start_instant(args.now)
    config = SandboxConfig(
        host=args.host,
        salesforce_port=args.salesforce_port,
        netsuite_port=args.netsuite_port,
        seed=args.seed,
        customers=args.customers,
        now=now,
        state_dir=args.state_dir,
        log_level=args.log_level,
        erp=args.erp,
        tryton_database_uri=os.environ.get("ACCORD_TRYTON_DATABASE_URI") or None,
        tryton_cache_dir=args.tryton_cache_dir,
    )

    def ready(endpoints: Endpoints) -> None:
        if args.endpoints_file:
            endpoints.write(args.endpoints_file)
        print(json.dumps(endpoints.to_json(), indent=2), flush=True)
        erp = endpoints.erp
        where = erp.base_url if isinstance(erp, NetSuiteEndpoint) else f"{erp.url} ({erp.prepared})"
        print(
            "sandbox ready: Salesforce at",
            endpoints.salesforce.instance_url,
            f"{endpoints.sandbox.erp} at",
            where,
            file=sys.stderr,
            flush=True,
        )

    try:
        asyncio.run(run(config, ready))
    except TrytonSandboxError as exc:  # told in words, not a traceback
        print(f"python -m sandbox: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
