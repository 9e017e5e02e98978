"""What one running app holds (``app[STATE]``) and what one request carries
(``request[CONTEXT]``)."""

from __future__ import annotations

import asyncio
import os
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from aiohttp import web

from .config import Settings

if TYPE_CHECKING:
    from .accesslog import AccessLog
    from .auth import Caller
    from .cors import CorsPolicy
    from .guard import Guard
    from .issuing import Issuer

__all__ = ["CONTEXT", "RequestContext", "STATE", "ServiceState", "new_request_id"]


@dataclass(frozen=True)
class RouteInfo:
    """What the pipeline needs to know about a registered route."""

    template: str
    #: behind authentication and the rate limit
    guarded: bool = False
    #: token work: subject to load shedding (never /ping, /healthz, /metrics)
    sheddable: bool = False
    #: the body shape of this route family's errors (:func:`server.responses.shaped_error`):
    #: ``"error"`` ``{"error"}``, ``"status"`` ``{"status", "message"}`` (the deprecated GET
    #: routes' bad parameters), ``"code"`` ``{"code": -1, "message", "data": ""}`` (``/token/generate``)
    error_shape: str = "error"


@dataclass
class ServiceState:
    settings: Settings
    cors: "CorsPolicy"
    issuer: "Issuer"
    guard: Optional["Guard"]
    access: Optional["AccessLog"]
    #: failed METRICS_TOKEN attempts per client address (when METRICS_TOKEN is set)
    metrics_limiter: Any = None
    #: set at SIGTERM/SIGHUP: ``/readyz`` answers 503 from then on, while the
    #: process still serves normally for ``SHUTDOWN_DELAY`` (until ``draining``)
    stopping: bool = False
    #: set when the process starts its graceful shutdown: every response then
    #: carries ``Connection: close``
    draining: bool = False
    #: token requests in progress (load shedding, :mod:`server.overload`)
    inflight: int = 0
    #: event-loop time by which the drain must be over
    drain_deadline: float = 0.0
    _drain_future: Optional["asyncio.Future[None]"] = None

    @property
    def rate_limiter(self) -> Any:
        """The callers' :class:`server.ratelimit.RateLimiter`, when ``RATE_LIMIT`` is set."""
        return self.guard.limiter if self.guard is not None else None

    @property
    def jwks(self) -> Any:
        """The JWKS key cache (:class:`server.jwks.JwksKeys`), when ``AUTH_JWKS_URL`` is set."""
        jwt = self.guard.authenticator.jwt if self.guard is not None else None
        return jwt.keys if jwt is not None else None

    def drain_started(self) -> "asyncio.Future[None]":
        """A future that completes when the drain starts."""
        if self._drain_future is None:
            self._drain_future = asyncio.get_running_loop().create_future()
            if self.draining:
                self._drain_future.set_result(None)
        return self._drain_future

    def start_draining(self, grace: float) -> None:
        """Begin the graceful shutdown: answers close their connections, body
        reads wait at most until ``grace`` seconds from now."""
        self.draining = True
        self.drain_deadline = asyncio.get_running_loop().time() + grace
        if self._drain_future is not None and not self._drain_future.done():
            self._drain_future.set_result(None)


class RequestContext:
    """Per-request values shared by the pipeline, the issuing code and the logs."""

    __slots__ = ("request_id", "route", "caller", "remote")

    def __init__(self, request_id: str, route: Optional[RouteInfo]) -> None:
        self.request_id = request_id
        self.route = route
        self.caller: Optional["Caller"] = None
        self.remote: Optional[str] = None


STATE = web.AppKey("agora_token_state", ServiceState)
CONTEXT: Any = (web.RequestKey("agora_token_context", RequestContext) if hasattr(web, "RequestKey")
                else "agora_token_context")

# Request ids: a random per-process prefix and a counter: unique across
# processes (the prefix is redrawn in a forked worker) and far cheaper than
# drawing 16 random bytes per request.
_prefix = ""
_counter = 0


def _new_prefix() -> None:
    global _prefix, _counter
    _prefix = secrets.token_hex(10)
    _counter = 0


_new_prefix()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_prefix)


def new_request_id() -> str:
    """32 hex digits, unique within and across processes."""
    global _counter
    _counter += 1
    return f"{_prefix}{_counter:012x}"
