"""OpenTelemetry traces: the ``otel`` extra (``pip install
'agora-token[server,otel]'``), configured by OpenTelemetry's own variables.

On only when ``OTEL_TRACES_EXPORTER`` says ``otlp`` or ``console`` (or
both, comma-separated): installing the extra turns nothing on. Off (unset,
``none``), nothing of OpenTelemetry is imported and :data:`TRACER` stays
None: the request path pays one ``is None`` check. The SDK reads the rest
itself: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (and its ``_TRACES_`` form),
``OTEL_SERVICE_NAME`` (``agora-token`` when neither it nor
``OTEL_RESOURCE_ATTRIBUTES`` names the service), ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG`` (default
``parentbased_always_on``). ``OTEL_EXPORTER_OTLP_PROTOCOL`` may only be
``http/protobuf`` (the extra's exporter; gRPC is not included). Values from
``.env`` are passed to the SDK as if they were in the environment.

:func:`start_in_worker` starts the SDK (its batch exporter runs a thread, so
in each worker process after the fork, never in the supervisor) and sets
:data:`TRACER`; :func:`shutdown` exports what is left when the worker stops
(for at most :data:`SHUTDOWN_LIMIT` seconds: a collector that does not
answer delays no exit beyond ``SHUTDOWN_DELAY + SHUTDOWN_GRACE``).

What a request's span carries (:meth:`Tracing.start_request`,
:meth:`Tracing.end_request`): one ``SERVER`` span, a child of the caller's
W3C ``traceparent`` (and ``tracestate``) when it sends one, named
``METHOD /route/{template}`` (the method alone when no route matched), with
``http.request.method``, ``http.route``, ``http.response.status_code``,
``agora.caller.kind`` (``key``, ``jwt``, ``anonymous``; never the caller's
id, key or JWT) and ``agora.token.kinds`` (the kinds of the services issued,
:meth:`Tracing.issued`); channel names (``agora.token.channels``) only with
``TRACE_CHANNEL_NAMES=1``. Child spans: each rate-limit call to Redis
(:mod:`server.limitstore`) and each JWKS fetch (:mod:`server.jwks`).
:func:`current_trace_id` gives the access log and the audit trail the
trace id of the request being served.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any, Optional, TypeVar

import agora_token
from agora_token._layout import LAYOUTS

from .env import ConfigError, env_flag, env_str

if TYPE_CHECKING:
    from .policy import TokenRequest
    from .state import RequestContext

__all__ = ["EXPORTERS", "TRACER", "Tracing", "TracingSettings", "current_trace_id", "parse_tracing_settings",
           "shutdown", "start_in_worker", "traced"]

#: the exporters this service can start (``OTEL_TRACES_EXPORTER``)
EXPORTERS = ("otlp", "console")
#: the only OTLP protocol of the extra's exporter
OTLP_PROTOCOL = "http/protobuf"
DEFAULT_SERVICE_NAME = "agora-token"
#: OpenTelemetry's variables the SDK reads for this service (passed on by :func:`parse_tracing_settings`)
OTEL_VARIABLES = ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                  "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_SERVICE_NAME",
                  "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_RESOURCE_ATTRIBUTES")
#: the variables this module reads
VARIABLES = (*OTEL_VARIABLES, "TRACE_CHANNEL_NAMES")
INSTALL_HINT = "pip install 'agora-token[server,otel]'"
#: at most this many seconds to export the spans still buffered when a worker
#: stops (less when less is left of ``SHUTDOWN_GRACE``): :func:`shutdown`
SHUTDOWN_LIMIT = 2.0

T = TypeVar("T")


@dataclass(frozen=True)
class TracingSettings:
    """``exporters``: from ``OTEL_TRACES_EXPORTER`` (empty: tracing off).
    ``channel_names``: ``TRACE_CHANNEL_NAMES``. ``otel_env``: the
    ``OTEL_*`` values as read (``.env`` included), handed to the SDK."""

    exporters: tuple[str, ...] = ()
    channel_names: bool = False
    otel_env: tuple[tuple[str, str], ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.exporters)


def extra_installed() -> bool:
    """Whether the ``otel`` extra's packages can be imported (imports none of them)."""
    try:
        return all(find_spec(name) is not None for name in (
            "opentelemetry.sdk.trace", "opentelemetry.exporter.otlp.proto.http.trace_exporter"))
    except ImportError:  # the parent package is missing
        return False


def parse_tracing_settings(env: Mapping[str, str]) -> TracingSettings:
    """Tracing is on only when ``OTEL_TRACES_EXPORTER`` names ``otlp`` and/or
    ``console``; ``none`` or unset is off. Raises :class:`ConfigError` for
    another exporter, another OTLP protocol, or when on without the extra."""
    raw = env_str(env, "OTEL_TRACES_EXPORTER").lower()
    names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
    if not names or names == ("none",):
        return TracingSettings(channel_names=env_flag(env, "TRACE_CHANNEL_NAMES", False))
    unknown = [n for n in names if n not in EXPORTERS]
    if unknown:
        raise ConfigError("OTEL_TRACES_EXPORTER", f"must be otlp, console (or both, comma-separated) or none; "
                                                  f"got {', '.join(repr(n[:20]) for n in unknown[:3])}")
    for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        protocol = env_str(env, name).lower()
        if protocol and protocol != OTLP_PROTOCOL:
            raise ConfigError(name, f"must be {OTLP_PROTOCOL} (the exporter of the otel extra), got {protocol[:20]!r}")
    if not extra_installed():
        raise ConfigError("OTEL_TRACES_EXPORTER", f"turns tracing on, which needs the otel extra: {INSTALL_HINT}")
    otel_env = tuple((k, v) for k, v in env.items() if k.startswith("OTEL_") and v)
    return TracingSettings(names, env_flag(env, "TRACE_CHANNEL_NAMES", False), otel_env)


class Tracing:
    """The started SDK: what the request path calls while tracing is on."""

    def __init__(self, provider: Any, channel_names: bool) -> None:
        from opentelemetry import context, trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.provider = provider
        self.tracer = provider.get_tracer("agora_token_server", agora_token.__version__)
        self.channel_names = channel_names
        self._extract = TraceContextTextMapPropagator().extract
        self._attach = context.attach
        self._detach = context.detach
        self._in_context = trace.set_span_in_context
        self._current = trace.get_current_span
        self._server = trace.SpanKind.SERVER
        self._client = trace.SpanKind.CLIENT
        self._error = trace.StatusCode.ERROR
        self._status = trace.Status
        #: service type -> its kind's name (``rtc``, ...)
        self._kinds = {int(t): layout.name for t, layout in LAYOUTS.items()}

    # ------------------------------------------------------------ the request's span

    def start_request(self, method: str, route: Optional[str], headers: Mapping[str, str]) -> tuple[Any, Any]:
        """Start the request's span (continuing ``headers``' ``traceparent``)
        and make it current: (span, token) for :meth:`end_request`."""
        parent = self._extract(headers) if "traceparent" in headers else None
        attributes: dict[str, Any] = {"http.request.method": method}
        if route is not None:
            attributes["http.route"] = route
        span = self.tracer.start_span(f"{method} {route}" if route is not None else method, parent,
                                      self._server, attributes)
        return span, self._attach(self._in_context(span, parent))

    def end_request(self, span: Any, token: Any, status: int, ctx: Optional["RequestContext"]) -> None:
        """End the span started by :meth:`start_request`: status and caller kind."""
        try:
            self._detach(token)
        except Exception:  # noqa: BLE001 - a context from another task: the span still ends
            pass
        if span.is_recording():
            caller = ctx.caller if ctx is not None else None
            if caller is not None:
                span.set_attributes({"http.response.status_code": status, "agora.caller.kind": caller.kind})
            else:
                span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(self._status(self._error))
        span.end()

    def issued(self, req: "TokenRequest") -> None:
        """Record the kinds of the services issued (and with
        ``TRACE_CHANNEL_NAMES``, their channels) on the current span."""
        span = self._current()
        if not span.is_recording():
            return
        kinds: list[str] = []
        channels: list[str] = []
        for token in req.tokens:
            for grant in token.services:
                kind = self._kinds[grant.type]
                if kind not in kinds:
                    kinds.append(kind)
                channel = grant.channel or grant.room
                if channel and channel not in channels:
                    channels.append(channel)
        span.set_attribute("agora.token.kinds", kinds)
        if self.channel_names and channels:
            span.set_attribute("agora.token.channels", channels)

    def trace_id(self) -> Optional[str]:
        """The current span's trace id, 32 hex digits (None when no span)."""
        ctx = self._current().get_span_context()
        return f"{ctx.trace_id:032x}" if ctx.is_valid else None

    # ------------------------------------------------------------ child spans

    def span_until_done(self, name: str, future: "Any", attributes: Optional[Mapping[str, Any]] = None) -> None:
        """A ``CLIENT`` child span of the current one, from now until
        ``future`` is done (an error if it fails or is cancelled)."""
        span = self.tracer.start_span(name, kind=self._client, attributes=attributes)

        def done(f: Any) -> None:
            if f.cancelled():
                span.set_status(self._status(self._error, "cancelled"))
            elif f.exception() is not None:
                exc = f.exception()
                span.set_status(self._status(self._error, type(exc).__name__))
            span.end()

        future.add_done_callback(done)

    async def traced(self, name: str, work: Awaitable[T], attributes: Optional[Mapping[str, Any]] = None) -> T:
        with self.tracer.start_as_current_span(name, kind=self._client, attributes=attributes):
            return await work

    def failed(self, reason: str) -> None:
        """Mark the current span failed (a failure that is handled, not raised)."""
        span = self._current()
        if span.is_recording():
            span.set_status(self._status(self._error, reason[:200]))


#: the started SDK in this process, or None (tracing off: the request path checks only this)
TRACER: Optional[Tracing] = None


def _provider(settings: TracingSettings, exporter: Any = None) -> Any:
    """The SDK's tracer provider with the configured exporters (or ``exporter``, for tests)."""
    for key, value in settings.otel_env:  # .env values: the SDK reads os.environ
        os.environ.setdefault(key, value)
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)  # workers end with os._exit
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        return provider
    for name in settings.exporters:
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        else:
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    return provider


def start_in_worker(settings: TracingSettings, *, exporter: Any = None) -> Optional[Tracing]:
    """Start the SDK in this (worker) process when tracing is on, and set
    :data:`TRACER`; off, import nothing and leave it None. Call it after the
    fork and before the app is built (the pipeline reads :data:`TRACER`
    once). ``exporter``: a span exporter to use instead (tests: the SDK's
    in-memory exporter)."""
    global TRACER
    shutdown()
    if not settings.enabled and exporter is None:
        return None
    TRACER = Tracing(_provider(settings, exporter), settings.channel_names)
    return TRACER


def _shutdown_provider(provider: Any) -> None:
    try:
        provider.shutdown()
    except Exception:  # noqa: BLE001 - exporting at exit: nothing left to report to
        pass


def shutdown(timeout: float = SHUTDOWN_LIMIT) -> None:
    """Export the spans still buffered and stop the SDK (at the worker's
    exit), waiting at most ``timeout`` seconds: past it the spans left are
    dropped, and the exit goes on.

    The SDK's own calls cannot be bounded: ``TracerProvider.shutdown`` waits
    up to 30 s for the batch thread, which waits for the export in progress
    (up to ``OTEL_EXPORTER_OTLP_TIMEOUT``, 10 s, against a collector that
    does not answer), and ``force_flush`` ignores its ``timeout_millis``. So
    the shutdown runs in a daemon thread, joined for ``timeout``: one that
    is still blocked then does not keep the process from exiting."""
    global TRACER
    tracer, TRACER = TRACER, None
    if tracer is None:
        return
    thread = threading.Thread(target=_shutdown_provider, args=(tracer.provider,), name="tracing-shutdown",
                              daemon=True)
    thread.start()
    thread.join(max(0.0, timeout))


def current_trace_id() -> Optional[str]:
    """The trace id of the request being served (None when tracing is off)."""
    tracer = TRACER
    return None if tracer is None else tracer.trace_id()


def traced(name: str, work: Awaitable[T], attributes: Optional[Mapping[str, Any]] = None) -> Awaitable[T]:
    """``work`` inside a ``CLIENT`` child span when tracing is on; else ``work`` itself."""
    tracer = TRACER
    return work if tracer is None else tracer.traced(name, work, attributes)
