"""The request-path guard: authentication, rate limiting, policy and
authorisation in front of every token-issuing endpoint, plus request ids.

Order for a guarded route (``OPTIONS`` preflights are never guarded, so CORS
keeps working):

1. authenticate (``401`` + ``WWW-Authenticate``); a failed attempt still
   spends one unit of the client IP's rate-limit budget, so keys cannot be
   guessed at full speed;
2. rate limit per caller (``429`` + ``Retry-After``);
3. the handler parses the request; right before it signs each token the
   issuing hook (:func:`issue_hook`, registered in ``app[ISSUE_HOOKS]``) checks
   the exact values the token will carry against the policy (``400``:
   ``MAX_EXPIRE``, ``CHANNEL_PATTERN``) and the caller's claims (``403``).
   Fail-safe: with authentication on, a token is refused (``401``) if the
   request did not pass through the guard (e.g. a route added later and not
   listed in :data:`GUARDED_ROUTES`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Awaitable, Callable, Optional, Union

from aiohttp import web

from .auth import AuthError, Authenticator, AuthSettings, Caller, authorize
from .logs import CALLER_ID_KEY, REQUEST_ID_HEADER, REQUEST_ID_KEY, request_id_from, request_key
from .policy import PolicySettings, check_policy, token_request_from_hook
from .ratelimit import RateLimiter, RateLimitSettings, client_ip
from .responses import IssueDenied, json_error

__all__ = ["CALLER_KEY", "GUARD_KEY", "GUARDED_ROUTES", "Guard", "guard_middleware", "issue_hook",
           "request_id_middleware", "setup", "startup_warning"]

log = logging.getLogger("server.guard")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: route templates behind authentication and the rate limit: every token-issuing
#: route, plus /verifyToken and /encryption
GUARDED_ROUTES: frozenset[str] = frozenset({
    "/getToken",
    "/rtc/{channelName}/{role}/{tokenType}/{rtcuid}/",
    "/rtm/{rtmuid}/",
    "/rte/{channelName}/{role}/{tokenType}/{rtcuid}/",
    "/rte/{channelName}/{role}/{tokenType}/{rtcuid}/{rtmuid}/",
    "/chat/app/",
    "/chat/account/{chatid}/",
    "/verifyToken",
    "/encryption",
})


def _metrics_auth_failure(reason: str) -> None:
    try:
        from . import metrics
        metrics.auth_failure(reason)
    except Exception:  # pragma: no cover - metrics are optional
        pass


def _metrics_rate_limited() -> None:
    try:
        from . import metrics
        metrics.rate_limited()
    except Exception:  # pragma: no cover
        pass


@dataclass
class Guard:
    authenticator: Authenticator
    policy: PolicySettings
    limiter: Optional[RateLimiter]
    trust_proxy: int = 0

    @property
    def active(self) -> bool:
        """False in drop-in mode (no auth, no rate limit): the middleware then does nothing."""
        return self.authenticator.enabled or self.limiter is not None

    @property
    def enforces_tokens(self) -> bool:
        """Whether the issuing hook has anything to check."""
        return (self.authenticator.enabled or self.policy.max_expire is not None
                or self.policy.channel_pattern is not None)

    @classmethod
    def from_settings(cls, auth: AuthSettings, policy: PolicySettings, rate: RateLimitSettings) -> "Guard":
        return cls(Authenticator(auth), policy, RateLimiter.from_settings(rate), rate.trust_proxy)


GUARD_KEY: web.AppKey[Guard] = web.AppKey("agora_token_guard", Guard)
#: request key under which the guard stores the authenticated :class:`Caller`
CALLER_KEY = request_key("agora_token.caller", Caller)


def startup_warning(auth: AuthSettings) -> Optional[str]:
    """The one warning to log at start-up when token endpoints are open."""
    if auth.enabled:
        return None
    return ("caller authentication is OFF: the token endpoints are open to anyone who can reach this "
            "service (set AUTH_API_KEYS / AUTH_API_KEYS_FILE or AUTH_JWT_SECRET / AUTH_JWT_PUBLIC_KEY for "
            "production)")


def _guarded(request: web.Request) -> bool:
    if request.method == "OPTIONS":  # CORS preflights carry no credentials
        return False
    try:
        resource = request.match_info.route.resource
    except AttributeError:  # pragma: no cover
        return False
    if resource is None or getattr(request.match_info, "http_exception", None) is not None:
        return False
    return resource.canonical in GUARDED_ROUTES


def _json_error(status: int, message: str, headers: Optional[dict[str, str]] = None) -> web.Response:
    return json_error(status, message, headers)


def _client_ip(request: web.Request, trust_proxy: int) -> str:
    forwarded = request.headers.getall("X-Forwarded-For", []) if trust_proxy else []
    return client_ip(request.remote, forwarded, trust_proxy)


@web.middleware
async def guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    guard = request.app[GUARD_KEY]
    if not guard.active or not _guarded(request):
        return await handler(request)
    limiter = guard.limiter
    try:
        caller = guard.authenticator.authenticate(request.headers)
    except AuthError as err:
        _metrics_auth_failure(err.reason)
        if limiter is not None:
            retry = limiter.hit("ip:" + _client_ip(request, guard.trust_proxy))
            if retry is not None:
                _metrics_rate_limited()
                return _json_error(429, f"rate limit exceeded: retry in {retry} s",
                                   {"Retry-After": str(retry)})
        return _json_error(401, err.message, {"WWW-Authenticate": err.www_authenticate})
    if caller.kind == "anonymous":
        key = "ip:" + _client_ip(request, guard.trust_proxy)
    else:
        key = caller.id
        request[CALLER_ID_KEY] = caller.id  # for the access log
    if limiter is not None:
        retry = limiter.hit(key)
        if retry is not None:
            _metrics_rate_limited()
            return _json_error(429, f"rate limit exceeded: retry in {retry} s", {"Retry-After": str(retry)})
    request[CALLER_KEY] = caller
    return await handler(request)


def issue_hook(request: web.Request, kind: str, channel: str, uid: Union[int, str, None],
               role: Optional[str], expire: int) -> None:
    """Issuing hook: policy and authorisation on the values the token will carry."""
    guard = request.app[GUARD_KEY]
    req = token_request_from_hook(kind, channel, uid, role, expire)
    violation = check_policy(guard.policy, req)
    if violation is None and guard.authenticator.enabled:
        caller = request.get(CALLER_KEY)
        if caller is None:  # fail closed: this route bypassed the guard
            log.error("guard: a token was requested on %s without authentication; refusing",
                      request.match_info.route.resource.canonical if request.match_info.route.resource
                      else "?")
            raise web.HTTPUnauthorized(text='{"error": "authentication required"}',
                                       content_type="application/json",
                                       headers={"WWW-Authenticate": "Bearer"})
        violation = authorize(caller, req)
        if violation is not None:
            _metrics_auth_failure(violation.reason)
    if violation is not None:
        raise IssueDenied(violation.status, violation.message)


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Honour a well-formed ``X-Request-ID`` or generate one; echo it on the
    response (also on errors raised as HTTP exceptions)."""
    rid = request_id_from(request.headers)
    request[REQUEST_ID_KEY] = rid
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers[REQUEST_ID_HEADER] = rid
        raise
    response.headers[REQUEST_ID_HEADER] = rid
    return response


def setup(app: web.Application) -> None:
    """Feature setup (``server.app.FEATURE_SETUPS``): the guard, the issuing
    hook, the extra CORS request headers when auth is on, and the extra routes
    (``/verifyToken``, ``/encryption``, ``/healthz``)."""
    from .cors import CORS_POLICY
    from .keys import ISSUE_HOOKS, SETTINGS
    from .routes_extra import setup_extra_routes

    settings = app[SETTINGS]
    guard = Guard.from_settings(settings.auth, settings.policy, settings.rate_limit)
    app[GUARD_KEY] = guard
    if guard.enforces_tokens:
        app[ISSUE_HOOKS].append(issue_hook)
    if settings.auth.enabled:
        headers = app[CORS_POLICY].allow_headers
        for name in ("Authorization", "X-API-Key"):
            if name not in headers:
                headers.append(name)
    setup_extra_routes(app, settings.app_id, settings.app_certificate)
    pol = settings.policy
    log.info("request guard: auth %s; rate limit %s; max expire %s; channel pattern %s",
             settings.auth.describe(), settings.rate_limit.describe(),
             f"{pol.max_expire} s" if pol.max_expire is not None else "none",
             "on" if pol.channel_pattern is not None else "off")
