"""Prometheus metrics (``GET /metrics``), counted cheaply.

The request path only appends one tuple per request (and bumps plain
counters) in this process (:data:`LOCAL`); every second, when ``/metrics``
is served and when a worker stops, they are added up and pushed into
prometheus-client's metrics. With ``--workers N`` a scrape served by any
worker sees every worker's counts, at most one second old.

Metrics (prefix ``agora_token_``):

* ``http_requests_total{route,method,status}``: every answered request, by
  route *template* (``unmatched`` when no route matched); a client that hung
  up before its answer was sent counts as status ``499``.
* ``http_request_duration_seconds{route,method}``: latency histogram.
* ``http_requests_in_progress``: requests being served.
* ``tokens_issued_total{type}``: rtc, rtm, chat.
* ``auth_failures_total{reason}``: rejected callers (401/403).
* ``rate_limited_total``: 429s. ``rate_limit_storage_errors_total``: failed
  or timed-out calls to the rate-limit storage (Redis).
* ``requests_shed_total``: 503s of load shedding.
* ``audit_write_errors_total``: failed writes of the audit trail
  (:mod:`server.audit`: a full disk, a read-only file; the lines are kept
  and written again); ``audit_lines_dropped_total``: audit lines given up
  on (the retry buffer full).
* ``connections_closed_total{reason}``: connections the server closed:
  ``header_timeout``, ``body_timeout``, ``evicted`` (at the connection cap).
* ``build_info{version,backend}``: always 1.

Multi-process: prometheus-client's multiprocess mode. The supervisor calls
:func:`prepare_multiprocess` before forking: a private temporary
``PROMETHEUS_MULTIPROC_DIR`` (removed at exit; one the operator set is used
and kept). Dead workers' live-gauge files are swept before every scrape.
"""

from __future__ import annotations

import atexit
import glob
import hmac
import logging
import os
import shutil
import tempfile
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import agora_token

from .env import check_secret_text, env_str

__all__ = ["LOCAL", "MetricsSettings", "UNMATCHED", "VARIABLES", "flush", "parse_metrics_settings", "render"]

log = logging.getLogger("server.metrics")

ENV_DIR = "PROMETHEUS_MULTIPROC_DIR"
#: the variables this module reads (METRICS_TOKEN in its settings; the directory when workers start)
VARIABLES = ("METRICS_TOKEN", ENV_DIR)
NAMESPACE = "agora_token"
UNMATCHED = "unmatched"
FLUSH_INTERVAL = 1.0
#: failed METRICS_TOKEN attempts allowed per client address and minute
METRICS_FAILURES_PER_MINUTE = 10
TOKEN_TYPES = ("rtc", "rtm", "chat", "rtm2", "streaming", "fpa", "fcdn", "apaas")
AUTH_REASONS = frozenset({
    "missing_credentials", "invalid_api_key", "invalid_jwt", "expired_jwt", "jwks_unavailable",
    "forbidden_uid", "forbidden_channel", "forbidden_role", "forbidden",
})
CLOSE_REASONS = ("header_timeout", "body_timeout", "evicted")
METHODS = frozenset({"GET", "POST", "OPTIONS", "HEAD", "PUT", "DELETE", "PATCH"})
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_BOUNDS = (*LATENCY_BUCKETS, float("inf"))


@dataclass(frozen=True)
class MetricsSettings:
    """``token``: ``METRICS_TOKEN``; when set, ``/metrics`` needs it as a bearer credential."""

    token: Optional[str] = None

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.token,) if self.token else ()


def parse_metrics_settings(env: Mapping[str, str]) -> MetricsSettings:
    raw = env_str(env, "METRICS_TOKEN")
    return MetricsSettings(check_secret_text(raw, "METRICS_TOKEN", "the token") if raw else None)


# ------------------------------------------------------------ local counters

class LocalCounts:
    """This process's counts since the last flush (plain ints: the event loop
    is single-threaded)."""

    __slots__ = ("answered", "in_progress", "tokens", "auth_failures", "rate_limited", "storage_errors", "shed",
                 "closed", "audit_write_errors", "audit_lines_dropped")

    def __init__(self) -> None:
        #: (route, method, status, seconds) of each request answered since the last flush
        self.answered: list[tuple[str, str, int, float]] = []
        self.in_progress = 0
        self.tokens: dict[str, int] = {}
        self.auth_failures: dict[str, int] = {}
        self.rate_limited = 0
        self.storage_errors = 0
        self.shed = 0
        self.closed: dict[str, int] = {}
        self.audit_write_errors = 0
        self.audit_lines_dropped = 0

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """One answered request (``route`` a template or :data:`UNMATCHED`);
        the pipeline appends to :attr:`answered` directly."""
        self.answered.append((route, method, status, seconds))

    def add_up(self) -> tuple[dict[tuple[str, str, int], int], dict[tuple[str, str], list[float]]]:
        """Take :attr:`answered`, folded into per-label counts: (route, method,
        status) -> requests, and (route, method) -> [count per latency bucket...,
        sum of seconds]."""
        answered, self.answered = self.answered, []
        requests: dict[tuple[str, str, int], int] = {}
        latency: dict[tuple[str, str], list[float]] = {}
        for route, method, status, seconds in answered:
            if method not in METHODS:
                method = "other"
            key = (route, method, status)
            requests[key] = requests.get(key, 0) + 1
            lat = latency.get((route, method))
            if lat is None:
                lat = latency[(route, method)] = [0.0] * (len(_BOUNDS) + 1)
            lat[bisect_left(_BOUNDS, seconds)] += 1
            lat[-1] += seconds
        return requests, latency

    def token_issued(self, kind: str) -> None:
        kind = "chat" if kind == "chat_app" else kind
        self.tokens[kind] = self.tokens.get(kind, 0) + 1

    def auth_failure(self, reason: str) -> None:
        reason = reason if reason in AUTH_REASONS else "other"
        self.auth_failures[reason] = self.auth_failures.get(reason, 0) + 1

    def connection_closed(self, reason: str) -> None:
        self.closed[reason] = self.closed.get(reason, 0) + 1


#: this process's counts
LOCAL = LocalCounts()


# ------------------------------------------------------------ prometheus side

_owned_dir: Optional[str] = None
_owner_pid: Optional[int] = None


def prepare_multiprocess() -> str:
    """In the supervisor, before forking: make sure ``PROMETHEUS_MULTIPROC_DIR``
    names a directory (a private temporary one, removed at exit, unless the
    operator set one)."""
    global _owned_dir, _owner_pid
    existing = os.environ.get(ENV_DIR) or os.environ.get(ENV_DIR.lower())
    if existing:
        os.makedirs(existing, exist_ok=True)
        os.environ[ENV_DIR] = existing
        return existing
    _owned_dir = tempfile.mkdtemp(prefix="agora-token-metrics-")
    _owner_pid = os.getpid()
    os.environ[ENV_DIR] = _owned_dir
    atexit.register(cleanup_multiprocess)
    return _owned_dir


def cleanup_multiprocess() -> None:
    """Remove the directory :func:`prepare_multiprocess` made (only in that process)."""
    global _owned_dir
    if _owned_dir is not None and _owner_pid == os.getpid():
        shutil.rmtree(_owned_dir, ignore_errors=True)
        if os.environ.get(ENV_DIR) == _owned_dir:
            del os.environ[ENV_DIR]
        _owned_dir = None


def multiprocess_enabled() -> bool:
    return bool(os.environ.get(ENV_DIR))


def worker_exited(pid: int) -> None:
    """In the supervisor, when a worker died: forget its live-gauge files."""
    path = os.environ.get(ENV_DIR)
    if not path:
        return
    try:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]
    except FileNotFoundError:
        pass
    except Exception:  # pragma: no cover - bookkeeping must never crash the supervisor
        log.exception("metrics: could not mark worker %s dead", pid)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: exists, owned by someone else
        return True
    return True


def sweep_dead_workers() -> int:
    """Forget the live-gauge files of processes that no longer exist (so a
    worker killed mid-request does not leave the in-progress gauge raised)."""
    path = os.environ.get(ENV_DIR)
    if not path:
        return 0
    dead = set()
    for f in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        pid_text = f[:-3].rsplit("_", 1)[-1]
        if pid_text.isdigit() and not _pid_alive(int(pid_text)):
            dead.add(int(pid_text))
    for pid in dead:
        worker_exited(pid)
    return len(dead)


@dataclass
class _Prometheus:
    requests: Any
    latency: Any
    in_progress: Any
    tokens: Any
    auth_failures: Any
    rate_limited: Any
    storage_errors: Any
    shed: Any
    closed: Any
    audit_write_errors: Any
    audit_lines_dropped: Any
    multiprocess: bool


_prom: Optional[_Prometheus] = None


def _metrics() -> _Prometheus:
    """The prometheus-client metrics, created on first use (prometheus-client
    picks single- or multi-process storage when it is first imported, so it
    is imported only here)."""
    global _prom
    if _prom is not None:
        return _prom
    from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics, values

    disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series
    multi = multiprocess_enabled()
    if multi and not getattr(values.ValueClass, "_multiprocess", False):
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]  # imported earlier
    ns = NAMESPACE
    p = _Prometheus(
        requests=Counter("http_requests", "HTTP responses by route template, method and status.",
                         ["route", "method", "status"], namespace=ns),
        latency=Histogram("http_request_duration_seconds", "Time to answer a request, by route template.",
                          ["route", "method"], namespace=ns, buckets=LATENCY_BUCKETS),
        in_progress=Gauge("http_requests_in_progress", "Requests being served.", namespace=ns,
                          multiprocess_mode="livesum"),
        tokens=Counter("tokens_issued", "Tokens issued, by type.", ["type"], namespace=ns),
        auth_failures=Counter("auth_failures", "Callers rejected by authentication or authorisation, by reason.",
                              ["reason"], namespace=ns),
        rate_limited=Counter("rate_limited", "Requests rejected by the rate limiter (429).", namespace=ns),
        storage_errors=Counter("rate_limit_storage_errors", "Rate-limit storage calls that failed or timed out.",
                               namespace=ns),
        shed=Counter("requests_shed", "Requests answered 503 by load shedding.", namespace=ns),
        closed=Counter("connections_closed", "Connections closed by the server, by reason.", ["reason"],
                       namespace=ns),
        audit_write_errors=Counter("audit_write_errors", "Failed writes of the audit trail (lines kept for a retry).",
                                   namespace=ns),
        audit_lines_dropped=Counter("audit_lines_dropped", "Audit lines given up on after failed writes.",
                                    namespace=ns),
        multiprocess=multi,
    )
    info = Gauge("build_info", "Version and token backend of the service (always 1).",
                 ["version", "backend"], namespace=ns, multiprocess_mode="max")
    info.labels(agora_token.__version__, agora_token.BACKEND).set(1)
    for kind in TOKEN_TYPES:  # zeros from the start, so rate() works
        p.tokens.labels(kind)
    for reason in CLOSE_REASONS:
        p.closed.labels(reason)
    _prom = p
    return p


def flush() -> None:
    """Push this process's counts into the prometheus metrics."""
    p = _metrics()
    c = LOCAL
    requests, latency = c.add_up()
    for (route, method, status), n in requests.items():
        p.requests.labels(route, method, str(status)).inc(n)
    for (route, method), lat in latency.items():
        child = p.latency.labels(route, method)
        # prometheus-client keeps one non-cumulative value per bucket and a sum
        for i, count in enumerate(lat[:-1]):
            if count:
                child._buckets[i].inc(count)
        child._sum.inc(lat[-1])
    p.in_progress.set(c.in_progress)
    for name in ("tokens", "auth_failures", "closed"):  # counts by one label
        counts = getattr(c, name)
        for label, n in counts.items():
            getattr(p, name).labels(label).inc(n)
        counts.clear()
    for name in ("rate_limited", "storage_errors", "shed", "audit_write_errors", "audit_lines_dropped"):
        n = getattr(c, name)
        if n:
            getattr(p, name).inc(n)
            setattr(c, name, 0)


def render() -> tuple[bytes, str]:
    """The text exposition (merged over all workers in multi-process mode)."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    flush()
    if _metrics().multiprocess:
        from prometheus_client import multiprocess

        sweep_dead_workers()
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def token_matches(expected: str, authorization: Optional[str]) -> bool:
    """``Authorization: Bearer <METRICS_TOKEN>``, compared in constant time."""
    given = (authorization or "").encode("utf-8", "replace")
    return hmac.compare_digest(given, f"Bearer {expected}".encode())
