"""The request pipeline, read top to bottom. Every route's handler is
wrapped in it when the route is registered (:mod:`server.routes`), and a
catch-all route takes every request no route matches, so each request
passes through it exactly once, with no aiohttp middleware (which would cost
two extra layers per request).

For every request, in this order:

1. request id: a well-formed ``X-Request-ID`` (1..128 of
   ``[A-Za-z0-9._:@/+=-]``) is kept, else a new one; echoed on the response;
2. the route, resolved once by aiohttp's router: its template and flags are
   bound to the wrapped handler;
3. CORS (:mod:`server.cors`): ``403`` for a disallowed ``Origin``, ``204``
   for a preflight from an allowed one;
4. on guarded routes, authentication from the headers alone
   (:meth:`server.guard.Guard.authenticate`: ``401``);
5. the body, on every route (:mod:`server.overload`): a ``Content-Encoding``
   other than identity is refused (``415``, ``Accept-Encoding: identity``),
   a body announced above ``max_body_bytes`` too (``413``); one still
   arriving is awaited (``HTTP_BODY_TIMEOUT``: ``408``) while its client (or
   authenticated caller) has fewer than ``MAX_UNFINISHED_PER_CLIENT`` such
   (else ``429``); one that cannot be read as sent (a broken chunked body) is
   ``400`` with one short, throttled log line. Usually the body came with
   the head, and none of this awaits anything;
6. on token routes, load shedding: ``MAX_QUEUE_WAIT`` from the complete
   body (``503``); on guarded routes the rate limit
   (:meth:`server.guard.Guard.limit`: ``429``); on token routes the
   ``MAX_INFLIGHT`` cap (``503``), and the request is counted in flight;
7. the handler (:func:`read_body` returns the body already read); an HTTP
   error becomes a JSON error, a path one slash away from a route a redirect
   (301 GET/HEAD, 307 otherwise) with a JSON body, an unexpected exception a
   logged ``500``, a client that went away a ``499`` in the metrics and the
   access log;
8. on the way out: no-cache and CORS headers, the request id, and
   ``Connection: close`` while the process drains for shutdown, or when the
   body was refused before it was read; then one metrics observation and one
   access-log line.

Every error response here and in the guard takes the shape of its route
family (``Route.error_shape``, :func:`server.responses.shaped_error`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from time import monotonic, perf_counter
from typing import Any, Callable, Optional

from aiohttp import web
from aiohttp.hdrs import CONTENT_ENCODING
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from yarl import URL

from . import audit, metrics, tracing
from .cors import same_origin
from .errors import ServiceError
from .logs import LogThrottle
from .overload import RETRY_AFTER, SHED_MESSAGE, UNFINISHED_MESSAGE
from .ratelimit import logged_client_ip, request_bucket, request_client_ip
from .responses import ENCODED_BODY, IDENTITY_ONLY, NO_CACHE_HEADERS, error_response, json_response, shaped_error
from .state import CONTEXT, STATE, Handler, RequestContext, Route, ServiceState, new_request_id

__all__ = ["REQUEST_ID_HEADER", "make_fallback", "make_pipeline", "read_body"]

log = logging.getLogger("server")

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")

_REASONS = {404: "not found", 405: "method not allowed"}
# headers of an HTTPException worth keeping on its JSON rendering
_KEEP = ("Allow", "WWW-Authenticate", "Retry-After", "Location")
#: the answers to a request body the service does not take
UNREADABLE_BODY = ("the request body cannot be read as sent (a broken chunked or compressed body): "
                   "send it as plain bytes")
_BODY_LOG = LogThrottle(limit=5, interval=10.0)


def request_id_from(headers: Any) -> str:
    """The client's ``X-Request-ID`` when it is well-formed, else a new one."""
    value = headers.get(REQUEST_ID_HEADER)
    if value is not None and _REQUEST_ID.fullmatch(value):
        return str(value)
    return new_request_id()


async def _slash_redirect(request: web.Request, probe: web.UrlDispatcher) -> Optional[web.Response]:
    """The registered route one trailing slash away, as a redirect (or None)."""
    path = request.rel_url.raw_path
    if path.startswith("//"):  # "//host/x" would be a protocol-relative Location
        return None
    if path.endswith("/"):
        if len(path) <= 1:
            return None
        alt = path[:-1]
    else:
        alt = path + "/"
    try:
        match = await probe.resolve(request.clone(rel_url=URL.build(path=alt, encoded=True)))
    except Exception:  # noqa: BLE001 - a path we cannot even resolve: just 404
        return None
    if match.http_exception is not None:
        return None
    query = request.rel_url.raw_query_string
    location = alt + ("?" + query if query else "")
    status = 301 if request.method in ("GET", "HEAD") else 307
    reason = "Moved Permanently" if status == 301 else "Temporary Redirect"
    return json_response({"message": reason, "location": location}, status, {"Location": location})


async def _error_response(request: web.Request, exc: web.HTTPException, max_body: int,
                          probe: web.UrlDispatcher, shape: str) -> web.Response:
    status = exc.status
    if status == 404:
        redirect = await _slash_redirect(request, probe)
        if redirect is not None:
            return redirect
    if exc.content_type == "application/json" and exc.text:
        body: Any = exc.text
        resp = web.Response(status=status, text=body, content_type="application/json",
                            headers=NO_CACHE_HEADERS)
    else:
        if status == 413:
            message = f"request body too large: at most {max_body} bytes are accepted"
        elif status in _REASONS:
            message = _REASONS[status]
        else:
            message = (exc.text or exc.reason or "error").strip()
            if message.startswith(f"{status}: "):
                message = message[len(f"{status}: "):]
        resp = shaped_error(shape, status, message)
    for key in _KEEP:
        value = exc.headers.get(key)
        if value is not None:
            resp.headers[key] = value
    if status in (408, 413):  # the rest of the body was never read: this connection is done
        resp.force_close()
    return resp


async def read_body(request: web.Request) -> bytes:
    """The request body. The pipeline has already read it (it came with the
    head, usually); otherwise (a handler outside the pipeline) it is read
    here as the pipeline would: ``413``, ``408``, a ``RequestPayloadError``."""
    if request.content.is_eof():
        return await request.read()  # aiohttp keeps what was read: no second read
    return await _await_body(request, request.app[STATE])


def unreadable_body(request: web.Request, exc: BaseException, shape: str) -> web.Response:
    """The ``400`` for a body that cannot be read as sent, and one short,
    throttled log line (no traceback, nothing the client sent)."""
    dropped = _BODY_LOG.allow()
    if dropped is not None:
        cause = exc.__cause__ or exc
        log.warning("unreadable request body on %s %s: %s%s", request.method, request.rel_url.raw_path[:100],
                    type(cause).__name__, f" ({dropped} more left out)" if dropped else "")
    resp = shaped_error(shape, 400, UNREADABLE_BODY)
    resp.force_close()
    return resp


def _retrieve(future: "asyncio.Future[bytes]") -> None:
    if not future.cancelled():
        future.exception()


async def _await_body(request: web.Request, state: ServiceState) -> bytes:
    """A body still arriving: ``413`` at once when its announced length is
    over the limit; waits at most ``HTTP_BODY_TIMEOUT`` for it (``408``), and
    no longer than the shutdown grace once the process drains."""
    max_body = state.settings.max_body_bytes
    length = request.content_length
    if length is not None and length > max_body:
        raise web.HTTPRequestEntityTooLarge(max_body, length)
    timeout = state.settings.connections.body_timeout
    loop = asyncio.get_running_loop()
    until = loop.time() + timeout
    read = asyncio.ensure_future(request.read())
    read.add_done_callback(_retrieve)  # a failure nobody awaits (a cancelled handler) is not logged
    try:
        done, _ = await asyncio.wait((read, state.drain_started()), timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if read not in done and state.draining:  # the rest of HTTP_BODY_TIMEOUT, within the grace
            left = min(until, state.drain_deadline - 0.5) - loop.time()
            done, _ = await asyncio.wait((read,), timeout=max(0.0, left))
        if read not in done:
            raise web.HTTPRequestTimeout(text="the request body did not arrive in time")
        return read.result()
    finally:
        if not read.done():
            read.cancel()


async def _answer_and_close(request: web.Request, resp: web.StreamResponse) -> None:
    """Send ``resp`` and close the connection at once, for a request refused
    before its body was read: aiohttp would otherwise drain the rest of the
    body for up to ``HTTP_BODY_TIMEOUT`` first (a slow client holding the
    connection all that time), and log a traceback for a body it cannot
    decode."""
    resp.force_close()
    try:
        await resp.prepare(request)
        await resp.write_eof()
    finally:
        protocol = request.protocol
        if protocol is not None:
            protocol.force_close()  # the answer already written is sent before the close


def make_pipeline(state: ServiceState, probe: web.UrlDispatcher) -> Callable[[Handler, Optional[Route]], Handler]:
    """``wrap(handler, info)``: the handler inside the pipeline. ``probe`` is a
    router with the real routes only, consulted for requests that match none
    (404, 405, slash redirects)."""
    cors = state.cors
    guard = state.guard
    access = state.access
    local = metrics.LOCAL
    max_body = state.settings.max_body_bytes
    cors_fixed = cors.fixed_headers
    rid_header = REQUEST_ID_HEADER
    no_cache = NO_CACHE_HEADERS
    overload = state.settings.overload
    max_inflight = overload.max_inflight or 1 << 62
    max_wait = overload.max_queue_wait or float("inf")
    max_unfinished = overload.max_unfinished or 1 << 62
    too_many_unfinished = UNFINISHED_MESSAGE.format(overload.max_unfinished)
    rate_limit = state.settings.rate_limit
    trust_proxy = rate_limit.trust_proxy
    #: per caller or client: requests whose body is still arriving
    unfinished: dict[str, int] = {}
    tracer = tracing.TRACER  # None unless OTEL_TRACES_EXPORTER=otlp|console (started before the app)
    trail = audit.TRAIL  # None unless AUDIT_LOG is set

    def shed(shape: str) -> web.Response:
        local.shed += 1
        return shaped_error(shape, 503, SHED_MESSAGE, {"Retry-After": RETRY_AFTER})

    async def receive_body(request: web.Request, ctx: Optional[RequestContext], shape: str,
                           pending: bool) -> Optional[web.Response]:
        """None once the body is in; ``415`` for an encoded body; ``429`` when
        its client already has ``MAX_UNFINISHED_PER_CLIENT`` bodies arriving.
        Waits for a body still arriving (``HTTP_BODY_TIMEOUT``)."""
        encodings = ",".join(request.headers.getall(CONTENT_ENCODING, ())).lower().split(",")
        if any(e.strip() not in ("", "identity") for e in encodings) and request.body_exists:
            resp = shaped_error(shape, 415, ENCODED_BODY, IDENTITY_ONLY)
            resp.force_close()
            return resp
        if not pending:
            return None
        if ctx is not None and guard is not None:
            key = guard.caller_key(request, ctx)
        else:
            key = request_bucket(request, rate_limit)
        n = unfinished.get(key, 0)
        if n >= max_unfinished:
            resp = shaped_error(shape, 429, too_many_unfinished, {"Retry-After": RETRY_AFTER})
            resp.force_close()
            return resp
        unfinished[key] = n + 1
        try:
            await _await_body(request, state)
        finally:
            n = unfinished.pop(key) - 1
            if n:
                unfinished[key] = n
        return None

    def wrap(handler: Handler, info: Optional[Route]) -> Handler:
        guarded = info is not None and info.guarded and guard is not None
        limited = guarded and guard is not None and guard.limiter is not None
        sheddable = info is not None and info.sheddable
        template = info.template if info is not None else metrics.UNMATCHED
        logged_route = info.template if info is not None else None
        shape = info.error_shape if info is not None else "error"
        #: a token route while the audit trail is on: a context even without the guard (drop-in mode)
        audited = info is not None and info.guarded and trail is not None

        async def pipeline(request: web.Request) -> web.StreamResponse:
            start = perf_counter()
            local.in_progress += 1
            headers = request.headers
            rid = request_id_from(headers)
            ctx: Optional[RequestContext] = None
            status = 500
            content = request.content
            pending = not content.is_eof()  # the body did not come with the head (or is broken)
            span = otel_token = None
            if tracer is not None:
                span, otel_token = tracer.start_request(request.method, logged_route, headers)
            try:
                origin = headers.get("Origin")
                refused = False
                if origin is not None and not cors.allows(origin):
                    if same_origin(origin, request.host):
                        origin = None  # not cross-origin: served as without Origin
                    else:
                        refused = True
                if refused:
                    resp: web.StreamResponse = shaped_error(shape, 403, "Origin not allowed")
                elif origin is not None and request.method == "OPTIONS":
                    resp = cors.preflight(origin)
                else:
                    try:
                        denied = None
                        if guarded or audited:
                            ctx = RequestContext(rid, info)
                            request[CONTEXT] = ctx
                            if audited or trust_proxy:  # the client (a malformed X-Forwarded-For: 400, always)
                                ctx.remote = request_client_ip(request, trust_proxy)
                        if guarded:
                            denied = await guard.authenticate(request, ctx)  # type: ignore[union-attr,arg-type]
                        body_at = 0.0  # when the body was complete, if after the head
                        if denied is None and (pending or CONTENT_ENCODING in headers):
                            denied = await receive_body(request, ctx, shape, pending)
                            body_at = monotonic()
                        if denied is not None:
                            resp = denied
                        elif sheddable and (monotonic() - (body_at or getattr(request.protocol, "head_at", 1e300))
                                            > max_wait):
                            resp = shed(shape)
                        else:
                            if limited:
                                denied = await guard.limit(request, ctx)  # type: ignore[union-attr,arg-type]
                            if denied is not None:
                                resp = denied
                            elif sheddable and state.inflight >= max_inflight:
                                resp = shed(shape)
                            elif sheddable:
                                state.inflight += 1
                                try:
                                    resp = await handler(request)
                                finally:
                                    state.inflight -= 1
                            else:
                                resp = await handler(request)
                    except web.HTTPException as exc:
                        resp = await _error_response(request, exc, max_body, probe, shape)
                    except ServiceError as exc:  # e.g. a malformed X-Forwarded-For under TRUST_PROXY
                        resp = error_response(shape, exc)
                    except (RequestPayloadError, HttpProcessingError) as exc:  # the latter from the body's parser
                        resp = unreadable_body(request, exc, shape)
                    if origin is not None:
                        h = resp.headers
                        h.update(cors_fixed)
                        h["Access-Control-Allow-Origin"] = origin
                h = resp.headers
                if "Expires" not in h:
                    h.update(no_cache)
                h[rid_header] = rid
                if state.draining:
                    resp.force_close()
                status = resp.status
                if pending and not content.is_eof():  # refused before the body was read
                    await _answer_and_close(request, resp)
                return resp
            except ConnectionResetError:  # the client hung up, e.g. mid-body
                status = 499  # nginx's code for it; nobody will read this answer
                return shaped_error(shape, 400, "the client closed the connection")
            except asyncio.CancelledError:  # the same, seen by a cancelled handler
                status = 499
                raise
            except Exception:
                log.exception("unhandled error on %s %s (request id %s)", request.method,
                              request.rel_url.raw_path[:200], rid)
                resp = shaped_error(shape, 500, "internal server error")
                resp.headers[rid_header] = rid
                return resp
            finally:
                local.in_progress -= 1
                elapsed = perf_counter() - start
                method = request.method
                local.answered.append((template, method, status, elapsed))
                trace_id = None
                if span is not None:
                    trace_id = tracer.trace_id()  # type: ignore[union-attr]
                    tracer.end_request(span, otel_token, status, ctx)  # type: ignore[union-attr]
                if access is not None:
                    caller = ctx.caller if ctx is not None else None
                    remote = ctx.remote if ctx is not None else None
                    if remote is None:
                        remote = logged_client_ip(request, trust_proxy)
                    url = request.rel_url
                    access.record(method, url.raw_path, url.raw_query_string, status, elapsed, rid, logged_route,
                                  caller.id if caller is not None and caller.kind != "anonymous" else None,
                                  remote, trace_id)

        pipeline.__name__ = getattr(handler, "__name__", "handler")
        return pipeline

    return wrap


def make_fallback(probe: web.UrlDispatcher) -> Handler:
    """The handler of every request no route takes: ``405`` (with ``Allow``)
    for a known path, a redirect for a path one slash away from a route,
    ``204`` for an ``OPTIONS`` on a known path, else ``404``."""

    async def fallback(request: web.Request) -> web.StreamResponse:
        match = await probe.resolve(request)
        exc = match.http_exception or web.HTTPNotFound()
        if request.method == "OPTIONS" and exc.status == 405:
            return web.Response(status=204, headers=NO_CACHE_HEADERS)  # not a CORS preflight
        raise exc

    return fallback
