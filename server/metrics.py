"""Prometheus metrics of the token service (``GET /metrics``).

Metrics (all prefixed ``agora_token_``):

* ``http_requests_total{route,method,status}`` – every response, by route
  *template* (``/rtc/{channelName}/{role}/{tokenType}/{rtcuid}/``, never the raw
  path: raw paths carry user ids and would explode the label space);
  requests that match no route are counted as ``route="unmatched"``.
* ``http_request_duration_seconds{route,method}`` – latency histogram.
* ``http_requests_in_progress`` – requests being served right now.
* ``tokens_issued_total{type}`` – tokens built, by type (rtc, rtm, chat).
* ``auth_failures_total{reason}`` – rejected callers (401/403).
* ``rate_limited_total`` – requests rejected with 429.
* ``build_info{version,backend}`` – always 1.

Multi-process (``python -m server --workers N``): prometheus-client's
multiprocess mode. The supervising parent calls :func:`prepare_multiprocess`
*before* it starts the workers: it creates a private temporary directory and
exports it as ``PROMETHEUS_MULTIPROC_DIR``, which the workers inherit. Each
worker then writes its samples to its own memory-mapped files there, and a
scrape served by *any* worker merges every file
(:class:`prometheus_client.multiprocess.MultiProcessCollector`), so counters
are totals over all workers, including workers that have since died or been
restarted. A dead worker's "live" gauge files (``http_requests_in_progress``)
are removed with prometheus-client's ``mark_process_dead``: by
:func:`worker_exited` when a supervisor reports the death, and in any case by
:func:`sweep_dead_workers` before every scrape (it checks each file's pid), so
a worker killed mid-request never leaves the gauge raised. The directory is
removed when the parent exits (:func:`cleanup_multiprocess`, registered with
:mod:`atexit`; forked workers leave with ``os._exit`` and never run it). A directory chosen by the operator (the variable already
set) is used as is and never deleted.

prometheus-client decides between single- and multi-process value storage
when it is first imported, so this module imports it lazily; if it was
imported before the directory was set up, :func:`_metrics` switches the value
class before creating any metric.

The other modules call :func:`observe_request`, :func:`token_issued`,
:func:`auth_failure` and :func:`rate_limited`; they never raise.
"""

from __future__ import annotations

import atexit
import hmac
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Optional

from aiohttp import web

log = logging.getLogger("server.metrics")

ENV_DIR = "PROMETHEUS_MULTIPROC_DIR"
NAMESPACE = "agora_token"

# Bounded label values: anything else is folded into "other".
TOKEN_TYPES = frozenset({"rtc", "rtm", "chat"})
AUTH_REASONS = frozenset({
    "missing_credentials", "invalid_api_key", "invalid_jwt", "expired_jwt",
    "forbidden_uid", "forbidden_channel", "forbidden_role", "forbidden",
})
METHODS = frozenset({"GET", "POST", "OPTIONS", "HEAD", "PUT", "DELETE", "PATCH"})
UNMATCHED = "unmatched"

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

_owned_dir: Optional[str] = None
_owner_pid: Optional[int] = None


# ------------------------------------------------------ multi-process setup

def prepare_multiprocess() -> Optional[str]:
    """In the supervising parent, before starting workers: make sure
    ``PROMETHEUS_MULTIPROC_DIR`` names a directory, creating a private
    temporary one (removed at exit) if the operator did not set one.
    Returns the directory."""
    global _owned_dir
    existing = os.environ.get(ENV_DIR) or os.environ.get(ENV_DIR.lower())
    if existing:
        os.makedirs(existing, exist_ok=True)
        os.environ[ENV_DIR] = existing
        return existing
    global _owner_pid
    _owned_dir = tempfile.mkdtemp(prefix="agora-token-metrics-")
    _owner_pid = os.getpid()
    os.environ[ENV_DIR] = _owned_dir
    atexit.register(cleanup_multiprocess)
    return _owned_dir


def worker_exited(pid: int, path: Optional[str] = None) -> None:
    """In the parent, when a worker process has died (for any reason)."""
    path = path or os.environ.get(ENV_DIR)
    if not path:
        return
    try:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, path)
    except FileNotFoundError:  # another worker swept it first
        pass
    except Exception:  # pragma: no cover - bookkeeping must never crash the parent
        log.exception("metrics: could not mark worker %s dead", pid)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: exists, owned by someone else
        return True
    return True


def sweep_dead_workers(path: Optional[str] = None) -> int:
    """Forget the "live" gauge files of worker processes that no longer exist
    (what :func:`worker_exited` does, found out from the files themselves), so
    a worker that died mid-request does not leave ``http_requests_in_progress``
    raised. Called before every multi-process scrape. Returns how many pids
    were swept."""
    path = path or os.environ.get(ENV_DIR)
    if not path:
        return 0
    import glob

    dead = set()
    for f in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        pid_text = f[:-3].rsplit("_", 1)[-1]
        if pid_text.isdigit() and not _pid_alive(int(pid_text)):
            dead.add(int(pid_text))
    for pid in dead:
        worker_exited(pid, path)
    return len(dead)


def cleanup_multiprocess() -> None:
    """Remove the temporary directory made by :func:`prepare_multiprocess`
    (only in the process that made it; never an operator-chosen one)."""
    global _owned_dir
    if _owned_dir is not None and _owner_pid == os.getpid():  # never in a forked worker
        shutil.rmtree(_owned_dir, ignore_errors=True)
        if os.environ.get(ENV_DIR) == _owned_dir:
            del os.environ[ENV_DIR]
        _owned_dir = None


def multiprocess_enabled() -> bool:
    return bool(os.environ.get(ENV_DIR))


# ------------------------------------------------------------------ metrics

@dataclass
class _Metrics:
    requests: Any
    latency: Any
    in_progress: Any
    tokens: Any
    auth_failures: Any
    rate_limited: Any
    multiprocess: bool


_m: Optional[_Metrics] = None


def _metrics() -> _Metrics:
    global _m
    if _m is not None:
        return _m
    from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics, values

    disable_created_metrics()  # no *_created series: half the output, no information here

    multi = multiprocess_enabled()
    if multi and not getattr(values.ValueClass, "_multiprocess", False):
        # prometheus-client was imported before the directory was set up.
        values.ValueClass = values.get_value_class()
    requests = Counter("http_requests", "HTTP responses by route template, method and status.",
                       ["route", "method", "status"], namespace=NAMESPACE)
    latency = Histogram("http_request_duration_seconds", "Time to answer a request, by route template.",
                        ["route", "method"], namespace=NAMESPACE, buckets=LATENCY_BUCKETS)
    in_progress = Gauge("http_requests_in_progress", "Requests being served.", namespace=NAMESPACE,
                        multiprocess_mode="livesum")
    tokens = Counter("tokens_issued", "Tokens issued, by type.", ["type"], namespace=NAMESPACE)
    auth = Counter("auth_failures", "Requests rejected by caller authentication or authorisation, by reason.",
                   ["reason"], namespace=NAMESPACE)
    limited = Counter("rate_limited", "Requests rejected by the rate limiter (429).", namespace=NAMESPACE)
    info = Gauge("build_info", "Version and token backend of the service (always 1).",
                 ["version", "backend"], namespace=NAMESPACE, multiprocess_mode="max")
    try:
        import agora_token

        info.labels(agora_token.__version__, agora_token.BACKEND).set(1)
    except Exception:  # pragma: no cover
        pass
    for kind in TOKEN_TYPES:  # export zeros, so rate() works from the start
        tokens.labels(kind)
    _m = _Metrics(requests, latency, in_progress, tokens, auth, limited, multi)
    return _m


def init() -> None:
    """Create the metrics now (called when the app is built)."""
    _metrics()


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request. ``route`` must be a route template."""
    try:
        m = _metrics()
        method = method if method in METHODS else "other"
        m.requests.labels(route, method, str(status)).inc()
        m.latency.labels(route, method).observe(max(seconds, 0.0))
    except Exception:  # pragma: no cover - metrics must never break a request
        log.exception("metrics: observe_request failed")


def token_issued(kind: str, count: int = 1) -> None:
    """Count ``count`` issued tokens of type ``kind`` (``rtc``, ``rtm`` or ``chat``)."""
    try:
        _metrics().tokens.labels(kind if kind in TOKEN_TYPES else "other").inc(count)
    except Exception:  # pragma: no cover
        log.exception("metrics: token_issued failed")


def auth_failure(reason: str) -> None:
    """Count one rejected caller (``reason``: e.g. ``invalid_api_key``, ``invalid_jwt``)."""
    try:
        _metrics().auth_failures.labels(reason if reason in AUTH_REASONS else "other").inc()
    except Exception:  # pragma: no cover
        log.exception("metrics: auth_failure failed")


def rate_limited() -> None:
    """Count one request rejected with 429."""
    try:
        _metrics().rate_limited.inc()
    except Exception:  # pragma: no cover
        log.exception("metrics: rate_limited failed")


def render() -> tuple[bytes, str]:
    """The Prometheus text exposition (merged over all workers in multi-process mode)."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    m = _metrics()
    if m.multiprocess:
        from prometheus_client import multiprocess

        sweep_dead_workers()
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


# ------------------------------------------------------------------ aiohttp

def route_template(request: web.Request) -> str:
    """The matched route's template (``/rtm/{rtmuid}/``), or ``unmatched``."""
    try:
        route = request.match_info.route
        resource = route.resource
        if resource is None or getattr(request.match_info, "http_exception", None) is not None:
            return UNMATCHED
        canonical = resource.canonical
        return canonical or UNMATCHED
    except Exception:
        return UNMATCHED


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost middleware: counts every response with its final status."""
    start = time.perf_counter()
    m = _metrics()
    m.in_progress.inc()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except BaseException:
        status = 500  # aiohttp answers 500 (or the client went away)
        raise
    finally:
        m.in_progress.dec()
        observe_request(route_template(request), request.method, status, time.perf_counter() - start)


def make_metrics_handler(token: Optional[str] = None) -> Handler:
    """``GET /metrics``; with ``token`` (``METRICS_TOKEN``) it requires
    ``Authorization: Bearer <token>`` (compared in constant time)."""
    expected = f"Bearer {token}".encode() if token else None

    async def metrics_handler(request: web.Request) -> web.StreamResponse:
        if expected is not None:
            given = request.headers.get("Authorization", "").encode("utf-8", "replace")
            if not hmac.compare_digest(given, expected):
                return web.json_response(
                    {"error": "GET /metrics needs 'Authorization: Bearer <METRICS_TOKEN>'"},
                    status=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        body, content_type = render()
        resp = web.Response(body=body)
        resp.headers["Content-Type"] = content_type
        return resp

    return metrics_handler


def _count_issued(request: web.Request, kind: str) -> None:
    """``app[ISSUED_HOOKS]`` hook: one token of ``kind`` was issued."""
    token_issued("chat" if kind == "chat_app" else kind)


def setup(app: web.Application, *, token: Optional[str] = None, path: str = "/metrics") -> None:
    """Add the metrics middleware (outermost), ``GET /metrics`` and the
    tokens-issued counter to ``app``. ``token`` defaults to ``METRICS_TOKEN``
    from the app's settings (environment / ``.env``)."""
    init()
    if token is None:
        try:
            from .keys import SETTINGS

            env = getattr(app[SETTINGS], "env", None) or {}
            token = (env.get("METRICS_TOKEN") or "").strip() or None
        except (ImportError, KeyError):
            token = (os.environ.get("METRICS_TOKEN") or "").strip() or None
    try:
        from .keys import ISSUED_HOOKS

        app[ISSUED_HOOKS].append(_count_issued)
    except (ImportError, KeyError):
        pass
    app.middlewares.insert(0, metrics_middleware)
    app.router.add_get(path, make_metrics_handler(token), allow_head=False)
