"""The socket Accord serves on, bound before the server starts.

Binding first means the address Accord prints is the one it really listens on (a host name
resolved to the address it stands for), and that an address that cannot be had (a port in
use or privileged, an address this machine does not have) stops the start with one line
saying so, instead of a traceback from inside the server.
"""

from __future__ import annotations

import socket

__all__ = ["ListenError", "address_of", "listen"]


class ListenError(Exception):
    """The address cannot be listened on; the message is the one line to show."""


def listen(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` (the first address the host resolves to).

    ``reuse_port``: several such sockets may be bound to the same port (``SO_REUSEPORT``),
    one per worker process, and the kernel spreads new connections across them."""
    try:
        found = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise ListenError(f"--host {host}: {exc.strerror}") from None
    family, kind, proto, _, address = found[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ListenError(
            f"cannot listen on {_format(str(address[0]), port)} (--host {host} --port {port}): "
            f"{exc.strerror or exc}"
        ) from None
    return sock


def address_of(sock: socket.socket) -> str:
    """``host:port`` of a bound socket, as a URL writes it."""
    host, port = sock.getsockname()[:2]
    return _format(str(host), int(port))


def _format(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
