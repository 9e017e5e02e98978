"""The OpenAPI 3.1 description of the token service (``GET /openapi.json``).

:func:`build_spec` returns the document as a dict. It is kept true by
``tests/server/test_openapi*.py``, which validates real responses of every
endpoint (errors included) against it, and by the schemathesis fuzz test.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Optional

from agora_token import __version__ as _VERSION
from agora_token.constants import U32_MAX

JSON = "application/json"

EXAMPLE_007 = ("007eJxTYOBae0T64rZ0fcZKDd6nVbpmy6Z7udztE9hpw3zzU2gh008FBktzA2dHY9OUVDODZBMTMxPTpKTEVItE"
               "I0NTAzPDJGPjWzc4swX4GBiCHz1hZWRgZGABYhCfCUwyg0kWMMnKkJOflFTJxGBiBADeXx3d")

DESCRIPTION = """\
Issues Agora access tokens (AccessToken2, `007`) for RTC, RTM and Chat: a drop-in replacement
for the original Go token service (`POST /getToken` and the deprecated GET routes behave exactly
as the original's), plus token verification, encryption keys, health checks, metrics and this
document.

**Authentication.** With no `AUTH_*` setting the token endpoints are open to anyone (the service
logs a warning at start-up). With `AUTH_API_KEYS`/`AUTH_API_KEYS_FILE` a caller sends
`Authorization: Bearer <key>` or `X-API-Key: <key>`; with `AUTH_JWT_SECRET` /
`AUTH_JWT_PUBLIC_KEY` it sends `Authorization: Bearer <jwt>` whose `sub` is the only uid/account
it may get tokens for (`channels` and `role: "subscriber"` claims narrow it further). Missing or
bad credentials: `401` with `WWW-Authenticate: Bearer`; a token the caller may not have: `403`.

**Policy.** Lifetimes above `MAX_EXPIRE` (default 86400 s) and channel names that do not match
`CHANNEL_PATTERN` are rejected with `400`. With `RATE_LIMIT` (e.g. `20/s`), callers over their
budget get `429` with `Retry-After`.

**CORS.** A request whose `Origin` is not in `CORS_ALLOW_ORIGIN` gets `403
{"error": "Origin not allowed"}`; requests without `Origin` (curl, servers) are served.

**Trailing slashes.** The deprecated GET routes answer `301` to the slash form when called
without the trailing slash (the query string is kept); `POST /getToken/` answers `307`.

Every response carries `Cache-Control: private, no-cache, no-store, must-revalidate`.
"""


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_content(schema_name: str, examples: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": _ref(schema_name)}
    if examples:
        content["examples"] = {k: {"value": v} for k, v in examples.items()}
    return {JSON: content}


def _resp(description: str, schema_name: str, examples: Optional[dict[str, Any]] = None,
          headers: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    r: dict[str, Any] = {"description": description, "content": _json_content(schema_name, examples)}
    if headers:
        r["headers"] = headers
    return r


def _path_param(name: str, description: str, schema: Optional[dict[str, Any]] = None,
                example: Any = None) -> dict[str, Any]:
    p: dict[str, Any] = {"name": name, "in": "path", "required": True, "description": description,
                         "schema": schema or {"type": "string", "minLength": 1}}
    if example is not None:
        p["example"] = example
    return p


SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "Error of the current API (and of every endpoint for auth, CORS, policy, limits).",
        "required": ["error"],
        "properties": {"error": {"type": "string", "description": "What is wrong, and what to fix."}},
    },
    "LegacyError": {
        "type": "object",
        "description": ("Error body of the deprecated GET routes, as the original service writes it: "
                        "`message` for a bad parameter, `error` for a token-building failure."),
        "required": ["status"],
        "properties": {
            "status": {"type": "integer", "const": 400},
            "message": {"type": "string"},
            "error": {"type": "string"},
        },
        "anyOf": [{"required": ["message"]}, {"required": ["error"]}],
    },
    "Pong": {
        "type": "object", "required": ["message"],
        "properties": {"message": {"type": "string", "const": "pong"}},
    },
    "Health": {
        "type": "object", "required": ["status"],
        "properties": {"status": {"type": "string", "const": "ok"}},
    },
    "Token": {
        "type": "string",
        "description": "An AccessToken2: `007` followed by base64.",
        "pattern": "^007[A-Za-z0-9+/]+={0,2}$",
        "maxLength": 65536,
        "examples": [EXAMPLE_007],
    },
    "GetTokenRequest": {
        "type": "object",
        "description": ("Body of `POST /getToken`. `rtc` needs `channel` and `uid`; `rtm` needs `uid` "
                        "(optional `channel` adds the stream-channel service, `*` allowed); `chat` "
                        "with `uid` gives a user token, without an app token."),
        "required": ["tokenType"],
        "properties": {
            "tokenType": {"type": "string", "enum": ["rtc", "rtm", "chat"]},
            "channel": {"type": "string", "maxLength": 64, "description": "Channel name (at most 64 bytes)."},
            "role": {"type": "string", "description": "`publisher` (join + publish); any other value: subscriber.",
                     "examples": ["publisher", "subscriber"]},
            "uid": {
                "description": ("Plain decimal digits (string or JSON number, 0..4294967295; `\"0\"` = any "
                                "user): a numeric uid; any other string: a user account."),
                "oneOf": [{"type": "string", "maxLength": 255},
                          {"type": "integer", "minimum": 0, "maximum": U32_MAX}],
            },
            "expire": {"type": "integer", "minimum": 0, "maximum": U32_MAX,
                       "description": "Token and privilege lifetime in seconds; missing or 0 -> 3600 "
                                      "(at most `MAX_EXPIRE`, default 86400)."},
        },
    },
    "TokenResponse": {
        "type": "object", "required": ["token"], "additionalProperties": False,
        "properties": {"token": _ref("Token")},
    },
    "RtcTokenResponse": {
        "type": "object", "required": ["rtcToken"], "additionalProperties": False,
        "properties": {"rtcToken": _ref("Token")},
    },
    "RtmTokenResponse": {
        "type": "object", "required": ["rtmToken"], "additionalProperties": False,
        "properties": {"rtmToken": _ref("Token")},
    },
    "RteTokenResponse": {
        "type": "object", "required": ["rtcToken", "rtmToken"], "additionalProperties": False,
        "properties": {"rtcToken": _ref("Token"), "rtmToken": _ref("Token")},
    },
    "ChatTokenResponse": {
        "type": "object", "required": ["chatToken"], "additionalProperties": False,
        "properties": {"chatToken": _ref("Token")},
    },
    "VerifyTokenRequest": {
        "type": "object", "required": ["token"],
        "properties": {"token": {"type": "string", "maxLength": 65536,
                                 "description": "A 007 or 006 token."}},
    },
    "Privilege": {
        "type": "object",
        "required": ["expire"],
        "properties": {
            "expire": {"type": "integer", "minimum": 0,
                       "description": "007: seconds after issue; 006: absolute unix time (0 = never)."},
            "expiresAt": {"type": ["string", "null"], "description": "ISO-8601 (UTC)."},
        },
    },
    "TokenService": {
        "type": "object",
        "description": ("One service of the token, with its fields (`channel`, `uid`, `userId`, ...) and its "
                        "privileges by readable name."),
        "required": ["type", "privileges"],
        "properties": {
            "type": {"type": "string", "examples": ["rtc", "rtm", "chat"]},
            "channel": {"type": "string"},
            "uid": {"type": "string"},
            "userId": {"type": "string"},
            "privileges": {"type": "object", "additionalProperties": _ref("Privilege")},
        },
    },
    "VerifyTokenResponse": {
        "type": "object",
        "required": ["valid", "reason", "version", "appId", "expired", "services"],
        "properties": {
            "valid": {"type": "boolean", "description": "Signed with this server's certificate, for its app id."},
            "reason": {"type": ["string", "null"], "description": "Why it is not valid (null when valid)."},
            "version": {"type": "string", "enum": ["007", "006"]},
            "appId": {"type": "string"},
            "issuedAt": {"type": ["string", "null"], "description": "ISO-8601 (UTC); null for 006."},
            "expiresAt": {"type": ["string", "null"], "description": "ISO-8601 (UTC)."},
            "expired": {"type": "boolean"},
            "services": {"type": "array", "items": _ref("TokenService")},
        },
    },
    "Encryption": {
        "type": "object", "required": ["secret", "salt"],
        "description": "Key material for Agora's built-in channel encryption (AES-128/256-GCM2 modes).",
        "properties": {
            "secret": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                       "description": "32 random bytes, hex."},
            "salt": {"type": "string", "pattern": "^[A-Za-z0-9+/]{43}=$",
                     "description": "32 random bytes, base64."},
        },
    },
}

HEADERS: dict[str, Any] = {
    "WWW-Authenticate": {"description": "`Bearer` (what to send).", "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds until a request may succeed.", "schema": {"type": "string"}},
    "Location": {"description": "The canonical URL.", "schema": {"type": "string"}},
}

EX_ORIGIN = {"originNotAllowed": {"error": "Origin not allowed"}}

RESPONSES: dict[str, Any] = {
    "Unauthorized": _resp("Authentication is on and the request carries no valid API key or JWT.", "Error",
                          {"missing": {"error": "authentication required: send 'Authorization: Bearer <key>' "
                                                "or 'X-API-Key: <key>'"}},
                          headers={"WWW-Authenticate": {"$ref": "#/components/headers/WWW-Authenticate"}}),
    "Forbidden": _resp("The `Origin` is not allowed (CORS), or the caller's JWT does not allow this token.",
                       "Error", {**EX_ORIGIN, "jwtSub": {"error": "this caller may only get tokens for uid 'alice'"}}),
    "TooManyRequests": _resp("Over the caller's `RATE_LIMIT`.", "Error", {"limited": {"error": "rate limit exceeded"}},
                             headers={"Retry-After": {"$ref": "#/components/headers/Retry-After"}}),
    "PayloadTooLarge": _resp("Request body above the size cap.", "Error",
                             {"tooLarge": {"error": "request body too large"}}),
    "OriginForbidden": _resp("The request's `Origin` is not in `CORS_ALLOW_ORIGIN`.", "Error", EX_ORIGIN),
}

AUTH_RESPONSES = {
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "403": {"$ref": "#/components/responses/Forbidden"},
    "429": {"$ref": "#/components/responses/TooManyRequests"},
}

# Auth is optional (off unless configured): the empty requirement says so.
TOKEN_SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"apiKeyAuth": []}, {}]

EXPIRY_QUERY = {
    "name": "expiry", "in": "query", "required": False,
    "description": ("Token lifetime in seconds. Missing -> 3600; `0` is passed through as 0 (like the original); "
                    "empty, negative, non-numeric or > 4294967295 -> 400; above `MAX_EXPIRE` -> 400."),
    "schema": {"type": "integer", "minimum": 0, "maximum": U32_MAX},
    "example": 3600,
}

P_CHANNEL = _path_param("channelName", "Channel name (URL-encoded; at most 64 bytes).",
                        {"type": "string", "minLength": 1, "maxLength": 64}, "test")
P_ROLE = _path_param("role", "Exactly `publisher` -> publisher (privileges 1-4); anything else -> subscriber.",
                     {"type": "string", "minLength": 1, "examples": ["publisher", "subscriber"]}, "publisher")
P_TOKENTYPE = _path_param("tokenType", "`uid` (then `rtcuid` is a decimal uid) or `userAccount`; anything "
                          "else -> 400.", {"type": "string", "enum": ["uid", "userAccount"]}, "uid")
P_RTCUID = _path_param("rtcuid", "Decimal uid 0..4294967295 for `uid`, any non-empty account for `userAccount`.",
                       {"type": "string", "minLength": 1, "maxLength": 255}, "123")
P_RTMUID = _path_param("rtmuid", "RTM user id (not empty, not `0`).",
                       {"type": "string", "minLength": 1, "maxLength": 255}, "alice")

LEGACY_400 = _resp("A bad parameter (`message`) or a token-building failure (`error`).", "LegacyError",
                   {"badTokenType": {"status": 400, "message": "Unknown tokenType: 'foo'"},
                    "badExpiry": {"status": 400, "message": "invalid expiry"}})


def _legacy_get(summary: str, description: str, params: list[dict[str, Any]], ok_schema: str,
                ok_example: dict[str, Any], op_id: str) -> dict[str, Any]:
    return {"get": {
        "operationId": op_id,
        "tags": ["deprecated routes"],
        "summary": summary,
        "description": description,
        "deprecated": True,
        "security": TOKEN_SECURITY,
        "parameters": [*params, EXPIRY_QUERY],
        "responses": {
            "200": _resp("The token(s).", ok_schema, {"ok": ok_example}),
            "400": LEGACY_400,
            **AUTH_RESPONSES,
        },
    }}


def _paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    paths["/ping"] = {"get": {
        "operationId": "ping", "tags": ["health"], "summary": "Liveness check of the original service.",
        "responses": {"200": _resp("Alive.", "Pong", {"pong": {"message": "pong"}}),
                      "403": {"$ref": "#/components/responses/OriginForbidden"}},
    }}
    paths["/healthz"] = {"get": {
        "operationId": "healthz", "tags": ["health"],
        "summary": "Health check for orchestrators (never authenticated or rate limited).",
        "responses": {"200": _resp("Healthy.", "Health", {"ok": {"status": "ok"}}),
                      "403": {"$ref": "#/components/responses/OriginForbidden"}},
    }}
    paths["/getToken"] = {"post": {
        "operationId": "getToken", "tags": ["tokens"],
        "summary": "Build an RTC, RTM or Chat token (current API).",
        "security": TOKEN_SECURITY,
        "requestBody": {"required": True, "content": {JSON: {
            "schema": _ref("GetTokenRequest"),
            "examples": {
                "rtcUid": {"summary": "RTC, numeric uid, publisher",
                           "value": {"tokenType": "rtc", "channel": "test", "role": "publisher", "uid": "123",
                                     "expire": 3600}},
                "rtcAccount": {"summary": "RTC, user account, subscriber",
                               "value": {"tokenType": "rtc", "channel": "test", "role": "subscriber",
                                         "uid": "alice"}},
                "rtm": {"summary": "RTM with a stream channel",
                        "value": {"tokenType": "rtm", "uid": "alice", "channel": "test"}},
                "chatUser": {"summary": "Chat user token", "value": {"tokenType": "chat", "uid": "alice"}},
                "chatApp": {"summary": "Chat app token", "value": {"tokenType": "chat"}},
            },
        }}},
        "responses": {
            "200": _resp("The token.", "TokenResponse", {"ok": {"token": EXAMPLE_007}}),
            "400": _resp("Invalid JSON, a missing or unsupported `tokenType`, a missing field, or a value out "
                         "of range / against policy.", "Error",
                         {"missingChannel": {"error": "missing 'channel' (required for tokenType 'rtc')"},
                          "uidRange": {"error": "uid 4294967296 is above 4294967295"}}),
            **AUTH_RESPONSES,
            "413": {"$ref": "#/components/responses/PayloadTooLarge"},
        },
    }}
    rtc_desc = "RTC token for a channel; `{role}`/`{tokenType}` as in the original service."
    paths["/rtc/{channelName}/{role}/{tokenType}/{rtcuid}/"] = _legacy_get(
        "RTC token (deprecated route).", rtc_desc, [P_CHANNEL, P_ROLE, P_TOKENTYPE, P_RTCUID],
        "RtcTokenResponse", {"rtcToken": EXAMPLE_007}, "getRtcToken")
    paths["/rtm/{rtmuid}/"] = _legacy_get(
        "RTM token (deprecated route).", "RTM login token for `{rtmuid}` (`0` or empty -> 400).",
        [P_RTMUID], "RtmTokenResponse", {"rtmToken": EXAMPLE_007}, "getRtmToken")
    rte_desc = ("An RTC token and an RTM token. The RTM user is `{rtmuid}`, or `{rtcuid}` as written; its token "
                "carries the channel's stream service (privileges 1 and 4).")
    paths["/rte/{channelName}/{role}/{tokenType}/{rtcuid}/"] = _legacy_get(
        "RTC + RTM tokens (deprecated route).", rte_desc, [P_CHANNEL, P_ROLE, P_TOKENTYPE, P_RTCUID],
        "RteTokenResponse", {"rtcToken": EXAMPLE_007, "rtmToken": EXAMPLE_007}, "getRteToken")
    paths["/rte/{channelName}/{role}/{tokenType}/{rtcuid}/{rtmuid}/"] = _legacy_get(
        "RTC + RTM tokens with a separate RTM user (deprecated route).", rte_desc,
        [P_CHANNEL, P_ROLE, P_TOKENTYPE, P_RTCUID, P_RTMUID],
        "RteTokenResponse", {"rtcToken": EXAMPLE_007, "rtmToken": EXAMPLE_007}, "getRteTokenWithRtmUid")
    paths["/chat/app/"] = _legacy_get(
        "Chat app token (deprecated route).", "A Chat app (administrator) token.", [],
        "ChatTokenResponse", {"chatToken": EXAMPLE_007}, "getChatAppToken")
    paths["/chat/account/{chatid}/"] = _legacy_get(
        "Chat user token (deprecated route).", "A Chat user token for `{chatid}`.",
        [_path_param("chatid", "Chat user id.", {"type": "string", "minLength": 1, "maxLength": 255}, "alice")],
        "ChatTokenResponse", {"chatToken": EXAMPLE_007}, "getChatUserToken")
    paths["/verifyToken"] = {"post": {
        "operationId": "verifyToken", "tags": ["tokens"],
        "summary": "Decode a token and check it against this server's app id and certificate.",
        "security": TOKEN_SECURITY,
        "requestBody": {"required": True, "content": {JSON: {
            "schema": _ref("VerifyTokenRequest"),
            "examples": {"token": {"value": {"token": EXAMPLE_007}}},
        }}},
        "responses": {
            "200": _resp("What the token grants and whether it is valid here.", "VerifyTokenResponse", {"valid": {
                "valid": True, "reason": None, "version": "007", "appId": "970CA35de60c44645bbae8a215061b33",
                "issuedAt": "2025-01-01T12:00:00Z", "expiresAt": "2025-01-01T13:00:00Z", "expired": False,
                "services": [{"type": "rtc", "channel": "test", "uid": "123", "privileges": {
                    "joinChannel": {"expire": 3600, "expiresAt": "2025-01-01T13:00:00Z"}}}]}}),
            "400": _resp("Invalid JSON, no `token`, or a malformed token.", "Error",
                         {"malformed": {"error": "malformed token: token does not start with '007'"}}),
            **AUTH_RESPONSES,
            "413": {"$ref": "#/components/responses/PayloadTooLarge"},
        },
    }}
    paths["/encryption"] = {"get": {
        "operationId": "encryption", "tags": ["tokens"],
        "summary": "Fresh random key material for Agora's built-in channel encryption (GCM2 modes).",
        "security": TOKEN_SECURITY,
        "responses": {
            "200": _resp("32 random bytes as hex (`secret`) and 32 as base64 (`salt`); never logged.",
                         "Encryption", {"ok": {
                             "secret": "9f2c1e0b7d4a8c6e5f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e",
                             "salt": "q1k5y0mZpQ3xR7cT9vW2bN4jL6hF8dS0aG1eU3iO5pY="}}),
            **AUTH_RESPONSES,
        },
    }}
    paths["/metrics"] = {"get": {
        "operationId": "metrics", "tags": ["operations"],
        "summary": "Prometheus metrics (merged over all worker processes).",
        "description": "With `METRICS_TOKEN` set, send `Authorization: Bearer <METRICS_TOKEN>`.",
        "security": [{"metricsToken": []}, {}],
        "responses": {
            "200": {"description": "Prometheus text exposition format.",
                    "content": {"text/plain": {"schema": {"type": "string"}, "example":
                                "# HELP agora_token_tokens_issued_total Tokens issued, by type.\n"
                                "# TYPE agora_token_tokens_issued_total counter\n"
                                "agora_token_tokens_issued_total{type=\"rtc\"} 42.0\n"}}},
            "401": _resp("`METRICS_TOKEN` is set and the request does not carry it.", "Error",
                         headers={"WWW-Authenticate": {"$ref": "#/components/headers/WWW-Authenticate"}}),
            "403": {"$ref": "#/components/responses/OriginForbidden"},
        },
    }}
    paths["/openapi.json"] = {"get": {
        "operationId": "openapi", "tags": ["operations"], "summary": "This document (OpenAPI 3.1).",
        "responses": {"200": {"description": "The OpenAPI document.",
                              "content": {JSON: {"schema": {"type": "object", "required": ["openapi", "paths"]}}}},
                      "403": {"$ref": "#/components/responses/OriginForbidden"}},
    }}
    paths["/docs"] = {"get": {
        "operationId": "docs", "tags": ["operations"],
        "summary": "Human-readable API documentation (self-contained HTML; loads nothing from outside).",
        "responses": {"200": {"description": "An HTML page.", "content": {"text/html": {"schema": {"type": "string"}}}},
                      "403": {"$ref": "#/components/responses/OriginForbidden"}},
    }}
    return paths


def build_spec(server_url: Optional[str] = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document (a fresh dict each call)."""
    spec: dict[str, Any] = {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "Agora token service",
            "version": _VERSION,
            "summary": "Agora access tokens for RTC, RTM and Chat over HTTP.",
            "description": DESCRIPTION,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": server_url or "/"}],
        "tags": [
            {"name": "tokens", "description": "Token issuing (current API) and inspection."},
            {"name": "deprecated routes", "description": "The original service's GET routes, kept for old clients."},
            {"name": "health", "description": "Liveness and health checks."},
            {"name": "operations", "description": "Metrics and documentation."},
        ],
        "paths": _paths(),
        "components": {
            "schemas": copy.deepcopy(SCHEMAS),
            "responses": copy.deepcopy(RESPONSES),
            "headers": copy.deepcopy(HEADERS),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "An API key (`AUTH_API_KEYS`) or a JWT (`AUTH_JWT_*`)."},
                "apiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                               "description": "An API key (`AUTH_API_KEYS`)."},
                "metricsToken": {"type": "http", "scheme": "bearer",
                                 "description": "`METRICS_TOKEN`, when set."},
            },
        },
    }
    return spec


_cached: Optional[bytes] = None


def spec_bytes() -> bytes:
    """The document serialised once (it never changes while the process runs)."""
    global _cached
    if _cached is None:
        _cached = json.dumps(build_spec(), indent=1, ensure_ascii=False).encode("utf-8")
    return _cached


async def openapi_handler(request: Any) -> Any:
    """``GET /openapi.json``."""
    from aiohttp import web

    return web.Response(body=spec_bytes(), content_type="application/json", charset="utf-8")
