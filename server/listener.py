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
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from typing import Any, Optional

from aiohttp import web

from .logs import LogThrottle

__all__ = ["AcceptingSite"]

log = logging.getLogger("server")
_THROTTLE = LogThrottle(limit=1, interval=60.0)
#: after running out of file descriptors, stop accepting for this long
EMFILE_PAUSE = 0.1


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
        loop = self._loop
        for _ in range(self._backlog):
            try:
                conn, _addr = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # out of descriptors: let connections close, then go on
                    if _THROTTLE.allow() is not None:
                        log.error("cannot accept connections: %s; pausing for %g s", exc.strerror, EMFILE_PAUSE)
                    loop.remove_reader(sock.fileno())
                    loop.call_later(EMFILE_PAUSE, self._resume, sock)
                    return
                continue  # ECONNABORTED and the like: that client is gone
            conn.setblocking(False)
            task = loop.create_task(loop.connect_accepted_socket(self._factory, conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _resume(self, sock: socket.socket) -> None:
        if sock.fileno() != -1:
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    def close(self) -> None:
        for sock in self.sockets:
            if sock.fileno() != -1:
                self._loop.remove_reader(sock.fileno())
                sock.close()


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
