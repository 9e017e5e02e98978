"""JSON response helpers. Every response they build already carries the
no-cache headers the spec requires, so the request pipeline adds them only
to responses built elsewhere."""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional

from aiohttp import web

from .errors import IssueDenied, ServiceError

__all__ = ["IssueDenied", "NO_CACHE_HEADERS", "error_body", "error_response", "json_bytes", "json_error",
           "json_response", "shaped_error", "token_body", "token_response"]

NO_CACHE_HEADERS = {
    "Cache-Control": "private, no-cache, no-store, must-revalidate",
    "Expires": "-1",
    "Pragma": "no-cache",
}
_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8", **NO_CACHE_HEADERS}
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode


#: a request body with a Content-Encoding other than identity: 415 with :data:`IDENTITY_ONLY`
ENCODED_BODY = ("request bodies are accepted without Content-Encoding only (they are a few hundred bytes): "
                "send it uncompressed")
IDENTITY_ONLY = {"Accept-Encoding": "identity"}


def json_response(data: Any, status: int = 200, headers: Optional[Mapping[str, str]] = None) -> web.Response:
    if headers:
        return web.Response(body=_dumps(data).encode("utf-8"), status=status,
                            headers={**_JSON_HEADERS, **headers})
    return web.Response(body=_dumps(data).encode("utf-8"), status=status, headers=_JSON_HEADERS)


def json_error(status: int, message: str, headers: Optional[Mapping[str, str]] = None) -> web.Response:
    """``{"error": message}`` with ``status``."""
    return json_response({"error": message}, status, headers)


def error_body(shape: str, status: int, message: str) -> dict[str, Any]:
    """An error's JSON body in the shape of its route family (``Route.error_shape``):
    ``"error"`` -> ``{"error": message}``; ``"status"`` -> ``{"status": 400, "message": message}``, or
    ``{"status": status, "error": message}`` for another status (the deprecated GET routes' refusals,
    as the original writes them); ``"code"`` -> ``{"code": -1, "message": message, "data": ""}``
    (``POST /token/generate``, Agora's reference server)."""
    if shape == "code":
        return {"code": -1, "message": message, "data": ""}
    if shape == "status":
        return {"status": status, "message" if status == 400 else "error": message}
    return {"error": message}


def shaped_error(shape: str, status: int, message: str,
                 headers: Optional[Mapping[str, str]] = None) -> web.Response:
    """:func:`error_body` as a response (``shape`` ``"error"`` is :func:`json_error`)."""
    return json_response(error_body(shape, status, message), status, headers)


def error_response(shape: str, error: ServiceError) -> web.Response:
    """The answer to any of the service's refusals (:mod:`server.errors`), in
    the body shape of the route family that raised it."""
    return shaped_error(shape, error.status, error.message, error.headers)


def json_bytes(body: bytes, status: int = 200) -> web.Response:
    """A response whose JSON body is already encoded."""
    return web.Response(body=body, status=status, headers=_JSON_HEADERS)


def token_body(*pairs: tuple[str, str]) -> web.Response:
    """``{"<key>": "<token>", ...}``. Tokens are ``00[67]`` + base64 and keys
    are fixed names: nothing to escape."""
    body = ", ".join('"%s": "%s"' % pair for pair in pairs)
    return web.Response(body=("{" + body + "}").encode("ascii"), headers=_JSON_HEADERS)


def token_response(key: str, token: str) -> web.Response:
    """``{"<key>": "<token>"}`` (one token: the common case, built directly)."""
    return web.Response(body=b'{"%s": "%s"}' % (key.encode(), token.encode()), headers=_JSON_HEADERS)

