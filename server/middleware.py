"""The core middleware: one layer (it is on every request's hot path) that

* adds the no-cache headers to every response;
* applies the CORS rules of ``server/cors.py`` (403 for a disallowed
  ``Origin``, 204 for every preflight from an allowed one, the fixed
  Allow-Methods/-Headers lists);
* redirects a path missing (or carrying an extra) trailing slash to the
  registered route like the original's router: 301 for GET/HEAD keeping the
  query string, 307 for other methods (``POST /getToken/`` -> ``/getToken``);
* turns every HTTP error into a JSON body ``{"error": "..."}`` and an
  unexpected exception into a logged ``500`` (no traceback to the client).
"""

from __future__ import annotations

import logging
from time import perf_counter
from typing import Awaitable, Callable

from aiohttp import web
from yarl import URL

from .cors import CORS_POLICY
from .keys import REQUEST_START, SETTINGS
from .responses import json_error

__all__ = ["core_middleware", "NO_CACHE_HEADERS"]

log = logging.getLogger("server")

NO_CACHE_HEADERS = {
    "Cache-Control": "private, no-cache, no-store, must-revalidate",
    "Expires": "-1",
    "Pragma": "no-cache",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_REASONS = {
    404: "not found",
    405: "method not allowed",
    413: "request body too large",
}
# headers of an HTTPException worth keeping on the JSON error response
_KEEP = ("Allow", "WWW-Authenticate", "Retry-After", "Location")


async def _slash_redirect(request: web.Request) -> "web.StreamResponse | None":
    """The registered route one trailing slash away, as a redirect (or None)."""
    path = request.rel_url.raw_path
    if path.startswith("//"):
        # "//host/x" would be a protocol-relative Location: an open redirect
        return None
    if path.endswith("/"):
        if len(path) <= 1:
            return None
        alt = path[:-1]
    else:
        alt = path + "/"
    try:
        clone = request.clone(rel_url=URL.build(path=alt, encoded=True))
        match = await request.app.router.resolve(clone)
    except Exception:  # noqa: BLE001 - a path we cannot even resolve: just 404
        return None
    if match.http_exception is not None:
        return None
    query = request.rel_url.raw_query_string
    location = alt + ("?" + query if query else "")
    status = 301 if request.method in ("GET", "HEAD") else 307
    return web.Response(status=status, headers={"Location": location},
                        text="Moved Permanently" if status == 301 else "Temporary Redirect")


async def _error_response(request: web.Request, exc: web.HTTPException) -> web.StreamResponse:
    status = exc.status
    if 300 <= status < 400:
        resp = web.Response(status=status, text=exc.text or "", headers={
            k: v for k, v in exc.headers.items() if k in _KEEP})
        return resp
    if status == 404:
        redirect = await _slash_redirect(request)
        if redirect is not None:
            return redirect
    if exc.content_type == "application/json" and exc.text:
        message_resp = web.Response(status=status, text=exc.text, content_type="application/json")
    else:
        if status == 413:
            message = f"request body too large: at most {request.app[SETTINGS].max_body_bytes} bytes are accepted"
        elif status in _REASONS:
            message = _REASONS[status]
        else:
            message = (exc.text or exc.reason or "error").strip()
            if message.startswith(f"{status}: "):
                message = message[len(f"{status}: "):]
        message_resp = json_error(status, message)
    for key in _KEEP:
        value = exc.headers.get(key)
        if value is not None:
            message_resp.headers[key] = value
    return message_resp


@web.middleware
async def core_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request[REQUEST_START] = perf_counter()
    origin = request.headers.get("Origin")
    if origin is None:
        if request.method == "OPTIONS" and request.match_info.http_exception is None:
            # not a CORS preflight (no Origin): nothing to negotiate
            resp: web.StreamResponse = web.Response(status=204)
        else:
            resp = await _call(request, handler)
    else:
        policy = request.app[CORS_POLICY]
        if not policy.allows(origin):
            resp = json_error(403, "Origin not allowed")
        elif request.method == "OPTIONS":
            # any preflight from an allowed origin: 204 with the fixed lists,
            # like the original (whatever method or headers it asks about;
            # the browser enforces the lists)
            resp = web.Response(status=204, headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": policy.methods_value,
                "Access-Control-Allow-Headers": policy.headers_value,
            })
        else:
            resp = await _call(request, handler)
            headers = resp.headers
            headers["Access-Control-Allow-Methods"] = policy.methods_value
            headers["Access-Control-Allow-Headers"] = policy.headers_value
            if request.match_info.route.resource not in policy.cors_resources:
                # aiohttp-cors does not see this response (404, redirect...):
                # allow the browser to read it (a redirect must pass CORS too)
                headers["Access-Control-Allow-Origin"] = origin
    resp.headers.update(NO_CACHE_HEADERS)
    return resp


async def _call(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        return await _error_response(request, exc)
    except Exception:  # noqa: BLE001
        log.exception("unhandled error on %s %s", request.method, request.rel_url.raw_path[:200])
        return json_error(500, "internal server error")
