"""Operational endpoints, never authenticated, rate limited or shed:
``GET /ping`` (the original's liveness check), ``GET /healthz`` (health with
details for operators) and ``GET /metrics`` (Prometheus)."""

from __future__ import annotations

from aiohttp import web

from . import metrics
from .responses import json_bytes, json_error, json_response
from .state import STATE

__all__ = ["healthz", "metrics_endpoint", "ping"]

_PONG = b'{"message": "pong"}'


async def ping(request: web.Request) -> web.Response:
    return json_bytes(_PONG)


async def healthz(request: web.Request) -> web.Response:
    """200 while the process can serve tokens; the body tells what else is
    up: ``jwks`` (``ok``, ``stale``, ``unavailable``) with ``AUTH_JWKS_URL``."""
    state = request.app[STATE]
    body = {"status": "draining" if state.draining else "ok"}
    if state.jwks is not None:
        body["jwks"] = state.jwks.state()
    return json_response(body)


async def metrics_endpoint(request: web.Request) -> web.Response:
    """The Prometheus exposition; with ``METRICS_TOKEN`` it needs
    ``Authorization: Bearer <token>``."""
    token = request.app[STATE].settings.metrics.token
    if not metrics.token_matches(token, request.headers.get("Authorization")):
        return json_error(401, "GET /metrics needs 'Authorization: Bearer <METRICS_TOKEN>'",
                          {"WWW-Authenticate": 'Bearer realm="metrics"'})
    body, content_type = metrics.render()
    return web.Response(body=body, headers={"Content-Type": content_type})
