"""Bounded connections: how long a client may take to send a request, how
long an idle connection is kept, and how many connections one process holds.

* ``HTTP_HEADER_TIMEOUT`` (default 10 s): from a connection's first byte (or
  its opening) to a complete request head. Slow ("slowloris") and silent
  connections are closed when it runs out.
* ``HTTP_BODY_TIMEOUT`` (default 10 s): for a request body to arrive (408
  after that); also how long an unread body is drained after the answer.
* ``HTTP_KEEPALIVE_TIMEOUT`` (default 75 s): an idle kept-alive connection is
  closed after it. Keep it above your load balancer's idle timeout (AWS ALB:
  60 s), or the balancer may reuse a connection just as it closes.
* ``HTTP_MAX_CONNECTIONS`` (default: 4096, or the open-file limit minus 128
  when that is lower): open connections per process. At the cap a new
  connection is admitted by closing the least recently active connection
  that is idle or still sending its request head; when every connection is
  busy with a request, the new one is closed instead. So a flood of idle or
  slow connections cannot lock out new clients (``/healthz`` keeps working).

A malformed request is answered ``400`` with a JSON body and logged as one
short line (no traceback, none of the client's bytes), at most a few lines per
10 seconds plus a count of the lines left out.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from dataclasses import dataclass
from time import monotonic
from typing import Any, Mapping, Optional

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from . import metrics
from .env import env_int, env_seconds
from .logs import LogThrottle
from .responses import json_error

__all__ = ["ConnectionSettings", "ConnectionTracker", "ServiceRunner", "parse_connection_settings"]

log = logging.getLogger("server.connections")

DEFAULT_MAX_CONNECTIONS = 4096
FD_HEADROOM = 128

# What a client is told about its malformed request (never its own bytes).
_PARSE_ERRORS = {
    "LineTooLong": "a request line or header is longer than 8190 bytes",
    "BadStatusLine": "malformed request line",
    "BadHttpMethod": "malformed request method",
    "InvalidURLError": "malformed request target",
    "InvalidHeader": "malformed header",
    "BadHttpMessage": "malformed request",
    "TransferEncodingError": "malformed chunked body",
    "ContentLengthError": "malformed Content-Length",
}
_THROTTLE = LogThrottle(limit=5, interval=10.0)


@dataclass(frozen=True)
class ConnectionSettings:
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    keepalive_timeout: float = 75.0
    #: 0: automatic (see :func:`effective_max_connections`)
    max_connections: int = 0
    shutdown_grace: float = 15.0


def parse_connection_settings(env: Mapping[str, str]) -> ConnectionSettings:
    d = ConnectionSettings()
    return ConnectionSettings(
        header_timeout=env_seconds(env, "HTTP_HEADER_TIMEOUT", d.header_timeout, 0.1, 600),
        body_timeout=env_seconds(env, "HTTP_BODY_TIMEOUT", d.body_timeout, 0.1, 600),
        keepalive_timeout=env_seconds(env, "HTTP_KEEPALIVE_TIMEOUT", d.keepalive_timeout, 0.1, 3600),
        max_connections=env_int(env, "HTTP_MAX_CONNECTIONS", 0, 0, 1_000_000),
        shutdown_grace=env_seconds(env, "SHUTDOWN_GRACE", d.shutdown_grace, 0, 600),
    )


def raise_open_file_limit() -> int:
    """Raise this process's soft open-file limit to its hard limit (as Go
    does); returns the soft limit now in force."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard > 1 << 20:
            hard = 1 << 20
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        return int(soft)
    except (ValueError, OSError):  # pragma: no cover - not allowed here
        return int(resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def effective_max_connections(settings: ConnectionSettings) -> int:
    if settings.max_connections:
        return settings.max_connections
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return max(16, min(DEFAULT_MAX_CONNECTIONS, int(soft) - FD_HEADROOM))


class ConnectionTracker:
    """The open connections of one process, least recently active first."""

    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings
        self.max_connections = effective_max_connections(settings)
        self.conns: dict["ServiceProtocol", None] = {}
        self._sweeper: Optional["asyncio.Task[None]"] = None

    def __len__(self) -> int:
        return len(self.conns)

    def add(self, proto: "ServiceProtocol") -> None:
        conns = self.conns
        conns[proto] = None
        if len(conns) > self.max_connections:
            for other in conns:
                if other is not proto and not other._request_in_progress:
                    victim = other
                    break
            else:
                victim = proto  # every other connection is serving a request
            # out of the count now: its connection_lost comes a loop iteration later,
            # after a whole batch of accepted connections (listener.py) was added
            del conns[victim]
            metrics.LOCAL.connection_closed("evicted")
            victim.force_close()

    def remove(self, proto: "ServiceProtocol") -> None:
        self.conns.pop(proto, None)

    def start(self) -> None:
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            try:
                await self._sweeper
            except asyncio.CancelledError:
                pass

    async def _sweep(self) -> None:
        """Close connections whose request head is late."""
        loop = asyncio.get_running_loop()
        limit = self.settings.header_timeout
        interval = min(1.0, limit / 4)
        while True:
            await asyncio.sleep(interval)
            deadline = loop.time() - limit
            late = [p for p in self.conns if p.head_since is not None and p.head_since < deadline]
            for proto in late:
                metrics.LOCAL.connection_closed("header_timeout")
                proto.force_close()


_data_received = RequestHandler.data_received


class ServiceProtocol(RequestHandler):
    """aiohttp's request handler, tracked: ``head_since`` is when the request
    head now awaited started to arrive (the connection's opening for the first
    one), None while a request is being served or the connection is idle."""

    __slots__ = ("head_at", "head_since", "_tracker")

    def __init__(self, manager: Any, *, tracker: ConnectionTracker, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._tracker = tracker
        self.head_since: Optional[float] = self._loop.time()
        #: time.monotonic() when the latest complete request head was read (load shedding)
        self.head_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._tracker.add(self)

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        self._tracker.remove(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        count = self._request_count
        _data_received(self, data)
        if self._request_count != count:  # a complete request head
            self.head_at = monotonic()
            self.head_since = None
            conns = self._tracker.conns  # most recently active last
            if conns.pop(self, 0) is None:
                conns[self] = None
        elif self.head_since is None and data:
            self.head_since = self._loop.time()

    def handle_error(self, request: Any, status: int = 500, exc: Optional[BaseException] = None,
                     message: Optional[str] = None) -> web.StreamResponse:
        if status != 400:
            return super().handle_error(request, status, exc, message)
        # a malformed request: a short, throttled line; nothing the client sent
        what = type(exc).__name__ if exc is not None else "BadHttpMessage"
        dropped = _THROTTLE.allow()
        if dropped is not None:
            log.warning("malformed request from %s: %s%s", request.remote, what,
                        f" ({dropped} more left out)" if dropped else "")
        metrics.LOCAL.observe(metrics.UNMATCHED, "other", 400, 0.0)
        if request.writer.output_size > 0:
            raise ConnectionError("response already started")
        resp = json_error(400, _PARSE_ERRORS.get(what, "malformed HTTP request"))
        resp.force_close()
        return resp


class ServiceServer(web.Server):
    """aiohttp's low-level server, making :class:`ServiceProtocol` connections."""

    def __init__(self, *args: Any, tracker: ConnectionTracker, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tracker = tracker

    def __call__(self) -> RequestHandler:
        return ServiceProtocol(self, loop=self._loop, tracker=self.tracker, **self._kwargs)


class ServiceRunner(web.AppRunner):
    """An AppRunner whose server tracks and bounds its connections."""

    def __init__(self, app: web.Application, tracker: ConnectionTracker, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.tracker = tracker

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()
        return ServiceServer(plain.request_handler, request_factory=plain.request_factory,
                             handler_cancellation=plain.handler_cancellation, loop=plain._loop,
                             tracker=self.tracker, **plain._kwargs)
