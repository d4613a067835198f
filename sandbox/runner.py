"""Serve the sandbox's systems from one process on loopback sockets.

`run` builds the world, binds the listeners (port 0 picks a free port), serves Salesforce
over HTTPS (its clients only speak https://) and the ERP, and calls back with the `Endpoints`
once all accept connections. The ERP is the NetSuite emulator, served over HTTPS from this
process too, or (``erp="tryton"``) a real Tryton server in a child process
(`sandbox.tryton`), seeded from the same world. SIGINT and SIGTERM stop everything cleanly,
a Tryton being prepared included: its server is stopped and its directory removed.
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
from sandbox.endpoints import (
    Endpoints,
    NetSuiteEndpoint,
    SalesforceEndpoint,
    SandboxInfo,
    TrytonEndpoint,
)
from sandbox.netsuite import NetSuiteEmulator
from sandbox.salesforce import SalesforceEmulator
from sandbox.tls import TlsFiles, issue_loopback_certificates
from sandbox.world import World, build_world

ERPS = ("netsuite", "tryton")


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
    erp: str = "netsuite"  # or "tryton"
    tryton_database_uri: str | None = None  # a PostgreSQL server; SQLite when None
    tryton_cache_dir: Path | None = None  # prepared Tryton databases; see sandbox.tryton.store
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.erp not in ERPS:
            raise ValueError(f"erp is one of {', '.join(ERPS)}, not {self.erp!r}")


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


class _Stopper:
    """SIGINT/SIGTERM: cancel the start while it prepares, stop the servers once they serve."""

    def __init__(self) -> None:
        self.requested = False
        self.servers: list[_Server] = []
        self._task = asyncio.current_task()

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self.stop)

    def stop(self) -> None:
        self.requested = True
        if self.servers:
            for each in self.servers:
                each.should_exit = True
        elif self._task is not None:
            self._task.cancel()


async def run(config: SandboxConfig, on_ready: Callable[[Endpoints], None]) -> None:
    """Serve until SIGINT/SIGTERM; ``on_ready`` receives the endpoints once all listen."""
    world = build_world(config.seed, config.customers, now=SandboxClock(config.now))
    salesforce = SalesforceEmulator(world)
    netsuite = NetSuiteEmulator(world) if config.erp == "netsuite" else None
    # The seeded records live as long as the process: keep them out of the garbage collector's
    # full collections, which otherwise stall a request now and then on a large world.
    gc.collect()
    gc.freeze()
    stopper = _Stopper()
    stopper.install()

    try:
        with contextlib.ExitStack() as cleanup:
            state_dir = config.state_dir
            if state_dir is None:  # a private directory that leaves with the process
                temporary = tempfile.TemporaryDirectory(prefix="accord-sandbox-")
                state_dir = Path(cleanup.enter_context(temporary))
            tls = issue_loopback_certificates(state_dir, config.host)
            if netsuite is not None:
                await _serve(config, world, salesforce, netsuite, tls, on_ready, stopper)
            else:
                await _serve_with_tryton(
                    config, world, salesforce, state_dir, tls, on_ready, stopper
                )
    except asyncio.CancelledError:
        if not stopper.requested:
            raise  # a stop asked by a signal ends the run normally; anything else propagates


async def _serve_with_tryton(
    config: SandboxConfig,
    world: World,
    salesforce: SalesforceEmulator,
    state_dir: Path,
    tls: TlsFiles,
    on_ready: Callable[[Endpoints], None],
    stopper: _Stopper,
) -> None:
    from sandbox.tryton.instance import TrytonSandbox  # only a Tryton sandbox needs the extra
    from sandbox.tryton.store import backend_for

    tryton = TrytonSandbox(
        world,
        backend_for(config.tryton_database_uri, config.tryton_cache_dir),
        host=config.host,
        state_dir=state_dir,
        tls=tls,
    )
    try:
        endpoint = await tryton.start()
        await _serve(config, world, salesforce, endpoint, tls, on_ready, stopper)
    finally:
        await asyncio.shield(tryton.stop())


async def _serve(
    config: SandboxConfig,
    world: World,
    salesforce: SalesforceEmulator,
    erp: NetSuiteEmulator | TrytonEndpoint,
    tls: TlsFiles,
    on_ready: Callable[[Endpoints], None],
    stopper: _Stopper,
) -> None:
    sf_sock = _bind(config.host, config.salesforce_port)
    ns_sock = (
        _bind(config.host, config.netsuite_port) if isinstance(erp, NetSuiteEmulator) else None
    )

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

    servers = [server(salesforce.app)]
    serving = [asyncio.create_task(servers[0].serve(sockets=[sf_sock]))]
    if isinstance(erp, NetSuiteEmulator):
        assert ns_sock is not None
        servers.append(server(erp.app))
        serving.append(asyncio.create_task(servers[1].serve(sockets=[ns_sock])))
    stopper.servers = servers
    if stopper.requested:  # a signal came while the servers were being built
        stopper.stop()
    while not all(s.started for s in servers):
        if any(task.done() for task in serving):
            for task in serving:
                if task.done() and task.exception():
                    raise RuntimeError("a sandbox emulator failed to start") from task.exception()
            raise RuntimeError("a sandbox emulator stopped during start-up")
        await asyncio.sleep(0.01)

    sf_url = _url("https", config.host, sf_sock)
    sf = salesforce.settings
    erp_endpoint: NetSuiteEndpoint | TrytonEndpoint
    if isinstance(erp, NetSuiteEmulator):
        assert ns_sock is not None
        ns_url = _url("https", config.host, ns_sock)
        ns = erp.settings
        erp_endpoint = NetSuiteEndpoint(
            base_url=ns_url,
            account_id=ns.account_id,
            token_url=f"{ns_url}/services/rest/auth/oauth2/v1/token",
            client_id=ns.client_id,
            client_secret=ns.client_secret,
            ca_file=str(tls.ca_file),
        )
    else:
        erp_endpoint = erp
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
            erp=erp_endpoint,
            sandbox=SandboxInfo(
                pid=os.getpid(),
                seed=config.seed,
                customers=config.customers,
                as_of=world.as_of.isoformat(),
                now=world.started.isoformat().replace("+00:00", "Z"),
                erp=config.erp,
            ),
        )
    )
    await asyncio.gather(*serving)
