"""One access-log line per request: ``METHOD PATH STATUS DURATIONms``.

The path is the raw (percent-encoded, so single-line) path; a query string is
shown by its keys only (``/rtc/ch/publisher/uid/1/?expiry``), because values
could carry secrets. Nothing else of the request is logged: never a body, a
header value, the certificate or a token. Uses the ``server.access`` logger,
so the format (text or JSON) is whatever the root handler does; the request
fields are also passed as ``extra`` (method, path, status, duration_ms).
"""

from __future__ import annotations

import logging
from time import perf_counter

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .keys import REQUEST_START
from .logs import request_log_fields

__all__ = ["AccessLogger", "loggable_path"]

ACCESS_LOGGER_NAME = "server.access"
_MAX_PATH = 256


def loggable_path(request: web.BaseRequest) -> str:
    url = request.rel_url
    path = url.raw_path
    if len(path) > _MAX_PATH:
        path = path[:_MAX_PATH] + "..."
    query = url.raw_query_string
    if query:
        keys = [part.split("=", 1)[0][:32] for part in query.split("&", 16)[:16] if part]
        path += "?" + "&".join(keys)
    return path


class AccessLogger(AbstractAccessLogger):
    """aiohttp access logger (pass as ``access_log_class`` to ``AppRunner``)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        method = request.method
        path = loggable_path(request)
        status = response.status
        start = request.get(REQUEST_START)  # type: ignore[attr-defined]
        if start is not None:  # finer than the event loop's clock (1 ms with uvloop)
            time = perf_counter() - start
        ms = round(time * 1000.0, 2)
        self.logger.info("%s %s %d %.2fms", method, path, status, ms,
                         extra={"method": method, "path": path, "status": status, "duration_ms": ms,
                                **request_log_fields(request)})  # request_id, route, caller

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
