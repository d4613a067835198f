"""``python -m sandbox``: run the Salesforce and NetSuite emulators alone.

    python -m sandbox --host 127.0.0.1 --salesforce-port 0 --netsuite-port 0 \
        --seed 42 --customers 300 --endpoints-file sandbox.json [--now 2026-12-05T00:30:00Z]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from pathlib import Path

from sandbox.clock import parse_instant
from sandbox.endpoints import Endpoints
from sandbox.runner import SandboxConfig, run


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
        description="Run Accord's Salesforce and NetSuite emulators on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--salesforce-port", type=_port, default=0, help="0 picks a free port")
    parser.add_argument("--netsuite-port", type=_port, default=0, help="0 picks a free port")
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
    )

    def ready(endpoints: Endpoints) -> None:
        if args.endpoints_file:
            endpoints.write(args.endpoints_file)
        print(json.dumps(endpoints.to_json(), indent=2), flush=True)
        print(
            "sandbox ready: Salesforce at",
            endpoints.salesforce.instance_url,
            "NetSuite at",
            endpoints.netsuite.base_url,
            file=sys.stderr,
            flush=True,
        )

    asyncio.run(run(config, ready))


if __name__ == "__main__":
    main()
