"""``create_app(settings)``: the aiohttp application.

The pipeline (:mod:`server.pipeline`) carries every request through request
ids, CORS, the guard, the handler, error rendering, metrics and the access
log; the route table is :mod:`server.routes`; tokens are signed only in
:mod:`server.issuing`.
"""

from __future__ import annotations

from typing import Optional

from aiohttp import web

from .accesslog import AccessLog
from .config import Settings
from .cors import CorsPolicy
from .guard import Guard
from .issuing import Issuer
from .metrics import METRICS_FAILURES_PER_MINUTE
from .ratelimit import RateLimiter
from .routes import setup_routes
from .state import STATE, ServiceState

__all__ = ["create_app", "startup_warnings"]


def startup_warnings(settings: Settings) -> list[str]:
    """What ``python -m server`` warns about once at start-up."""
    if settings.auth.enabled:
        return []
    return ["caller authentication is OFF: the token endpoints are open to anyone who can reach this "
            "service (set AUTH_API_KEYS / AUTH_API_KEYS_FILE, AUTH_JWT_SECRET / AUTH_JWT_PUBLIC_KEY or "
            "AUTH_JWKS_URL for production)"]


def create_app(settings: Settings, access: Optional[AccessLog] = None) -> web.Application:
    """The app; ``access``: where access-log lines go (None: no access log)."""
    guard = Guard(settings)
    state = ServiceState(settings=settings, cors=CorsPolicy.from_settings(settings), issuer=Issuer(settings),
                         guard=guard if guard.active else None, access=access)
    if settings.metrics.token:
        state.metrics_limiter = RateLimiter(METRICS_FAILURES_PER_MINUTE, "minute", settings.rate_limit,
                                            name="metrics-auth")
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[STATE] = state
    setup_routes(app, state)
    app.on_cleanup.append(_close_clients)
    return app


async def _close_clients(app: web.Application) -> None:
    """Close the JWKS and Redis connections at shutdown."""
    state = app[STATE]
    if state.jwks is not None:
        await state.jwks.close()
    for limiter in (state.rate_limiter, state.metrics_limiter):
        if limiter is not None:
            await limiter.close()
