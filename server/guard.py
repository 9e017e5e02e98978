"""The guard in front of every guarded route (token routes, ``/verifyToken``,
``/encryption``), in two steps that the pipeline (:mod:`server.pipeline`)
runs on either side of reading the request body:

1. :meth:`Guard.authenticate`, from the headers alone (``401`` +
   ``WWW-Authenticate``); a failed attempt still spends one unit of the
   client's budget, so keys cannot be guessed at full speed;
2. :meth:`Guard.limit`, once the body is in: the rate limit per caller
   (``429`` + ``Retry-After``): API-key fingerprint, JWT ``sub``, or the
   client (:func:`server.ratelimit.client_bucket`: IPv6 by prefix) for
   anonymous callers.

Errors take the shape of the route family (``Route.error_shape``).
Policy and authorisation come later, in :mod:`server.issuing`, on the exact
values each token will carry.
"""

from __future__ import annotations

from typing import Awaitable, Optional

from aiohttp import web

from . import audit, metrics
from .auth import Authenticator
from .config import Settings
from .errors import STORAGE_DENIED, AuthError, StorageUnavailable
from .ratelimit import RateLimiter, client_bucket, request_client_ip
from .responses import error_response, shaped_error
from .state import RequestContext

__all__ = ["Guard", "STORAGE_DENIED"]


def _shape(ctx: RequestContext) -> str:
    return ctx.route.error_shape if ctx.route is not None else "error"


class Guard:
    def __init__(self, settings: Settings) -> None:
        self.authenticator = Authenticator(settings.auth)
        self.limiter = RateLimiter.from_settings(settings.rate_limit)
        self.trust_proxy = settings.rate_limit.trust_proxy
        self.ipv6_prefix = settings.rate_limit.ipv6_prefix

    @property
    def active(self) -> bool:
        """False in drop-in mode (no authentication, no rate limit)."""
        return self.authenticator.enabled or self.limiter is not None

    def client_address(self, request: web.Request, ctx: RequestContext) -> str:
        """The client address (the proxy-resolved one under ``TRUST_PROXY``), kept in ``ctx``."""
        if ctx.remote is None:
            ctx.remote = request_client_ip(request, self.trust_proxy)
        return ctx.remote

    def caller_key(self, request: web.Request, ctx: RequestContext) -> str:
        """The key of the limits kept per caller: the authenticated caller's
        id, else the client's bucket."""
        caller = ctx.caller
        if caller is not None and caller.kind != "anonymous":
            return caller.id
        return client_bucket(self.client_address(request, ctx), self.ipv6_prefix)

    async def authenticate(self, request: web.Request, ctx: RequestContext) -> Optional[web.Response]:
        """None (the caller is now in ``ctx.caller``), else the 401 (or 503,
        or the client's 429) to answer. Reads the headers only."""
        try:
            ctx.caller = await self.authenticator.authenticate(request.headers)
        except AuthError as err:
            metrics.LOCAL.auth_failure(err.reason)
            if self.limiter is not None:
                denied = await self._limit(self.caller_key(request, ctx), ctx)  # no caller: the client's bucket
                if denied is not None:
                    return denied
            if err.status == 401:
                audit.denied(ctx, 401, err.reason)
            return error_response(_shape(ctx), err)
        return None

    def limit(self, request: web.Request, ctx: RequestContext) -> Awaitable[Optional[web.Response]]:
        """(To await, with a limiter configured) None to let the authenticated
        request through, else the 429 (or 503) to answer. Not a coroutine
        itself: one frame less on the hot path."""
        return self._limit(self.caller_key(request, ctx), ctx)

    async def _limit(self, key: str, ctx: RequestContext) -> Optional[web.Response]:
        assert self.limiter is not None
        try:
            retry = await self.limiter.hit(key)
        except StorageUnavailable as err:
            return error_response(_shape(ctx), err)
        if retry is None:
            return None
        metrics.LOCAL.rate_limited += 1
        audit.denied(ctx, 429, "rate_limited")
        return shaped_error(_shape(ctx), 429, f"rate limit exceeded: retry in {retry} s",
                            {"Retry-After": str(retry)})
