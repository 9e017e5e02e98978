"""What one running app holds (``app[STATE]``) and what one request carries
(``request[CONTEXT]``)."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Optional, Union

from aiohttp import web

from .config import Settings

if TYPE_CHECKING:
    from .accesslog import AccessLog
    from .auth import Caller
    from .cors import CorsPolicy
    from .guard import Guard
    from .issuing import Issuer
    from .token_routes import TokenRoutes

__all__ = ["CONTEXT", "GUARD_SCHEMES", "PerApp", "RequestContext", "Route", "STATE", "ServiceState", "new_request_id"]


Handler = Callable[["web.Request"], Awaitable["web.StreamResponse"]]
_PARAMETER = re.compile(r"\{(\w+)(?::[^}]*)?\}")
#: the security schemes a guarded route takes (either one; none while authentication is off)
GUARD_SCHEMES = ("bearerAuth", "apiKeyAuth")


@dataclass(frozen=True)
class PerApp:
    """A handler bound to one app: ``bind(tokens)`` returns it from the app's
    :class:`server.token_routes.TokenRoutes` (which holds the app's issuer)."""

    bind: Callable[["TokenRoutes"], Handler]


@dataclass(frozen=True)
class Route:
    """One endpoint, declared once (:data:`server.routes.ROUTES`): the router
    registers it, the pipeline (:mod:`server.pipeline`) treats it by its
    flags, and the OpenAPI document (:mod:`server.openapi`) describes it.

    ``path`` is aiohttp's (``{name:regex}`` parameters); :attr:`template` is
    the path with bare ``{name}`` parameters (metrics, logs, traces, the
    OpenAPI path)."""

    method: str
    path: str
    #: the handler, or :class:`PerApp` for one bound to the app's token routes
    handler: Union[Handler, PerApp]
    #: the OpenAPI operation id (also the key of its details in :mod:`server.openapi`)
    operation_id: str
    summary: str
    #: the OpenAPI tag the operation is listed under
    tag: str
    #: behind authentication and the rate limit
    guarded: bool = False
    #: token work: subject to load shedding (never /ping, /healthz, /metrics)
    sheddable: bool = False
    #: the body shape of this route family's errors, the pipeline's included
    #: (:func:`server.responses.error_body`): ``"error"`` ``{"error"}``, ``"code"``
    #: ``{"code": -1, "message", "data": ""}`` (``/token/generate``); ``"status"`` is the deprecated
    #: GET routes' own (``{"status": 400, "message"}``, ``{"status", "error"}``), not their pipeline's
    error_shape: str = "error"
    #: the OpenAPI security schemes of a route that checks its own credential (``/metrics``);
    #: a guarded route takes :data:`GUARD_SCHEMES`
    security: tuple[str, ...] = ()
    template: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "template", _PARAMETER.sub(r"{\1}", self.path))

    @property
    def parameters(self) -> list[str]:
        """The names of the path parameters, in order."""
        return _PARAMETER.findall(self.path)

    @property
    def takes_body(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH")

    @property
    def schemes(self) -> tuple[str, ...]:
        """The security schemes a caller may use (any one, or none while none is configured)."""
        return GUARD_SCHEMES if self.guarded else self.security

    @property
    def pipeline_errors(self) -> tuple[int, ...]:
        """The error statuses the pipeline itself can answer on this route
        (the handler's own come on top): ``403`` (CORS), on a guarded route
        ``401`` and ``429``, on a route that takes a body ``400`` (a body that
        cannot be read), ``408``, ``413`` and ``415``, and ``503`` on a
        guarded or sheddable one."""
        statuses = [403]
        if self.guarded:
            statuses += [401, 429]
        if self.takes_body:
            statuses += [400, 408, 413, 415]
        if self.guarded or self.sheddable:
            statuses.append(503)
        return tuple(sorted(statuses))


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

    def __init__(self, request_id: str, route: Optional[Route]) -> None:
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
