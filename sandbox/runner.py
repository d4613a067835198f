"""Serve both emulators from one process on loopback sockets.

`run` builds the world, binds the two listeners (port 0 picks a free port), serves Salesforce
over HTTPS (its clients only speak https://) and NetSuite over HTTPS too, and calls back with
the `Endpoints` once both accept connections. SIGINT and SIGTERM stop both servers cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import os
import signal
import socket
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from sandbox.clock import SandboxClock
from sandbox.endpoints import Endpoints, NetSuiteEndpoint, SalesforceEndpoint, SandboxInfo
from sandbox.netsuite import NetSuiteEmulator
from sandbox.salesforce import SalesforceEmulator
from sandbox.tls import TlsFiles, issue_loopback_certificates
from sandbox.world import World, build_world


@dataclass(frozen=True)
class SandboxConfig:
    host: str = "127.0.0.1"
    salesforce_port: int = 0
    netsuite_port: int = 0
    seed: int = 42
    customers: int = 300
    now: dt.datetime | None = None  # the instant the sandbox starts at (default: real time)
    state_dir: Path | None = None  # where the CA and certificates go; a temp dir by default
    log_level: str = "warning"
    extra: dict[str, str] = field(default_factory=dict)


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to `run`, which stops both servers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _url(scheme: str, host: str, sock: socket.socket) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


async def run(config: SandboxConfig, on_ready: Callable[[Endpoints], None]) -> None:
    """Serve until SIGINT/SIGTERM; ``on_ready`` receives the endpoints once both listen."""
    world = build_world(config.seed, config.customers, now=SandboxClock(config.now))
    salesforce = SalesforceEmulator(world)
    netsuite = NetSuiteEmulator(world)
    # The seeded records live as long as the process: keep them out of the garbage collector's
    # full collections, which otherwise stall a request now and then on a large world.
    gc.collect()
    gc.freeze()

    with contextlib.ExitStack() as cleanup:
        state_dir = config.state_dir
        if state_dir is None:  # a private directory that leaves with the process
            temporary = tempfile.TemporaryDirectory(prefix="accord-sandbox-")
            state_dir = Path(cleanup.enter_context(temporary))
        tls = issue_loopback_certificates(state_dir, config.host)
        await _serve(config, world, salesforce, netsuite, tls, on_ready)


async def _serve(
    config: SandboxConfig,
    world: World,
    salesforce: SalesforceEmulator,
    netsuite: NetSuiteEmulator,
    tls: TlsFiles,
    on_ready: Callable[[Endpoints], None],
) -> None:
    sf_sock = _bind(config.host, config.salesforce_port)
    ns_sock = _bind(config.host, config.netsuite_port)

    def server(app: object) -> _Server:
        return _Server(
            uvicorn.Config(
                app,  # type: ignore[arg-type]
                log_level=config.log_level,
                access_log=False,
                lifespan="off",
                timeout_keep_alive=120,
                timeout_graceful_shutdown=1,  # idle keep-alive clients must not hold up a stop
                date_header=False,  # the emulators stamp Date from the sandbox clock
                ssl_certfile=str(tls.cert_file),
                ssl_keyfile=str(tls.key_file),
            )
        )

    servers = [server(salesforce.app), server(netsuite.app)]

    def stop() -> None:
        for each in servers:
            each.should_exit = True

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop)

    serving = [
        asyncio.create_task(servers[0].serve(sockets=[sf_sock])),
        asyncio.create_task(servers[1].serve(sockets=[ns_sock])),
    ]
    while not all(s.started for s in servers):
        if any(task.done() for task in serving):
            for task in serving:
                if task.done() and task.exception():
                    raise RuntimeError("a sandbox emulator failed to start") from task.exception()
            raise RuntimeError("a sandbox emulator stopped during start-up")
        await asyncio.sleep(0.01)

    sf_url = _url("https", config.host, sf_sock)
    ns_url = _url("https", config.host, ns_sock)
    sf = salesforce.settings
    ns = netsuite.settings
    on_ready(
        Endpoints(
            salesforce=SalesforceEndpoint(
                instance_url=sf_url,
                username=sf.username,
                password=sf.password,
                security_token=sf.security_token,
                session_id=salesforce.issue_session(),
                client_id=sf.client_id,
                client_secret=sf.client_secret,
                ca_file=str(tls.ca_file),
            ),
            netsuite=NetSuiteEndpoint(
                base_url=ns_url,
                account_id=ns.account_id,
                token_url=f"{ns_url}/services/rest/auth/oauth2/v1/token",
                client_id=ns.client_id,
                client_secret=ns.client_secret,
                ca_file=str(tls.ca_file),
            ),
            sandbox=SandboxInfo(
                pid=os.getpid(),
                seed=config.seed,
                customers=config.customers,
                as_of=world.as_of.isoformat(),
                now=world.started.isoformat().replace("+00:00", "Z"),
            ),
        )
    )
    await asyncio.gather(*serving)
