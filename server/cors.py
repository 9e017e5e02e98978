"""CORS: aiohttp-cors for preflights and ``Access-Control-Allow-Origin`` on
registered routes, plus the spec's extra rules, which :mod:`server.middleware`
applies:

* a request whose ``Origin`` is not allowed gets ``403 {"error": "Origin not allowed"}``;
* a request without ``Origin`` is served (``Origin`` only means something for browsers);
* allowed requests get ``Access-Control-Allow-Methods`` and ``-Headers`` with
  the fixed lists below; a preflight answers ``204``.

Extending: append header names to ``app[CORS_POLICY].allow_headers`` (e.g.
``Authorization``) in a feature's setup function; :func:`setup_cors` (run last
by ``create_app``) freezes the lists and enables CORS on every route.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import FrozenSet, List

import aiohttp_cors
from aiohttp import web

from .config import Settings

__all__ = ["CORS_POLICY", "CorsPolicy", "setup_cors"]


@dataclass
class CorsPolicy:
    allow_all: bool
    origins: FrozenSet[str]
    allow_methods: List[str] = field(default_factory=lambda: ["GET", "POST", "OPTIONS"])
    allow_headers: List[str] = field(default_factory=lambda: ["Origin", "Content-Type"])
    #: response headers a browser page may read (request id for support
    #: tickets, Retry-After on 429)
    expose_headers: List[str] = field(default_factory=lambda: ["X-Request-ID", "Retry-After"])
    #: header values, computed by :func:`setup_cors`
    methods_value: str = ""
    headers_value: str = ""
    #: resources on which aiohttp-cors handles CORS (it sets Allow-Origin there)
    cors_resources: set = field(default_factory=set)

    @classmethod
    def from_settings(cls, settings: Settings) -> "CorsPolicy":
        return cls(allow_all=settings.cors_allow_all, origins=frozenset(settings.cors_origins))

    def allows(self, origin: str) -> bool:
        return self.allow_all or origin in self.origins


CORS_POLICY = web.AppKey("cors_policy", CorsPolicy)


def setup_cors(app: web.Application) -> None:
    """Enable aiohttp-cors on every resource registered so far. Call last."""
    policy = app[CORS_POLICY]
    policy.methods_value = ", ".join(dict.fromkeys(policy.allow_methods))
    policy.headers_value = ", ".join(dict.fromkeys(policy.allow_headers))
    options = aiohttp_cors.ResourceOptions(
        allow_credentials=False,
        allow_headers=tuple(policy.allow_headers),
        expose_headers=tuple(policy.expose_headers),
        allow_methods=tuple(m for m in policy.allow_methods if m != "OPTIONS"),
    )
    if policy.allow_all:
        defaults = {"*": options}
    else:
        defaults = {origin: options for origin in sorted(policy.origins)}
    cors = aiohttp_cors.setup(app, defaults=defaults)
    for resource in list(app.router.resources()):
        if any(route.method == "OPTIONS" for route in resource):
            continue  # the resource answers OPTIONS itself
        cors.add(resource)
        policy.cors_resources.add(resource)
