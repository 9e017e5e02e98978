"""The OpenAPI 3.1 description of the token service (``GET /openapi.json``),
rendered by Swagger UI at ``GET /docs``.

:func:`build_spec` builds the document from the route declarations
(:data:`server.routes.ROUTES`): each :class:`server.state.Route` gives its
path, method, path parameters, operation id, summary, tag, security and the
error responses the pipeline can answer on it (by its flags and error
shape); this module keeps what the declarations do not say: the
descriptions, the schemas, and each operation's own request body and
responses (:func:`_operations`, by operation id). Every example comes from
:mod:`server.openapi_examples`, where each one keeps the request that
produces it. ``tests/server/test_openapi_responses.py`` validates real
responses of every endpoint against the document, and the schemathesis fuzz
test checks it from the outside.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Optional, Sequence

from agora_token import __version__ as _VERSION
from agora_token.constants import U32_MAX

from .openapi_examples import EXAMPLES, PARAMETER_EXAMPLES
from .state import Route

__all__ = ["DESCRIPTION", "EXPIRY_QUERY", "build_spec", "spec_bytes"]


JSON = "application/json"

DESCRIPTION = """\
Issues Agora access tokens (AccessToken2, `007`) of every kind: a drop-in replacement for the
original Go token service (`POST /getToken` and the deprecated GET routes behave as the
original's: RTC, RTM and Chat) and for Agora's reference token server (`POST /token/generate`:
RTC, RTM, FPA, Chat and APaaS in any combination, plus RTM2 with permissions, Streaming and
FCDN), plus token verification, encryption keys, health checks, metrics and this document.

**Trying it here.** *Try it out* sends the request from this page to this service. When
authentication is on, first open **Authorize** and fill in *one* of `bearerAuth` (an API key or
a JWT) or `apiKeyAuth` (an API key): a request carrying both headers is refused (`401`). Browsers
send `Origin` with every POST; a request whose `Origin` is this service's own (same-origin, like
this page's) is served whatever `CORS_ALLOW_ORIGIN` lists. Each error example below names the
request (and the settings) that produce it.

**Authentication** (the lock icons). With no `AUTH_*` setting the token endpoints are open to
anyone (drop-in mode; the service logs a warning at start-up): the empty security requirement
`{}` of those operations. With `AUTH_API_KEYS` / `AUTH_API_KEYS_FILE` a caller sends
`Authorization: Bearer <key>` or `X-API-Key: <key>`; with `AUTH_JWT_SECRET`,
`AUTH_JWT_PUBLIC_KEY(_FILE)` or `AUTH_JWKS_URL` it sends `Authorization: Bearer <jwt>`, whose
`sub` is the only uid or user id it may get tokens for (`channels` and `role: "subscriber"`
claims narrow it further; app-level tokens, Chat app, APaaS app and FPA, are never issued to it).
Missing or bad credentials: `401` with `WWW-Authenticate: Bearer`; a token the caller's JWT does
not allow: `403`; the identity provider's keys unreachable: `503`.

**Policy.** `MAX_EXPIRE` caps token lifetimes. Unset, it defaults to 86400 s as soon as any
production setting is configured (`AUTH_API_KEYS`, `AUTH_API_KEYS_FILE`, `AUTH_JWT_SECRET`,
`AUTH_JWT_PUBLIC_KEY`, `AUTH_JWT_PUBLIC_KEY_FILE`, `AUTH_JWKS_URL`, `RATE_LIMIT` or
`CHANNEL_PATTERN`); in drop-in mode, with none of them, there is no cap. Every channel that goes
into a token, on every route, is at most 64 bytes and must match `CHANNEL_PATTERN` when it is set.
Violations: `400`.

**Rate limit.** With `RATE_LIMIT` (e.g. `20/s`), each caller (API key, JWT `sub`, or client
address when anonymous) over its budget gets `429` with `Retry-After`. With a Redis
`RATE_LIMIT_STORAGE` that fails and `RATE_LIMIT_ON_STORAGE_ERROR=deny`: `503`.

**Load shedding.** When a worker is overloaded (`MAX_INFLIGHT` token requests in progress, or a
request waited over `MAX_QUEUE_WAIT` seconds), token requests (`/getToken`, `/token/generate`,
`/verifyToken` and the deprecated routes) are answered `503` with `Retry-After: 1` at once. Retry after that
delay plus random jitter. Nothing else is shed. `/ping`, `/healthz`, `/readyz`, `/openapi.json` and
`/docs` are never authenticated or rate limited; `/metrics` has its own `METRICS_TOKEN`.

**Request bodies** are taken uncompressed: a `Content-Encoding` other than `identity` gets `415`. A
body still arriving after its head counts against `MAX_UNFINISHED_PER_CLIENT` (`429` past it).

**Health.** `/healthz` answers `200` with `status` (`ok`, or `draining` during a graceful
shutdown), `inflight` (token requests in progress in this worker) and, when configured,
`rate_limit_storage` (`ok`/`error`) and `jwks` (`ok`, `stale`, `unavailable`): the liveness check.
`/readyz` is the readiness check: `503` while the replica stops or cannot issue tokens.

**CORS.** A request whose `Origin` is not in `CORS_ALLOW_ORIGIN` gets `403
{"error": "Origin not allowed"}`; requests without `Origin` (curl, servers) are served.

**Trailing slashes.** The deprecated GET routes answer `301` to the slash form when called
without the trailing slash (the query string is kept); `POST /getToken/` answers `307`.

Every response carries `Cache-Control: private, no-cache, no-store, must-revalidate`.

**From a shell** (with `API_KEY` and `METRICS_TOKEN` set in the environment when the service
has them configured):

```
curl -s http://localhost:8080/getToken \\
  -H "X-API-Key: $API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{"tokenType": "rtc", "channel": "test", "uid": "123", "role": "publisher"}'

curl -s http://localhost:8080/rtc/test/publisher/uid/123/ \\
  -H "Authorization: Bearer $API_KEY"

curl -s http://localhost:8080/metrics \\
  -H "Authorization: Bearer $METRICS_TOKEN"
```
"""


# --------------------------------------------------------------------------- the document

def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _examples(place: tuple[str, str]) -> dict[str, Any]:
    return {name: ex.render() for name, ex in EXAMPLES[place].items()}


def _resp(description: str, schema_name: str, place: Optional[tuple[str, str]] = None,
          headers: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": _ref(schema_name)}
    if place is not None:
        content["examples"] = _examples(place)
    r: dict[str, Any] = {"description": description, "content": {JSON: content}}
    if headers:
        r["headers"] = headers
    return r


def _path_param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema,
            "example": PARAMETER_EXAMPLES[name]}


SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": ("Error of the current API (and of every endpoint for auth, CORS, limits). The deprecated "
                        "routes add `\"status\": 403` to a `403` of the caller's JWT."),
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
    "Readiness": {
        "type": "object", "required": ["status"],
        "properties": {
            "status": {"type": "string", "enum": ["ready", "not ready"]},
            "reasons": {"type": "array", "items": {"type": "string", "enum": [
                "stopping", "draining", "rate_limit_storage", "jwks"]},
                "description": "Why not ready (with `not ready` only)."},
        },
    },
    "Health": {
        "type": "object", "required": ["status", "inflight"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "draining"],
                       "description": "`draining` while the process shuts down gracefully."},
            "inflight": {"type": "integer", "minimum": 0,
                         "description": "Token requests in progress in this worker (load shedding)."},
            "rate_limit_storage": {"type": "string", "enum": ["ok", "error"],
                                   "description": "With a Redis `RATE_LIMIT_STORAGE`: its last call's outcome."},
            "jwks": {"type": "string", "enum": ["ok", "stale", "unavailable"],
                     "description": "With `AUTH_JWKS_URL`: the identity provider's key set."},
        },
    },
    "Token": {
        "type": "string",
        "description": "An AccessToken2: `007` followed by base64.",
        "pattern": "^007[A-Za-z0-9+/]+={0,2}$",
        "maxLength": 65536,
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
            "role": {"type": "string",
                     "description": "`publisher` (join + publish); any other value (e.g. `subscriber`): join only."},
            "uid": {
                "description": ("Plain decimal digits (string or JSON number, 0..4294967295; `\"0\"` = any "
                                "user): a numeric uid; any other string: a user account."),
                "oneOf": [{"type": "string", "maxLength": 255},
                          {"type": "integer", "minimum": 0, "maximum": U32_MAX}],
            },
            "expire": {"type": "integer", "minimum": 0, "maximum": U32_MAX,
                       "description": "Token and privilege lifetime in seconds; missing or 0 -> 3600. At most "
                                      "`MAX_EXPIRE` when one applies (86400 by default once a production "
                                      "setting is configured; no cap in drop-in mode)."},
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
        "properties": {"token": {"type": "string", "maxLength": 65536, "description": "A 007 or 006 token."},
                       "channel": {"type": "string", "description": "006 tokens only: the channel it was built for."},
                       "uid": {"oneOf": [{"type": "string"}, {"type": "integer"}],
                               "description": "006 tokens only: the uid (or RTM user account) it was built for."}},
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
        "description": ("One service of the token (`type`: `rtc`, `rtm`, `chat`, ...), with its fields "
                        "(`channel`, `uid`, `userId`, ...) and its privileges by readable name."),
        "required": ["type", "privileges"],
        "properties": {
            "type": {"type": "string", "enum": ["rtc", "rtm", "streaming", "fpa", "chat", "fcdn", "apaas", "rtm2"]},
            "channel": {"type": "string"},
            "uid": {"type": "string"},
            "userId": {"type": "string"},
            "account": {"type": "string", "description": "Streaming, FCDN."},
            "roomUuid": {"type": "string", "description": "APaaS."},
            "userUuid": {"type": "string", "description": "APaaS."},
            "role": {"type": "integer", "description": "APaaS."},
            "permissions": {"type": "object", "description": "RTM2: resource type -> permission -> resources.",
                            "additionalProperties": {"type": "object",
                                                     "additionalProperties": {"type": "array",
                                                                              "items": {"type": "string"}}}},
            "privileges": {"type": "object", "additionalProperties": _ref("Privilege")},
        },
    },
    "GenerateTokenRequest": {
        "type": "object",
        "description": ("The request of Agora's reference token server (`DynamicKey/AgoraDynamicKey/go/docker/"
                        "server.go` in AgoraIO/Tools). Every field is optional; `null` is an absent field; unknown "
                        "fields are ignored; the `Content-Type` is not checked. One token, its services in this "
                        "order: RTC, RTM, FPA, Chat user, Chat app, APaaS user, APaaS app, then this service's "
                        "extensions: RTM2, Streaming, FCDN, APaaS room user."),
        "properties": {
            "channelName": {"type": "string", "description": "Channel of the RTC, Streaming and FCDN services "
                            "(at most 64 bytes; `CHANNEL_PATTERN`; a JWT's `channels` claim)."},
            "uid": {"type": "string", "description": "RTC uid, RTM, RTM2 user, Streaming and FCDN account, as sent "
                    "(not normalised: `\"007\"` stays `\"007\"`). A JSON number is an error."},
            "tokenExpireTs": {"type": "integer", "minimum": 0, "maximum": U32_MAX, "default": 0,
                              "description": "Token lifetime in seconds, and the privilege of RTM, RTM2, Chat and "
                                             "APaaS (at most `MAX_EXPIRE`)."},
            "privilegeExpireTs": {"type": "integer", "minimum": 0, "maximum": U32_MAX, "default": 0,
                                  "description": "The RTC, Streaming and FCDN privileges' lifetime in seconds (0: "
                                                 "the token's; at most `MAX_EXPIRE`)."},
            "serviceRtc": {"type": "object", "properties": {
                "enable": {"type": "boolean"},
                "role": {"type": "integer", "description": "1: join and publish audio, video and data; any "
                                                           "other: join only."}}},
            "serviceRtm": {"type": "object", "properties": {"enable": {"type": "boolean"}}},
            "serviceFpa": {"type": "object", "properties": {"enable": {"type": "boolean"}},
                           "description": "An FPA login privilege of 0 (the token's lifetime applies)."},
            "serviceChat": {"type": "object", "properties": {
                "enableUser": {"type": "boolean"}, "enableApp": {"type": "boolean"},
                "userUuid": {"type": "string"}}},
            "serviceApaas": _ref("GenerateApaas"),
            "serviceEducation": {**_ref("GenerateApaas"),
                                 "description": "Another name for `serviceApaas` (send one of them)."},
            "serviceRtm2": {"type": "object", "description": "Extension: RTM2 for `uid`, with resource permissions.",
                            "properties": {
                                "enable": {"type": "boolean"},
                                "permissions": {"type": "object", "additionalProperties": False, "properties": {
                                    name: _ref("GeneratePermission") for name in (
                                        "messageChannels", "streamChannels", "groupChannels", "serverGroups",
                                        "users")}}}},
            "serviceStreaming": {"type": "object", "description": "Extension: media push for `channelName`, `uid`.",
                                 "properties": {"enableMixStream": {"type": "boolean"},
                                                "enableRawStream": {"type": "boolean"}}},
            "serviceFcdn": {"type": "object", "description": "Extension: Fusion CDN for `channelName`, `uid`.",
                            "properties": {"enablePublish": {"type": "boolean"}, "enablePlay": {"type": "boolean"}}},
        },
    },
    "GenerateApaas": {
        "type": "object", "description": "APaaS (Flexible Classroom): user, app and (extension) room-user privileges.",
        "properties": {
            "enableUser": {"type": "boolean"}, "enableApp": {"type": "boolean"},
            "userUuid": {"type": "string"},
            "enableRoomUser": {"type": "boolean", "description": "Extension: the room-user privilege."},
            "roomUuid": {"type": "string"},
            "role": {"type": "integer", "minimum": -32768, "maximum": 32767, "default": 0},
        },
    },
    "GeneratePermission": {
        "type": "object", "additionalProperties": False,
        "properties": {"read": {"type": "array", "items": {"type": "string"}},
                       "write": {"type": "array", "items": {"type": "string"}}},
    },
    "GenerateTokenResponse": {
        "type": "object", "required": ["code", "message", "data"],
        "properties": {
            "code": {"type": "integer", "const": 0},
            "message": {"type": "string", "const": "Success"},
            "data": {"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}},
        },
    },
    "CodeError": {
        "type": "object", "required": ["code", "message", "data"],
        "description": ("Error body of `POST /token/generate`, as Agora's reference server writes it: `code` -2 "
                        "for no service and a token that cannot be built, -1 for everything else."),
        "properties": {
            "code": {"type": "integer", "enum": [-1, -2]},
            "message": {"type": "string", "description": "What is wrong, and what to fix."},
            "data": {"type": "string", "const": ""},
        },
    },
    "VerifyTokenResponse": {
        "type": "object",
        "required": ["valid", "reason", "version", "appId", "expired", "services"],
        "properties": {
            "valid": {"type": "boolean", "description": "Signed with this server's certificate, for its app id "
                                                        "(whether or not it has expired)."},
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
}

_WWW = {"WWW-Authenticate": {"$ref": "#/components/headers/WWW-Authenticate"}}
_RETRY = {"Retry-After": {"$ref": "#/components/headers/Retry-After"}}


#: the responses of the pipeline (:attr:`server.state.Route.pipeline_errors`), shared by the routes of
#: the ``{"error"}`` shape: name -> (status, description, headers)
STANDARD: dict[str, tuple[int, str, Optional[dict[str, Any]]]] = {
    "OriginForbidden": (403, "The request's `Origin` is not in `CORS_ALLOW_ORIGIN`.", None),
    "Unauthorized": (401, "Authentication is on and the request carries no valid API key or JWT.", _WWW),
    "TooManyRequests": (429, "Over the caller's `RATE_LIMIT`, or `MAX_UNFINISHED_PER_CLIENT` requests of this "
                             "caller are still sending their body.", _RETRY),
    "Unavailable": (503, "Load shedding (`MAX_INFLIGHT`, `MAX_QUEUE_WAIT`), the rate-limit storage down with "
                         "`RATE_LIMIT_ON_STORAGE_ERROR=deny`, or the identity provider's keys (JWKS) unreachable. "
                         "Retry after `Retry-After` seconds, with jitter.", _RETRY),
    "UnavailableGuard": (503, "The rate-limit storage down with `RATE_LIMIT_ON_STORAGE_ERROR=deny`, or the identity "
                              "provider's keys (JWKS) unreachable (this route is never shed).", _RETRY),
    "PayloadTooLarge": (413, "Request body above 4096 bytes.", None),
    "RequestTimeout": (408, "The request body did not arrive within `HTTP_BODY_TIMEOUT` (default 10 s).", None),
    "UnsupportedEncoding": (415, "A `Content-Encoding` other than `identity`: bodies are taken uncompressed (the "
                                 "connection is closed).",
                            {"Accept-Encoding": {"description": "`identity`", "schema": {"type": "string"}}}),
}


def _responses() -> dict[str, Any]:
    c = ("components",)
    responses = {name: _resp(description, "Error", (*c, name), headers)
                 for name, (_, description, headers) in STANDARD.items()}
    responses["LegacyForbidden"] = _resp(
        "The `Origin` is not allowed (CORS), or the caller's JWT does not allow this token (`{\"status\": 403, "
        "\"error\": ...}`, as these routes write errors).", "Error", (*c, "LegacyForbidden"))
    return responses


def _r(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


EXPIRY_QUERY = {
    "name": "expiry", "in": "query", "required": False,
    "description": ("Token lifetime in seconds. Missing -> 3600; `0` is passed through as 0 (like the original); "
                    "empty, negative, non-numeric or > 4294967295 -> 400; above `MAX_EXPIRE` (when one applies) "
                    "-> 400."),
    "schema": {"type": "integer", "minimum": 0, "maximum": U32_MAX},
    "example": 3600,
}

_USER_ID = {"type": "string", "minLength": 1, "maxLength": 255}
#: every path parameter of the routes, by name
PATH_PARAMETERS: dict[str, tuple[str, dict[str, Any]]] = {
    "channelName": ("Channel name (URL-encoded; at most 64 bytes).",
                    {"type": "string", "minLength": 1, "maxLength": 64}),
    "role": ("Exactly `publisher` -> publisher (privileges 1-4); anything else (e.g. `subscriber`) -> subscriber.",
             {"type": "string", "minLength": 1}),
    "tokenType": ("`uid` (then `rtcuid` is a decimal uid) or `userAccount`; anything else -> 400.",
                  {"type": "string", "enum": ["uid", "userAccount"]}),
    "rtcuid": ("Decimal uid 0..4294967295 for `uid`, any non-empty account for `userAccount`.", _USER_ID),
    "rtmuid": ("RTM user id (not empty, not `0`).", _USER_ID),
    "chatid": ("Chat user id.", _USER_ID),
    "name": ("One of the page's files.", {"type": "string", "enum": ["swagger-ui-bundle.js", "swagger-ui.css",
                                                                    "favicon-32x32.png", "docs.js", "docs.css"]}),
}


def _token_request(schema: str, op: str) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": _ref(schema), "examples": _examples((op, "request"))}}}


def _legacy(description: str, ok_schema: str, op: str) -> dict[str, Any]:
    """A deprecated GET route's own part: the ``expiry`` query, its token(s), its 400 and 403."""
    return {
        "description": description, "deprecated": True, "parameters": [EXPIRY_QUERY],
        "responses": {
            "200": _resp("The token(s).", ok_schema, (op, "200")),
            "400": _resp("A bad parameter (`message`), a lifetime or channel against the policy (`message`), or "
                         "a token-building failure (`error`).", "LegacyError", (op, "400")),
            "403": _r("LegacyForbidden"),
        },
    }


def _operations() -> dict[str, dict[str, Any]]:
    """What the document says of each operation beyond its route's declaration, by operation id:
    ``description``, ``deprecated``, query ``parameters``, ``requestBody`` and its own ``responses``
    (which take the place of the pipeline's standard one of the same status). A route with no entry
    here is documented from its declaration alone (its ``200``: "Success.")."""
    claims_403 = "The `Origin` is not allowed (CORS), or the caller's JWT does not allow this token."
    rtc = "RTC token for a channel; `{role}`/`{tokenType}` as in the original service."
    rte = ("An RTC token and an RTM token. The RTM user is `{rtmuid}`, or `{rtcuid}` as written; its token "
           "carries the channel's stream service (privileges 1 and 4).")
    return {
        "ping": {"responses": {"200": _resp("Alive.", "Pong", ("ping", "200"))}},
        "healthz": {
            "description": ("`200` while the process can serve tokens. `inflight`: token requests in progress in "
                            "this worker; `rate_limit_storage` (with a Redis `RATE_LIMIT_STORAGE`): `ok` or "
                            "`error`; `jwks` (with `AUTH_JWKS_URL`): `ok`, `stale` or `unavailable`."),
            "responses": {"200": _resp("Healthy.", "Health", ("healthz", "200"))}},
        "readyz": {
            "description": ("`200` while this replica can issue tokens; `503` while it shuts down (`stopping`: "
                            "from SIGTERM for `SHUTDOWN_DELAY`, still serving; `draining`) or cannot issue tokens "
                            "(`rate_limit_storage`: down with `RATE_LIMIT_ON_STORAGE_ERROR=deny`; `jwks`: no keys "
                            "from the identity provider). Take the replica out of rotation, do not restart it: "
                            "`/healthz` is the liveness check."),
            "responses": {"200": _resp("Ready.", "Readiness", ("readyz", "200")),
                          "503": _resp("Not ready, and why.", "Readiness", ("readyz", "503"))}},
        "getToken": {
            "requestBody": _token_request("GetTokenRequest", "getToken"),
            "responses": {
                "200": _resp("The token.", "TokenResponse", ("getToken", "200")),
                "400": _resp("Invalid JSON, a missing or unsupported `tokenType`, a missing field, or a value out "
                             "of range / against the policy.", "Error", ("getToken", "400")),
                "403": _resp(claims_403, "Error", ("getToken", "403"))}},
        "generateToken": {
            "description": ("Agora's reference token server's route, answered as it answers it, with the "
                            "production settings applied as on every token route. Extensions: RTM2 with "
                            "permissions, Streaming, FCDN and the APaaS room user. JWT callers: `uid` (and "
                            "`userUuid`) must equal `sub` as written (`\"\"` and `\"0\"` only with "
                            "`AUTH_JWT_ALLOW_ANY_UID` and `sub` `\"0\"`); app-level tokens (Chat app, APaaS app, "
                            "FPA) are refused; a subscriber-only JWT asking for RTC role 1, Streaming or FCDN "
                            "publish or RTM2 `write` gets `403`; `channels` applies to `channelName`, the RTM2 "
                            "channel resources and the APaaS `roomUuid`. Every error answers "
                            "`{\"code\": -1 | -2, \"message\", \"data\": \"\"}`."),
            "requestBody": _token_request("GenerateTokenRequest", "generateToken"),
            "responses": {
                "200": _resp("The token.", "GenerateTokenResponse", ("generateToken", "200")),
                "400": _resp("A body that is not a JSON object of the right shape (`code` -1), no service enabled "
                             "or a token that cannot be built (`code` -2), or a value against the policy (`code` "
                             "-1).", "CodeError", ("generateToken", "400")),
                "403": _resp(claims_403, "CodeError", ("generateToken", "403"))}},
        "getRtcToken": _legacy(rtc, "RtcTokenResponse", "getRtcToken"),
        "getRtmToken": _legacy("RTM login token for `{rtmuid}` (`0` or empty -> 400).", "RtmTokenResponse",
                               "getRtmToken"),
        "getRteToken": _legacy(rte, "RteTokenResponse", "getRteToken"),
        "getRteTokenWithRtmUid": _legacy(rte, "RteTokenResponse", "getRteTokenWithRtmUid"),
        "getChatAppToken": _legacy("A Chat app (administrator) token.", "ChatTokenResponse", "getChatAppToken"),
        "getChatUserToken": _legacy("A Chat user token for `{chatid}`.", "ChatTokenResponse", "getChatUserToken"),
        "verifyToken": {
            "requestBody": _token_request("VerifyTokenRequest", "verifyToken"),
            "responses": {
                "200": _resp("What the token grants and whether it is valid here.", "VerifyTokenResponse",
                             ("verifyToken", "200")),
                "400": _resp("Invalid JSON, no `token`, or a malformed token.", "Error", ("verifyToken", "400"))}},
        "encryption": {"responses": {
            "200": _resp("32 random bytes as hex (`secret`) and 32 as base64 (`salt`); never logged.",
                         "Encryption", ("encryption", "200"))}},
        "metrics": {
            "description": ("With `METRICS_TOKEN` set, send `Authorization: Bearer <METRICS_TOKEN>` (here: "
                            "authorize `metricsToken`); a client address with 10 failed attempts within a minute "
                            "gets `429`."),
            "responses": {
                "200": {"description": "Prometheus text exposition format.",
                        "content": {"text/plain": {"schema": {"type": "string"},
                                                   "examples": _examples(("metrics", "200"))}}},
                "401": _resp("`METRICS_TOKEN` is set and the request does not carry it.", "Error",
                             ("metrics", "401"), _WWW),
                "429": _resp("Too many failed `METRICS_TOKEN` attempts from this client address.", "Error",
                             ("metrics", "429"), _RETRY)}},
        "openapi": {"responses": {"200": {
            "description": "The OpenAPI document.",
            "content": {JSON: {"schema": {"type": "object", "required": ["openapi", "paths"]}}}}}},
        "docs": {"responses": {"200": {"description": "An HTML page.",
                                       "content": {"text/html": {"schema": {"type": "string"}}}}}},
        "docsStatic": {"responses": {
            "200": {"description": "The file (gzip-encoded when the client accepts it).", "content": {
                "text/javascript": {"schema": {"type": "string"}},
                "text/css": {"schema": {"type": "string"}},
                "image/png": {"schema": {"type": "string", "contentMediaType": "image/png"}}}},
            "404": _resp("Not one of the page's files (or swagger-ui-py is not installed).", "Error",
                         ("docsStatic", "404"))}},
    }


def _standard_name(route: Route, status: int) -> str:
    """The :data:`STANDARD` response of a pipeline error status on ``route``."""
    if status == 503:
        return "Unavailable" if route.sheddable else "UnavailableGuard"
    return next(name for name, (code, _, _) in STANDARD.items() if code == status)


def _pipeline_response(route: Route, status: int) -> dict[str, Any]:
    """A pipeline error on ``route``: the shared response, or for a route of its own error shape
    (``code``) the same description with its schema and its own examples."""
    name = _standard_name(route, status)
    if route.error_shape == "error":
        return _r(name)
    _, description, headers = STANDARD[name]
    place = (route.operation_id, str(status))
    return _resp(description, ERROR_SCHEMAS[route.error_shape], place if place in EXAMPLES else None, headers)


#: the schema of the pipeline's errors on a route of another :attr:`server.state.Route.error_shape`
ERROR_SCHEMAS = {"code": "CodeError"}


def _operation(route: Route, details: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": route.operation_id, "tags": [route.tag], "summary": route.summary}
    for key in ("description", "deprecated"):
        if key in details:
            op[key] = details[key]
    if route.schemes:  # optional: authentication is off unless configured, which the empty requirement says
        op["security"] = [*({scheme: []} for scheme in route.schemes), {}]
    parameters = [_path_param(name, *PATH_PARAMETERS[name]) for name in route.parameters]
    parameters += details.get("parameters", [])
    if parameters:
        op["parameters"] = parameters
    if "requestBody" in details:
        op["requestBody"] = details["requestBody"]
    own = details.get("responses", {"200": {"description": "Success."}})
    standard = {str(status): _pipeline_response(route, status) for status in route.pipeline_errors
                if str(status) not in own}
    op["responses"] = dict(sorted({**own, **standard}.items()))
    return op


def _paths(routes: Sequence[Route]) -> dict[str, Any]:
    details = _operations()
    paths: dict[str, Any] = {}
    for route in routes:
        paths.setdefault(route.template, {})[route.method.lower()] = _operation(route,
                                                                                details.get(route.operation_id, {}))
    return paths


def build_spec(routes: Sequence[Route], server_url: Optional[str] = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes`` (a fresh dict each call)."""
    spec: dict[str, Any] = {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "Agora token service",
            "version": _VERSION,
            "summary": "Agora access tokens of every kind over HTTP.",
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
        "paths": _paths(routes),
        "components": {
            "schemas": copy.deepcopy(SCHEMAS),
            "responses": _responses(),
            "headers": copy.deepcopy(HEADERS),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": ("`Authorization: Bearer <credential>`: an API key (`AUTH_API_KEYS`) "
                                               "or a JWT (`AUTH_JWT_*`, `AUTH_JWKS_URL`). Needed when "
                                               "authentication is configured. Authorize this one *or* "
                                               "`apiKeyAuth`: a request with both headers is refused.")},
                "apiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                               "description": ("`X-API-Key: <key>`: an API key (`AUTH_API_KEYS`). Authorize this "
                                               "one *or* `bearerAuth`, not both.")},
                "metricsToken": {"type": "http", "scheme": "bearer",
                                 "description": "`METRICS_TOKEN`, for `GET /metrics` when it is set."},
            },
        },
    }
    return spec


_cached: Optional[tuple[Sequence[Route], bytes]] = None


def spec_bytes(routes: Sequence[Route]) -> bytes:
    """The document of ``routes`` serialised once (it never changes while the process runs)."""
    global _cached
    if _cached is None or _cached[0] is not routes:
        _cached = (routes, json.dumps(build_spec(routes), indent=1, ensure_ascii=False).encode("utf-8"))
    return _cached[1]
