"""Worker processes sharing one port, so that Accord uses every core of its machine.

The supervising process binds one socket per worker to the same address (``SO_REUSEPORT``:
the kernel spreads new connections across them, so no worker can take them all while the
others sleep) and starts each worker as a fresh interpreter (``spawn``) that builds its own
application and serves its socket. Workers share nothing in memory: they are replicas on one
port, and everything that must be the same across them (state, events, caches, idempotency)
lives in Redis, exactly as for replicas on several machines.

The supervisor keeps its copy of every socket, so connections waiting in a worker's queue
survive that worker: a worker that dies after it started is started again on its socket. A
worker that dies before it started (a failed start-up check, a source misconfigured) stops
them all, since its siblings would fail the same way. SIGTERM or Ctrl-C stops every worker
gracefully (each finishes the requests it holds), then the supervisor returns.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Protocol

__all__ = ["WorkerFailed", "WorkerTarget", "available_cores", "run_workers"]

logger = logging.getLogger("accord.workers")

START_TIMEOUT = 120.0  # seconds for a worker to build its application and start serving
STOP_TIMEOUT = 30.0  # seconds for a worker to finish its requests once told to stop


class WorkerTarget(Protocol):
    """What each worker runs: serve ``sock`` (worker number ``index``) until told to stop,
    calling ``started`` once it accepts connections. Must be picklable (a module-level
    function, or a partial of one over picklable arguments)."""

    def __call__(self, sock: socket.socket, index: int, started: Callable[[], None]) -> None: ...


class WorkerFailed(Exception):
    """A worker exited before it started serving; the message says which and how."""


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _worker_main(
    target: WorkerTarget,
    sock: socket.socket,
    index: int,
    ready: multiprocessing.connection.Connection,
) -> None:
    # the supervisor's signal handlers are not inherited by a spawned interpreter; uvicorn
    # installs its own while serving
    def started() -> None:
        ready.send(os.getpid())
        ready.close()

    target(sock, index, started)


@dataclass
class _Worker:
    index: int
    sock: socket.socket
    process: BaseProcess
    ready: multiprocessing.connection.Connection
    started: bool = False


class _Supervisor:
    def __init__(self, target: WorkerTarget, sockets: Sequence[socket.socket]) -> None:
        self.target = target
        self.sockets = sockets
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[_Worker] = []

    def start(self, index: int, sock: socket.socket) -> _Worker:
        receive, send = self.context.Pipe(duplex=False)
        process = self.context.Process(
            target=_worker_main,
            args=(self.target, sock, index, send),
            name=f"accord-worker-{index}",
            daemon=False,
        )
        process.start()
        send.close()  # the child holds its end; EOF here means it exited
        return _Worker(index, sock, process, receive)

    def wait_started(self) -> list[int]:
        deadline = time.monotonic() + START_TIMEOUT
        waiting = {worker.ready: worker for worker in self.workers}
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WorkerFailed(f"{len(waiting)} worker(s) did not start in {START_TIMEOUT} s")
            for conn in multiprocessing.connection.wait(list(waiting), left):
                assert isinstance(conn, multiprocessing.connection.Connection)
                worker = waiting.pop(conn)
                try:
                    conn.recv()
                except EOFError:
                    worker.process.join(5)
                    raise WorkerFailed(
                        f"worker {worker.index} exited at start "
                        f"(exit code {worker.process.exitcode})"
                    ) from None
                worker.started = True
                conn.close()
        return [worker.process.pid or 0 for worker in self.workers]

    def watch(self) -> None:
        """Start again any worker that dies after it started, until interrupted."""
        while True:
            sentinels = {worker.process.sentinel: worker for worker in self.workers}
            for ended in multiprocessing.connection.wait(list(sentinels)):
                assert isinstance(ended, int)
                dead = sentinels[ended]
                dead.process.join()
                logger.warning(
                    "worker %d (pid %s) exited with code %s; starting it again",
                    dead.index,
                    dead.process.pid,
                    dead.process.exitcode,
                )
                replacement = self.start(dead.index, dead.sock)
                self.workers[self.workers.index(dead)] = replacement
                try:
                    replacement.ready.recv()
                except EOFError:
                    raise WorkerFailed(
                        f"worker {dead.index} could not be started again "
                        f"(exit code {replacement.process.exitcode})"
                    ) from None
                replacement.started = True
                logger.warning(
                    "worker %d started again (pid %s)", dead.index, replacement.process.pid
                )

    def stop(self) -> None:
        for worker in self.workers:
            if worker.process.is_alive() and worker.process.pid is not None:
                os.kill(worker.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for worker in self.workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                logger.warning("worker %d did not stop in time; killing it", worker.index)
                worker.process.kill()
                worker.process.join(5)
            worker.ready.close()


def run_workers(
    target: WorkerTarget,
    sockets: Sequence[socket.socket],
    *,
    on_started: Callable[[list[int]], None] | None = None,
) -> None:
    """Run one worker per socket until the calling process is interrupted (SIGTERM turned
    into an exception by its handler, or KeyboardInterrupt), then stop them all.

    ``on_started`` gets the workers' process ids once every one of them serves. Raises
    `WorkerFailed` when a worker exits before it starts."""
    supervisor = _Supervisor(target, sockets)
    try:
        for index, sock in enumerate(sockets):
            sock.listen(2048)  # connections queue from now on, before the worker accepts
            supervisor.workers.append(supervisor.start(index, sock))
        pids = supervisor.wait_started()
        if on_started is not None:
            on_started(pids)
        supervisor.watch()
    finally:
        supervisor.stop()
