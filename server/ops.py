"""Operational endpoints, never authenticated, rate limited or shed:
``GET /ping`` (the original's liveness check), ``GET /healthz`` (health with
details for operators) and ``GET /metrics`` (Prometheus)."""

from __future__ import annotations

from aiohttp import web

from . import metrics
from .ratelimit import request_client_ip
from .responses import json_bytes, json_error, json_response
from .state import STATE

__all__ = ["healthz", "metrics_endpoint", "ping"]

_PONG = b'{"message": "pong"}'


async def ping(request: web.Request) -> web.Response:
    return json_bytes(_PONG)


async def healthz(request: web.Request) -> web.Response:
    """200 while the process can serve tokens; the body tells what else is
    up: ``inflight`` (token requests in progress in this worker),
    ``rate_limit_storage`` (``ok``/``error``) with a Redis
    ``RATE_LIMIT_STORAGE``, ``jwks`` (``ok``, ``stale``, ``unavailable``) with
    ``AUTH_JWKS_URL``."""
    state = request.app[STATE]
    body: dict[str, object] = {"status": "draining" if state.draining else "ok", "inflight": state.inflight}
    limiter = state.rate_limiter
    if limiter is not None and limiter.settings.shared:
        body["rate_limit_storage"] = limiter.state()
    if state.jwks is not None:
        body["jwks"] = state.jwks.state()
    return json_response(body)


async def metrics_endpoint(request: web.Request) -> web.Response:
    """The Prometheus exposition; with ``METRICS_TOKEN`` it needs
    ``Authorization: Bearer <token>``, and a client address with 10 failed
    attempts in the last minute gets 429 until the window frees up."""
    state = request.app[STATE]
    token = state.settings.metrics.token
    limiter = state.metrics_limiter
    if token is not None and limiter is not None:
        key = "ip:" + request_client_ip(request, state.settings.rate_limit.trust_proxy)
        if await limiter.exhausted(key):
            return json_error(429, "too many failed METRICS_TOKEN attempts: retry in a minute",
                              {"Retry-After": "60"})
        if not metrics.token_matches(token, request.headers.get("Authorization")):
            await limiter.hit(key)
            return json_error(401, "GET /metrics needs 'Authorization: Bearer <METRICS_TOKEN>'",
                              {"WWW-Authenticate": 'Bearer realm="metrics"'})
    body, content_type = metrics.render()
    return web.Response(body=body, headers={"Content-Type": content_type})
