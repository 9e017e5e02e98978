"""Small, fast JSON response helpers shared by the handlers and middlewares."""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional

from aiohttp import web

__all__ = ["IssueDenied", "json_response", "json_error", "token_body"]

_JSON = "application/json; charset=utf-8"
_JSON_HEADERS = {"Content-Type": _JSON}
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode


def json_response(data: Any, status: int = 200,
                  headers: Optional[Mapping[str, str]] = None) -> web.Response:
    resp = web.Response(body=_dumps(data).encode("utf-8"), status=status, headers=_JSON_HEADERS)
    if headers:
        resp.headers.update(headers)
    return resp


def json_error(status: int, message: str, headers: Optional[Mapping[str, str]] = None) -> web.Response:
    """``{"error": message}`` with ``status``."""
    return json_response({"error": message}, status, headers)


def token_body(key: str, token: str) -> web.Response:
    """``{"<key>": "<token>"}``. Tokens are ``00[67]`` + base64: nothing to escape."""
    return web.Response(body=b'{"%s": "%s"}' % (key.encode(), token.encode("ascii")),
                        headers=_JSON_HEADERS)


class IssueDenied(Exception):
    """Raised by an issuing hook (see ``server/app.py``) to refuse a token.

    The handler answers ``status`` with a JSON body in the style of the route:
    ``{"error": message}`` on ``POST /getToken``; ``{"status": status,
    "message": message}`` (400) or ``{"status": status, "error": message}``
    (other statuses) on the deprecated GET routes. ``headers`` (for example
    ``WWW-Authenticate`` or ``Retry-After``) are added to the response."""

    def __init__(self, status: int, message: str, headers: Optional[Mapping[str, str]] = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
