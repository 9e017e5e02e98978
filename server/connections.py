"""Bounded connections: how long a client may take to send a request, how
long an idle connection is kept, and how many connections one process holds.

Each timeout measures one phase of one request, and starts again at every
request boundary:

* ``HTTP_HEADER_TIMEOUT`` (default 10 s): from the first byte of a request
  head (or the connection's opening, for its first request) to the complete
  head. Slow ("slowloris") and silent connections are closed when it runs
  out. Bytes of a request body are never taken for the start of a head, so a
  body sent in a later TCP segment than its head, or after ``Expect:
  100-continue``, does not start it.
* ``HTTP_BODY_TIMEOUT`` (default 10 s): for a request body to arrive (408
  after that, :func:`server.pipeline.read_body`); also how long an unread body
  is drained after the answer.
* ``HTTP_KEEPALIVE_TIMEOUT`` (default 75 s): an idle kept-alive connection
  (an answer sent, no byte of the next request yet) is closed after it. Keep
  it above your load balancer's idle timeout (AWS ALB: 60 s), or the balancer
  may reuse a connection just as it closes. Once a head starts to arrive,
  only ``HTTP_HEADER_TIMEOUT`` applies to it.
* ``HTTP_MAX_CONNECTIONS`` (default: 4096): open connections per process,
  lowered at start-up to what the open-file limit allows less
  ``FD_HEADROOM`` descriptors kept for Redis, logs and JWKS (one warning line
  when a configured cap does not fit: :func:`connection_cap_warning`). At the
  cap a new connection is admitted by closing the least recently active
  connection that is idle or still sending its request head; when every
  connection is busy with a request, the new one is closed instead. So a
  flood of idle or slow connections cannot lock out new clients
  (``/healthz`` keeps working).
* ``SHUTDOWN_DELAY`` (default 5 s) and ``SHUTDOWN_GRACE`` (default 15 s): the
  graceful shutdown (:mod:`server.runner`, :meth:`ConnectionTracker.drain`).

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

from aiohttp import web, web_protocol
from aiohttp.http_exceptions import BadHttpMessage
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler

from . import metrics
from .env import env_int, env_seconds
from .logs import LogThrottle
from .responses import ENCODED_BODY, IDENTITY_ONLY, shaped_error

__all__ = ["ConnectionSettings", "ConnectionTracker", "ServiceRunner", "connection_cap_warning",
           "parse_connection_settings"]

log = logging.getLogger("server.connections")

DEFAULT_MAX_CONNECTIONS = 4096
#: open files kept for everything but client connections (Redis, logs, JWKS, the listener...)
FD_HEADROOM = 128
#: the least connection cap, whatever the open-file limit
MIN_CONNECTIONS = 16
#: how often the drain looks for connections to close (and for the last one gone)
DRAIN_POLL = 0.05
#: the drain closes a kept-alive connection once it has been idle this long: a
#: connection in use gets its next answer with ``Connection: close`` instead
#: (a balancer reuses its most recently used connections first), so fewer
#: requests meet a connection closing under them
DRAIN_IDLE = 0.25

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
    #: on SIGTERM/SIGHUP: seconds of normal service (``/readyz`` 503) before the drain
    shutdown_delay: float = 5.0
    shutdown_grace: float = 15.0


#: the variables :func:`parse_connection_settings` reads
VARIABLES = ("HTTP_HEADER_TIMEOUT", "HTTP_BODY_TIMEOUT", "HTTP_KEEPALIVE_TIMEOUT", "HTTP_MAX_CONNECTIONS",
             "SHUTDOWN_DELAY", "SHUTDOWN_GRACE")


def parse_connection_settings(env: Mapping[str, str]) -> ConnectionSettings:
    d = ConnectionSettings()
    return ConnectionSettings(
        header_timeout=env_seconds(env, "HTTP_HEADER_TIMEOUT", d.header_timeout, 0.1, 600),
        body_timeout=env_seconds(env, "HTTP_BODY_TIMEOUT", d.body_timeout, 0.1, 600),
        keepalive_timeout=env_seconds(env, "HTTP_KEEPALIVE_TIMEOUT", d.keepalive_timeout, 0.1, 3600),
        max_connections=env_int(env, "HTTP_MAX_CONNECTIONS", 0, 0, 1_000_000),
        shutdown_delay=env_seconds(env, "SHUTDOWN_DELAY", d.shutdown_delay, 0, 600),
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


def _fd_cap() -> int:
    """The connections the soft open-file limit in force leaves room for."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return 1 << 30
    return max(MIN_CONNECTIONS, int(soft) - FD_HEADROOM)


def effective_max_connections(settings: ConnectionSettings) -> int:
    """``HTTP_MAX_CONNECTIONS`` (or the default), lowered to fit the open-file limit."""
    return min(settings.max_connections or DEFAULT_MAX_CONNECTIONS, _fd_cap())


def connection_cap_warning(settings: ConnectionSettings) -> Optional[str]:
    """The one start-up warning when a configured ``HTTP_MAX_CONNECTIONS``
    does not fit the open-file limit (call after :func:`raise_open_file_limit`)."""
    wanted = settings.max_connections
    cap = effective_max_connections(settings)
    if not wanted or wanted <= cap:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return (f"HTTP_MAX_CONNECTIONS={wanted} does not fit the open-file limit ({soft}, hard limit {hard}) "
            f"less {FD_HEADROOM} files kept for Redis, logs and JWKS: at most {cap} connections per process "
            "(raise the limit, e.g. ulimit -n or systemd LimitNOFILE=, or lower HTTP_MAX_CONNECTIONS)")


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

    def close_idle(self, longer_than: float = 0.0) -> int:
        """Close the kept-alive connections waiting for a next request (no
        byte of one yet) for ``longer_than`` seconds or more; returns how many."""
        since = asyncio.get_running_loop().time() - longer_than
        idle = [p for p in self.conns if p.idle and p.idle_since <= since]
        for proto in idle:
            proto.force_close()
        return len(idle)

    async def drain(self, deadline: float) -> None:
        """The graceful shutdown, once the listener is closed and the process
        drains (every answer then closes its connection): until every
        connection is gone or the event-loop time ``deadline``, close the
        kept-alive connections idle for ``DRAIN_IDLE``. Connections not yet
        done with their first request head (just accepted, some from the
        accept queue when the listener closed) are served, not closed: their
        client has sent or is sending a request, and ``HTTP_HEADER_TIMEOUT``
        bounds them."""
        loop = asyncio.get_running_loop()
        while self.conns and loop.time() < deadline:
            self.close_idle(DRAIN_IDLE)
            await asyncio.sleep(DRAIN_POLL)


_data_received = RequestHandler.data_received
_ErrInfo = web_protocol._ErrInfo


class ServiceProtocol(RequestHandler):
    """aiohttp's request handler, tracked: ``head_since`` is when the request
    head now awaited started to arrive (the connection's opening for the first
    one), None while a request is being served, its body arrives, or the
    connection is idle."""

    __slots__ = ("head_at", "head_since", "_body", "_tracker")

    def __init__(self, manager: Any, *, tracker: ConnectionTracker, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._tracker = tracker
        self.head_since: Optional[float] = self._loop.time()
        #: time.monotonic() when the latest complete request head was read (load shedding)
        self.head_at = 0.0
        #: the body of the latest request whose head was read
        self._body: Optional[StreamReader] = None

    @property
    def idle(self) -> bool:
        """Kept alive between requests: at least one answered, waiting for the
        next, and no byte of it has arrived."""
        waiter = self._waiter
        return (self._request_count > 0 and self.head_since is None and waiter is not None
                and not waiter.done())

    @property
    def idle_since(self) -> float:
        """When the latest answer was sent (event-loop time; meaningful while :attr:`idle`)."""
        return self._next_keepalive_close_time - self._keepalive_timeout

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._tracker.add(self)

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        self._tracker.remove(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        count = self._request_count
        body = self._body
        in_body = body is not None and not body.is_eof()  # these bytes continue a body
        _data_received(self, data)
        if self._request_count != count:  # a complete request head (or more, pipelined)
            if in_body and body is not None and self._messages and isinstance(self._messages[-1][0], _ErrInfo):
                # the C parser reports a broken body (a bad chunk) as a new,
                # malformed message: tell the body's reader, which answers 400 at once
                body.set_exception(BadHttpMessage("malformed request body"))
            self.head_at = monotonic()
            self.head_since = None
            self._body = self._messages[-1][1] if self._messages else None
            conns = self._tracker.conns  # most recently active last
            if conns.pop(self, 0) is None:
                conns[self] = None
        elif self.head_since is None and data and not in_body:
            # the first bytes of the next request head: from now on its time is
            # HTTP_HEADER_TIMEOUT's (the sweeper), no longer the keep-alive timer's
            now = self._loop.time()
            self.head_since = now
            self._next_keepalive_close_time = max(self._next_keepalive_close_time,
                                                  now + self._tracker.settings.header_timeout + 1)

    def _process_keepalive(self) -> None:
        # aiohttp sets the keep-alive deadline once the answer is written; bytes
        # of the next head may have arrived just before that (a client quick to
        # reuse the connection, a loaded server). Once a head is arriving the
        # connection is no longer idle: HTTP_HEADER_TIMEOUT (the sweeper) bounds it.
        if self.head_since is not None:
            self._keepalive_handle = None
            return
        super()._process_keepalive()

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
        # refused by the HTTP parser, before the request is routed: its route (and so
        # its family's error shape) is unknown, so the answer is {"error": ...}
        if what == "ContentEncodingError":  # an encoding aiohttp cannot decode (br, zstd): as any other
            resp = shaped_error("error", 415, ENCODED_BODY, IDENTITY_ONLY)
        else:
            resp = shaped_error("error", 400, _PARSE_ERRORS.get(what, "malformed HTTP request"))
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

    def set_shutdown_timeout(self, seconds: float) -> None:
        """What :meth:`cleanup` gives requests still in progress (at least a
        moment: aiohttp takes 0 for no limit)."""
        self._shutdown_timeout = max(0.1, seconds)

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()
        return ServiceServer(plain.request_handler, request_factory=plain.request_factory,
                             handler_cancellation=plain.handler_cancellation, loop=plain._loop,
                             tracker=self.tracker, **plain._kwargs)
