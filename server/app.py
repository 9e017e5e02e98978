"""The aiohttp application: ``create_app(settings) -> web.Application``.

Extension points (for features layered on top of the drop-in service):

* **Settings**: add a field to :class:`server.config.Settings` and fill it in
  ``load_settings`` (or parse ``settings.env`` in your module). The settings
  object is ``app[SETTINGS]``.
* **Middlewares**: :func:`build_middlewares` returns the list, outermost first.
  ``core_middleware`` (no-cache headers, CORS gate, JSON errors, slash
  redirects) must stay; put request-id/metrics middlewares before it (they then
  see the final status of every response, 403s included) and auth/rate-limit
  middlewares after it (they run only for allowed origins, and their
  ``web.HTTPException``s become JSON errors with no-cache and CORS headers).
  A feature's ``setup(app)`` may also ``app.middlewares.insert(...)``.
* **Routes**: give your module a ``setup_routes(app)``/``setup(app)`` and add
  it to :data:`FEATURE_SETUPS` (or call it in :func:`create_app` before
  ``setup_cors``). Every route registered before ``setup_cors`` gets CORS.
  Append extra CORS request headers (e.g. ``Authorization``, ``X-API-Key``) to
  ``app[CORS_POLICY].allow_headers`` in your setup function.
* **Issuing hook**: every token is signed by one function per kind in
  ``server/issuing.py``, which first calls each hook in ``app[ISSUE_HOOKS]``
  as ``hook(request, kind, channel, uid, role, expire)`` (plain or async;
  kinds ``rtc``, ``rtm``, ``chat``, ``chat_app``; ``/rte/`` calls it for
  ``rtc`` then ``rtm``). Refuse by raising :class:`server.responses.IssueDenied`
  ``(status, message, headers)``: the handler renders it in its route's error
  style. ``app[ISSUED_HOOKS]`` hooks get ``(request, kind)`` after a token is
  built (counters).
* **Start-up warnings**: :func:`startup_warnings` (logged once by ``python -m server``).
"""

from __future__ import annotations

from typing import Callable, List

from aiohttp import web

from . import guard, logs, metrics, openapi, routes
from .config import Settings
from .cors import CORS_POLICY, CorsPolicy, setup_cors
from .keys import ISSUE_HOOKS, ISSUED_HOOKS, SETTINGS
from .middleware import core_middleware

__all__ = [
    "CORS_POLICY",
    "FEATURE_SETUPS",
    "ISSUED_HOOKS",
    "ISSUE_HOOKS",
    "SETTINGS",
    "build_middlewares",
    "create_app",
    "startup_warnings",
]

Middleware = Callable[..., object]

#: ``setup(app)`` functions of feature modules, run in order by create_app
#: after the core routes are registered and before CORS is finalised.
FEATURE_SETUPS: List[Callable[[web.Application], None]] = [
    # e.g. auth.setup, policy.setup, ratelimit.setup, metrics.setup, openapi.setup
    metrics.setup,  # outermost middleware, GET /metrics, tokens-issued counter
    openapi.setup,  # GET /openapi.json, GET /docs
    guard.setup,  # auth / rate limit / policy hook, CORS auth headers, /verifyToken /encryption /healthz
]


def build_middlewares(settings: Settings) -> List[Middleware]:
    """The middleware list, outermost first."""
    return [
        # --- outermost: request id / metrics go here ---
        guard.request_id_middleware,  # X-Request-ID honoured or generated, echoed
        core_middleware,
        # --- inner: authentication / rate limiting go here ---
        guard.guard_middleware,  # 401 / 429 on token routes, /verifyToken, /encryption
    ]


def startup_warnings(settings: Settings) -> List[str]:
    """Warnings ``python -m server`` logs once at start-up. Also applies
    LOG_FORMAT and the secret-redaction filter to the process's log handlers
    (this runs once, before workers are forked, so they inherit it)."""
    logs.apply_log_settings(settings.log_format, settings.env)
    warning = guard.startup_warning(settings.auth)
    return [warning] if warning else []


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=build_middlewares(settings),
                          client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[CORS_POLICY] = CorsPolicy.from_settings(settings)
    app[ISSUE_HOOKS] = []
    app[ISSUED_HOOKS] = []
    routes.setup_routes(app)
    for setup in FEATURE_SETUPS:
        setup(app)
    setup_cors(app)  # must stay last: enables CORS on every route registered above
    return app
