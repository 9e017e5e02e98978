"""The guard in front of every guarded route (token routes, ``/verifyToken``,
``/encryption``): authentication, then the per-caller rate limit.

1. authenticate (``401`` + ``WWW-Authenticate``); a failed attempt still
   spends one unit of the client address's budget, so keys cannot be guessed
   at full speed;
2. rate limit per caller (``429`` + ``Retry-After``): API-key fingerprint,
   JWT ``sub``, or the client address for anonymous callers.

Policy and authorisation come later, in :mod:`server.issuing`, on the exact
values each token will carry.
"""

from __future__ import annotations

from typing import Optional

from aiohttp import web

from . import metrics
from .auth import Authenticator, AuthError
from .config import Settings
from .ratelimit import RateLimiter, StorageUnavailable, request_client_ip
from .responses import json_error
from .state import RequestContext

__all__ = ["Guard"]


class Guard:
    def __init__(self, settings: Settings) -> None:
        self.authenticator = Authenticator(settings.auth)
        self.limiter = RateLimiter.from_settings(settings.rate_limit)
        self.trust_proxy = settings.rate_limit.trust_proxy

    @property
    def active(self) -> bool:
        """False in drop-in mode (no authentication, no rate limit)."""
        return self.authenticator.enabled or self.limiter is not None

    def client_address(self, request: web.Request, ctx: RequestContext) -> str:
        """The client address (the proxy-resolved one under ``TRUST_PROXY``), kept in ``ctx``."""
        if ctx.remote is None:
            ctx.remote = request_client_ip(request, self.trust_proxy)
        return ctx.remote

    async def check(self, request: web.Request, ctx: RequestContext) -> Optional[web.Response]:
        """None to let the request through, else the 401 / 429 to answer."""
        limiter = self.limiter
        try:
            caller = await self.authenticator.authenticate(request.headers)
        except AuthError as err:
            metrics.LOCAL.auth_failure(err.reason)
            if limiter is not None:
                denied = await self._limit("ip:" + self.client_address(request, ctx))
                if denied is not None:
                    return denied
            return json_error(err.status, err.message, err.headers)
        ctx.caller = caller
        if limiter is not None:
            key = caller.id if caller.kind != "anonymous" else "ip:" + self.client_address(request, ctx)
            return await self._limit(key)
        return None

    async def _limit(self, key: str) -> Optional[web.Response]:
        assert self.limiter is not None
        try:
            retry = await self.limiter.hit(key)
        except StorageUnavailable:
            return json_error(503, "the rate-limit storage is unavailable (RATE_LIMIT_ON_STORAGE_ERROR=deny): "
                                   "retry later", {"Retry-After": "1"})
        if retry is None:
            return None
        metrics.LOCAL.rate_limited += 1
        return json_error(429, f"rate limit exceeded: retry in {retry} s", {"Retry-After": str(retry)})
