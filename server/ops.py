"""Operational endpoints, never authenticated, rate limited or shed:
``GET /ping`` (the original's liveness check), ``GET /healthz`` (liveness,
with details for operators), ``GET /readyz`` (readiness: whether a load
balancer should send this replica traffic) and ``GET /metrics``
(Prometheus)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from . import metrics
from .ratelimit import StorageUnavailable, request_bucket
from .responses import json_bytes, json_error, json_response
from .state import STATE

__all__ = ["healthz", "metrics_endpoint", "ping", "readyz"]

_PONG = b'{"message": "pong"}'
_READY = b'{"status": "ready"}'


async def ping(request: web.Request) -> web.Response:
    return json_bytes(_PONG)


async def healthz(request: web.Request) -> web.Response:
    """Liveness: 200 while the process answers at all; the body tells what
    else is up: ``inflight`` (token requests in progress in this worker),
    ``rate_limit_storage`` (``ok``/``error``: the last call's outcome, or a
    ``PING`` when it is over a second old) with a Redis
    ``RATE_LIMIT_STORAGE``, ``jwks`` (``ok``, ``stale``, ``unavailable``) with
    ``AUTH_JWKS_URL``."""
    state = request.app[STATE]
    body: dict[str, object] = {"status": "draining" if state.draining else "ok", "inflight": state.inflight}
    limiters = [lim for lim in (state.rate_limiter, state.metrics_limiter) if lim is not None and lim.settings.shared]
    if limiters:
        states = await asyncio.gather(*(lim.storage_state() for lim in limiters))
        body["rate_limit_storage"] = "ok" if all(s == "ok" for s in states) else "error"
    if state.jwks is not None:
        body["jwks"] = state.jwks.state()
    return json_response(body)


async def readyz(request: web.Request) -> web.Response:
    """200 ``{"status": "ready"}`` while this replica can issue tokens and is
    not shutting down; else 503 ``{"status": "not ready", "reasons": [...]}``:
    ``stopping`` (SIGTERM or SIGHUP: still serving for ``SHUTDOWN_DELAY``),
    ``draining`` (shutting down), ``rate_limit_storage`` (down, with
    ``RATE_LIMIT_ON_STORAGE_ERROR=deny``), ``jwks`` (no identity-provider
    keys)."""
    state = request.app[STATE]
    reasons = []
    if state.stopping:
        reasons.append("stopping")
    if state.draining:
        reasons.append("draining")
    limiter = state.rate_limiter
    if limiter is not None and limiter.deny_on_error and await limiter.storage_state() != "ok":
        reasons.append("rate_limit_storage")  # asked again (bounded) when stale: ready again by itself
    if state.jwks is not None and state.jwks.state() == "unavailable":
        reasons.append("jwks")
    if reasons:
        return json_response({"status": "not ready", "reasons": reasons}, 503)
    return json_bytes(_READY)


async def metrics_endpoint(request: web.Request) -> web.Response:
    """The Prometheus exposition; with ``METRICS_TOKEN`` it needs
    ``Authorization: Bearer <token>`` (compared first, in constant time: the
    right token is answered whatever the limiter's storage does). Only failed
    attempts are limited: a client (:func:`server.ratelimit.client_bucket`)
    with 10 in the last minute gets 429 until the window frees up."""
    state = request.app[STATE]
    token = state.settings.metrics.token
    if token is not None and not metrics.token_matches(token, request.headers.get("Authorization")):
        limiter = state.metrics_limiter
        retry = None
        if limiter is not None:
            try:
                retry = await limiter.hit(request_bucket(request, state.settings.rate_limit))
            except StorageUnavailable:
                pass  # cannot count it: refused all the same
        if retry is not None:
            return json_error(429, f"too many failed METRICS_TOKEN attempts: retry in {retry} s",
                              {"Retry-After": str(retry)})
        return json_error(401, "GET /metrics needs 'Authorization: Bearer <METRICS_TOKEN>'",
                          {"WWW-Authenticate": 'Bearer realm="metrics"'})
    body, content_type = metrics.render()
    return web.Response(body=body, headers={"Content-Type": content_type})
