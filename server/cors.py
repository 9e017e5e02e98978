"""CORS, as the spec has it, in the request pipeline (no second mechanism):

* a request whose ``Origin`` is allowed (``CORS_ALLOW_ORIGIN``: ``*`` or exact
  origins) gets ``Access-Control-Allow-Origin: <origin>``, the fixed
  ``Access-Control-Allow-Methods`` / ``-Headers`` lists and
  ``Access-Control-Expose-Headers``, on every response (errors and redirects
  included, so a page can read them);
* every ``OPTIONS`` from an allowed origin is a ``204`` preflight with those
  lists, whatever it asks about (the browser enforces the lists);
* a request whose ``Origin`` is not allowed gets ``403 {"error": "Origin not
  allowed"}`` and no token; a request without ``Origin`` is served, and so is
  a same-origin request (``Origin`` is the service's own ``http(s)://`` +
  ``Host``: a page the service serves, such as ``/docs``).

aiohttp-cors is not used: of these rules it can express only
``Allow-Origin``/``Expose-Headers`` on registered routes, which the pipeline
must do anyway for 404s and redirects; configured as well it would apply the
same rule twice and cost a signal handler on every response.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from aiohttp import web

from .config import Settings
from .responses import NO_CACHE_HEADERS

__all__ = ["CorsPolicy", "same_origin"]

ALLOW_METHODS = ("GET", "POST", "OPTIONS")
ALLOW_HEADERS = ("Origin", "Content-Type")
#: added when caller authentication is on
AUTH_HEADERS = ("Authorization", "X-API-Key")
#: added when tracing is on (server.tracing): a page may continue its own trace
TRACE_HEADERS = ("traceparent", "tracestate")
#: response headers a page may read (request id for support tickets,
#: Retry-After on 429 and 503)
EXPOSE_HEADERS = ("X-Request-ID", "Retry-After")


@dataclass(frozen=True)
class CorsPolicy:
    allow_all: bool
    origins: frozenset[str]
    allow_headers: tuple[str, ...] = ALLOW_HEADERS

    @classmethod
    def from_settings(cls, settings: Settings) -> "CorsPolicy":
        headers = (ALLOW_HEADERS + (AUTH_HEADERS if settings.auth.enabled else ())
                   + (TRACE_HEADERS if settings.tracing.enabled else ()))
        return cls(settings.cors_allow_all, frozenset(settings.cors_origins), headers)

    def allows(self, origin: str) -> bool:
        return self.allow_all or origin in self.origins

    @cached_property
    def fixed_headers(self) -> dict[str, str]:
        """The CORS headers of a response to any allowed origin, all but
        ``Access-Control-Allow-Origin``."""
        return {
            "Access-Control-Allow-Methods": ", ".join(ALLOW_METHODS),
            "Access-Control-Allow-Headers": ", ".join(self.allow_headers),
            "Access-Control-Expose-Headers": ", ".join(EXPOSE_HEADERS),
            "Vary": "Origin",
        }

    def headers_for(self, origin: str) -> dict[str, str]:
        """The CORS headers of a response to an allowed ``origin``."""
        return {"Access-Control-Allow-Origin": origin, **self.fixed_headers}

    def preflight(self, origin: str) -> web.Response:
        return web.Response(status=204, headers={**self.headers_for(origin), **NO_CACHE_HEADERS})


def same_origin(origin: str, host: str) -> bool:
    """Whether ``origin`` is the service's own (``http(s)://`` + the ``Host``
    it was called by): a page of the service itself, such as ``/docs``, whose
    browser sends ``Origin`` on a POST. Not a cross-origin request, so not
    CORS's business."""
    scheme, sep, rest = origin.partition("://")
    return bool(sep) and scheme in ("http", "https") and rest == host
