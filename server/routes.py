"""The route table: every endpoint, its handler and how the pipeline treats
it, in one list (``guarded``: authentication and rate limit; ``sheddable``:
token work, subject to load shedding). Path parameters may be empty, as the
original's router allows (``/rtc/ch/publisher/uid//`` is uid 0). ``HEAD`` is
answered wherever ``GET`` is.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from aiohttp import HttpVersion11, web

from . import encryption, ops, verify
from .docs_page import docs_handler, static_handler
from .openapi import openapi_handler
from .pipeline import make_fallback, make_pipeline
from .state import RouteInfo, ServiceState
from .token_routes import TokenRoutes

__all__ = ["ROUTES", "setup_routes"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: a handler, or the name of a :class:`TokenRoutes` handler (bound per app)
Target = Any

_S = "[^/]*"
_RTC = f"/{{channelName:{_S}}}/{{role:{_S}}}/{{tokenType:{_S}}}/{{rtcuid:{_S}}}/"

#: (method, path, handler, guarded, sheddable)
ROUTES: tuple[tuple[str, str, Target, bool, bool], ...] = (
    ("GET", "/ping", ops.ping, False, False),
    ("GET", "/healthz", ops.healthz, False, False),
    ("GET", "/readyz", ops.readyz, False, False),
    ("GET", "/metrics", ops.metrics_endpoint, False, False),
    ("GET", "/openapi.json", openapi_handler, False, False),
    ("GET", "/docs", docs_handler, False, False),
    ("GET", "/docs/static/{name}", static_handler, False, False),
    ("POST", "/getToken", "get_token", True, True),
    ("GET", "/rtc" + _RTC, "rtc_get", True, True),
    ("GET", f"/rtm/{{rtmuid:{_S}}}/", "rtm_get", True, True),
    ("GET", "/rte" + _RTC, "rte_get", True, True),
    ("GET", "/rte" + _RTC + f"{{rtmuid:{_S}}}/", "rte_get", True, True),
    ("GET", "/chat/app/", "chat_app_get", True, True),
    ("GET", f"/chat/account/{{chatid:{_S}}}/", "chat_user_get", True, True),
    ("POST", "/token/generate", "token_generate", True, True),
    ("POST", "/verifyToken", verify.verify_token, True, True),
    ("GET", "/encryption", encryption.encryption, True, False),
)

#: the error body shape of a route whose family answers errors differently (RouteInfo.error_shape)
ERROR_SHAPES = {"/token/generate": "code"}


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
    for method, path, target, guarded, sheddable in ROUTES:
        handler: Handler = getattr(tokens, target) if isinstance(target, str) else target
        resource = _add(probe, method, path, handler, expect).resource
        info = RouteInfo(resource.canonical if resource is not None else path, guarded, sheddable,
                         ERROR_SHAPES.get(path, "error"))
        _add(app.router, method, path, wrap(handler, info), expect)
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
