"""The listening socket, accepted the way a thundering herd needs.

uvloop (libuv) accepts about one connection per event-loop iteration when
the loop is busy: during a burst of 1,000 connections on a loaded worker,
measured here, the accept queue drained at ~25 connections per second, so
hundreds of clients waited seconds before their first byte was even read
(their requests timed out while the served ones took milliseconds). The
stock asyncio loop accepts up to ``backlog`` connections per readiness
event, but is slower at everything else.

:class:`AcceptingSite` keeps uvloop for the connections and accepts them
itself: each time the listening socket is readable it accepts every
connection waiting (up to the backlog), then hands each to the loop's
``connect_accepted_socket``. With ``--workers N`` each worker has its own
``SO_REUSEPORT`` socket: the kernel spreads new connections over them by a
hash of the addresses (measured: 348 / 370 of 1,000 during a burst, the rest
still queued).

Closing a listening socket resets the connections in its accept queue and
those whose handshake is under way, after their clients may have sent a
request (measured: 2-6 requests reset per SIGTERM with a new connection per
request). :meth:`AcceptingSite.stop` closes it without losing one: on Linux a
socket filter first drops new handshakes (``SYN``: the client retries and
finds the port closed, or another worker), the handshakes under way get
``HANDSHAKE_WAIT`` to complete, then every connection waiting is accepted and
the socket closed in the same step, and the connections are served.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import logging
import socket
import struct
import sys
from typing import Any, Optional

from aiohttp import web

from .logs import LogThrottle

__all__ = ["AcceptingSite"]

log = logging.getLogger("server")
_THROTTLE = LogThrottle(limit=1, interval=60.0)
#: after running out of file descriptors, stop accepting for this long
EMFILE_PAUSE = 0.1
#: at close: how long the handshakes under way get to complete (an RTT, and more)
HANDSHAKE_WAIT = 0.1
_SO_ATTACH_FILTER = 26  # Linux
#: a classic BPF program run on each segment a listening socket receives (the
#: data starts at the TCP header): drop the segments with SYN set
_DROP_SYN = ((0x30, 0, 0, 13),  # ldb [13]: the TCP flags
             (0x45, 0, 1, 0x02),  # jset #SYN: to the next instruction, else skip it
             (0x06, 0, 0, 0),  # ret #0: drop
             (0x06, 0, 0, 0xFFFFFFFF))  # ret #-1: keep


def refuse_new_handshakes(sock: socket.socket) -> bool:
    """Make the listening ``sock`` drop new connection attempts (Linux);
    False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    program = ctypes.create_string_buffer(b"".join(struct.pack("=HBBI", *i) for i in _DROP_SYN))
    fprog = struct.pack("HP", len(_DROP_SYN), ctypes.addressof(program))  # struct sock_fprog
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
    except OSError:
        return False
    return True


class _Listener:
    """The listening sockets of one site (what aiohttp calls its server)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sockets: list[socket.socket], factory: Any,
                 backlog: int) -> None:
        self._loop = loop
        self.sockets = sockets
        self._factory = factory
        self._backlog = backlog
        self._tasks: set[asyncio.Task[Any]] = set()
        for sock in sockets:
            loop.add_reader(sock.fileno(), self._accept, sock)

    def _accept(self, sock: socket.socket) -> None:
        exc = self._accept_waiting(sock)
        if exc is not None:  # out of descriptors: let connections close, then go on
            if _THROTTLE.allow() is not None:
                log.error("cannot accept connections: %s; pausing for %g s", exc.strerror, EMFILE_PAUSE)
            self._loop.remove_reader(sock.fileno())
            self._loop.call_later(EMFILE_PAUSE, self._resume, sock)

    def _accept_waiting(self, sock: socket.socket) -> Optional[OSError]:
        """Accept every connection waiting (up to the backlog); the error when
        the process is out of descriptors."""
        loop = self._loop
        for _ in range(self._backlog + 1):
            try:
                conn, _addr = sock.accept()
            except (BlockingIOError, InterruptedError):
                return None
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    return exc
                continue  # ECONNABORTED and the like: that client is gone
            conn.setblocking(False)
            task = loop.create_task(loop.connect_accepted_socket(self._factory, conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return None

    def _resume(self, sock: socket.socket) -> None:
        if sock.fileno() != -1:
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    def close(self) -> None:
        """Stop listening. The connections already in the kernel's accept
        queue are accepted first (closing a listening socket resets them,
        after their clients may have sent a request), in the same step, so
        that no event-loop iteration separates the last accept from the
        close."""
        for sock in self.sockets:
            if sock.fileno() != -1:
                self._loop.remove_reader(sock.fileno())
                self._accept_waiting(sock)
                sock.close()

    async def stop(self) -> None:
        """Close without resetting a connection (the module's docstring), and
        wait until every accepted connection is handed to its protocol."""
        live = [sock for sock in self.sockets if sock.fileno() != -1]
        if [sock for sock in live if refuse_new_handshakes(sock)]:
            await asyncio.sleep(HANDSHAKE_WAIT)
        self.close()
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def listening_sockets(host: str, port: int, reuse_port: bool, backlog: int) -> list[socket.socket]:
    """Bound, listening, non-blocking sockets for every address of ``host``."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    seen = set()
    try:
        for family, kind, proto, _, address in infos:
            if (family, address) in seen:
                continue
            seen.add((family, address))
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class AcceptingSite(web.BaseSite):
    """A TCP site whose connections are accepted by :class:`_Listener`."""

    __slots__ = ("_host", "_port", "_reuse_port")

    def __init__(self, runner: web.BaseRunner, host: str, port: int, *, reuse_port: bool = False,
                 backlog: int = 1024) -> None:
        super().__init__(runner, backlog=backlog)
        self._host = host
        self._port = port
        self._reuse_port = reuse_port

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server: Optional[Any] = self._runner.server
        assert server is not None
        sockets = listening_sockets(self._host, self._port, self._reuse_port, self._backlog)
        self._server = _Listener(asyncio.get_running_loop(), sockets, server, self._backlog)  # type: ignore[assignment]

    async def stop(self) -> None:
        """Close the listening sockets without resetting a connection, then
        wait until those connections are handed to the server."""
        listener: Any = self._server
        if isinstance(listener, _Listener):
            await listener.stop()
        await super().stop()
