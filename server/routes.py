"""The route table: every endpoint declared once, as a
:class:`server.state.Route`: its handler, how the pipeline treats it
(``guarded``: authentication and rate limit; ``sheddable``: token work,
subject to load shedding; ``error_shape``) and what the OpenAPI document
says of it (operation id, summary, tag, security; the pipeline's error
responses follow from the flags, the rest is in :mod:`server.openapi`).
Path parameters may be empty, as the original's router allows
(``/rtc/ch/publisher/uid//`` is uid 0). ``HEAD`` is answered wherever ``GET``
is.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from aiohttp import HttpVersion11, web

from . import encryption, openapi, ops, verify
from .docs_page import docs_handler, static_handler
from .pipeline import make_fallback, make_pipeline
from .responses import json_bytes
from .state import Handler, PerApp, Route, ServiceState
from .token_routes import TokenRoutes

__all__ = ["ROUTES", "openapi_json", "setup_routes"]


async def openapi_json(request: web.Request) -> web.Response:
    """``GET /openapi.json``: the document of :data:`ROUTES` (built once)."""
    return json_bytes(openapi.spec_bytes(ROUTES))


_S = "[^/]*"
_RTC = f"/{{channelName:{_S}}}/{{role:{_S}}}/{{tokenType:{_S}}}/{{rtcuid:{_S}}}/"
_HEALTH, _TOKENS, _LEGACY, _OPS = "health", "tokens", "deprecated routes", "operations"

#: every endpoint; its description beyond the summary is in :mod:`server.openapi` (by operation id)
ROUTES: tuple[Route, ...] = (
    Route("GET", "/ping", ops.ping, "ping", "Liveness check of the original service.", _HEALTH),
    Route("GET", "/healthz", ops.healthz, "healthz",
          "Health check for orchestrators (never authenticated, rate limited or shed).", _HEALTH),
    Route("GET", "/readyz", ops.readyz, "readyz",
          "Readiness check for load balancers (never authenticated, rate limited or shed).", _HEALTH),
    Route("POST", "/getToken", PerApp(lambda t: t.get_token), "getToken",
          "Build an RTC, RTM or Chat token (current API).", _TOKENS, guarded=True, sheddable=True),
    Route("POST", "/token/generate", PerApp(lambda t: t.token_generate), "generateToken",
          "Build one token with any services, as Agora's reference token server.", _TOKENS,
          guarded=True, sheddable=True, error_shape="code"),
    Route("GET", "/rtc" + _RTC, PerApp(lambda t: t.rtc_get), "getRtcToken", "RTC token (deprecated route).",
          _LEGACY, guarded=True, sheddable=True),
    Route("GET", f"/rtm/{{rtmuid:{_S}}}/", PerApp(lambda t: t.rtm_get), "getRtmToken",
          "RTM token (deprecated route).", _LEGACY, guarded=True, sheddable=True),
    Route("GET", "/rte" + _RTC, PerApp(lambda t: t.rte_get), "getRteToken", "RTC + RTM tokens (deprecated route).",
          _LEGACY, guarded=True, sheddable=True),
    Route("GET", "/rte" + _RTC + f"{{rtmuid:{_S}}}/", PerApp(lambda t: t.rte_get), "getRteTokenWithRtmUid",
          "RTC + RTM tokens with a separate RTM user (deprecated route).", _LEGACY, guarded=True, sheddable=True),
    Route("GET", "/chat/app/", PerApp(lambda t: t.chat_app_get), "getChatAppToken",
          "Chat app token (deprecated route).", _LEGACY, guarded=True, sheddable=True),
    Route("GET", f"/chat/account/{{chatid:{_S}}}/", PerApp(lambda t: t.chat_user_get), "getChatUserToken",
          "Chat user token (deprecated route).", _LEGACY, guarded=True, sheddable=True),
    Route("POST", "/verifyToken", verify.verify_token, "verifyToken",
          "Decode a token and check it against this server's app id and certificate.", _TOKENS,
          guarded=True, sheddable=True),
    Route("GET", "/encryption", encryption.encryption, "encryption",
          "Fresh random key material for Agora's built-in channel encryption (GCM2 modes).", _TOKENS,
          guarded=True),
    Route("GET", "/metrics", ops.metrics_endpoint, "metrics",
          "Prometheus metrics (merged over all worker processes).", _OPS, security=("metricsToken",)),
    Route("GET", "/openapi.json", openapi_json, "openapi", "This document (OpenAPI 3.1).", _OPS),
    Route("GET", "/docs", docs_handler, "docs",
          "This page: Swagger UI rendering /openapi.json (served by this service, nothing from outside).", _OPS),
    Route("GET", "/docs/static/{name}", static_handler, "docsStatic",
          "The files of the /docs page (Swagger UI's bundle and stylesheet, the page's initializer).", _OPS),
)


def _add(router: web.UrlDispatcher, method: str, path: str, handler: Handler,
         expect: Callable[[web.Request], Awaitable[None]]) -> Any:
    if method == "GET":
        return router.add_get(path, handler, expect_handler=expect)
    return router.add_route(method, path, handler, expect_handler=expect)


def setup_routes(app: web.Application, state: ServiceState) -> None:
    """Register :data:`ROUTES`, each handler wrapped in the pipeline, and the
    catch-all route for everything else."""
    expect = _expect_handler(state.settings.max_body_bytes)
    probe = web.UrlDispatcher()  # the real routes only: 404 / 405 / redirects
    wrap = make_pipeline(state, probe)
    tokens = TokenRoutes(state)
    for route in ROUTES:
        handler = route.handler.bind(tokens) if isinstance(route.handler, PerApp) else route.handler
        _add(probe, route.method, route.path, handler, expect)
        _add(app.router, route.method, route.path, wrap(handler, route), expect)
    app.router.add_route("*", "/{path:.*}", wrap(make_fallback(probe), None))


def _expect_handler(max_body: int) -> Callable[[web.Request], Awaitable[None]]:
    async def expect(request: web.Request) -> None:
        """``Expect: 100-continue``: continue only when the announced body
        fits; otherwise say nothing and let the pipeline answer 413 at once."""
        if request.version != HttpVersion11 or request.headers.get("Expect", "").lower() != "100-continue":
            return  # other expectations are ignored: the request is answered as usual
        length = request.content_length
        if length is None or length <= max_body:
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    return expect
