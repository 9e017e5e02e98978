"""The OpenAPI 3.1 description of the token service (``GET /openapi.json``),
rendered by Swagger UI at ``GET /docs``.

:func:`build_spec` returns the document as a dict. Every example in it comes
from :data:`EXAMPLES`, where each one keeps the request that produces it
(:class:`Call`: method, path, body, headers, and the settings the service
runs with); the example's description in the document names that request.
``tests/server/test_openapi_examples.py`` replays every one against the real
app and checks the status and the exact body (or, for an example marked
illustrative, such as a token, which differs on every call: the status and
the shape). ``tests/server/test_openapi_responses.py`` validates real
responses of every endpoint against the document, and the schemathesis fuzz
test checks it from the outside.

In a :class:`Call`, values in angle brackets stand for what a deployment has
and the test supplies: ``<api-key>`` (a key of ``AUTH_API_KEYS``),
``<jwt-secret>``, ``<jwt sub=alice>`` (a JWT with these claims, signed with
``<jwt-secret>``), ``<closed-port>`` (a port nothing listens on),
``<hold-file>``.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Optional

from agora_token import __version__ as _VERSION
from agora_token.constants import U32_MAX

JSON = "application/json"

#: an AccessToken2, to show the shape of a token (illustrative: every token differs)
EXAMPLE_007 = ("007eJxTYOBae0T64rZ0fcZKDd6nVbpmy6Z7udztE9hpw3zzU2gh008FBktzA2dHY9OUVDODZBMTMxPTpKTEVItE"
               "I0NTAzPDJGPjWzc4swX4GBiCHz1hZWRgZGABYhCfCUwyg0kWMMnKkJOflFTJxGBiBADeXx3d")

#: RTC token for channel "test", uid 123, publisher, issued 2025-01-01T12:00:00Z for 3600 s with salt 1,
#: signed with the test (Agora sample) app id and certificate; VERIFY_OTHER: the same with another
#: certificate. Fixed bytes, so POST /verifyToken answers the same for them every time.
VERIFY_SIGNED = ("007eJxTYHgkz15x9kNmSfCv9YdaFKyCftwW2KMe7+4V2lN19JpKxwkFBktzA2dHY9OUVDODZBMTMxPTpKTEVItEI0NTAzPDJGNjB"
                 "73SdAE+BgZGBhBmZGABYhCfCUwyg0kWKFmSWlzCzGBoZAwARUwc9g==")
VERIFY_OTHER = ("007eJxTYMj3T3aw4W47XiVuUnVZSFv0Tugf4zvqZk5zOy09TlzZmqjAYGlu4OxobJqSamaQbGJiZmKalJSYapFoZGhqYGaYZG"
                "zsoFeaLsDHwMDIAMKMDCxADOIzgUlmMMkCJUtSi0uYGQyNjAEhxBpb")
#: the app id of those tokens (Agora's public sample app id, the test suite's)
SAMPLE_APP_ID = "970CA35de60c44645bbae8a215061b33"

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


# --------------------------------------------------------------------------- examples and their requests

@dataclass(frozen=True)
class Call:
    """A request, as an example documents it (and the test replays it).

    ``body``: a JSON body (None: none); ``raw``: a body sent as it is, with
    ``Content-Type: application/json`` (``shown``: how the description shows
    it, for a long one). ``env``: the settings the service runs with (on top
    of ``APP_ID`` / ``APP_CERTIFICATE``). ``before``: requests sent first, in
    order, whose answers do not matter (``note`` says why). ``while_busy``:
    sent while a held token request fills ``MAX_INFLIGHT``. ``stalled_body``:
    the request announces a body and never sends it."""

    method: str
    path: str
    body: Any = None
    raw: Optional[str] = None
    headers: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    before: tuple["Call", ...] = ()
    note: str = ""
    shown: Optional[str] = None
    while_busy: bool = False
    stalled_body: bool = False

    def describe(self) -> str:
        """The request in Markdown, for the example's description."""
        text = f"`{self.method} {self.path}`"
        if self.shown is not None:
            text += f" with {self.shown}"
        elif self.raw is not None:
            text += f" with the body `{self.raw}`"
        elif self.body is not None:
            text += f" with `{json.dumps(self.body, ensure_ascii=False)}`"
        if self.headers:
            text += ", " + ", ".join(f"`{k}: {v}`" for k, v in self.headers.items())
        lines = [f"Request: {text}."]
        if self.env:
            lines.append("Settings: " + ", ".join(f"`{k}={v}`" for k, v in self.env.items()) + ".")
        if self.note:
            lines.append(self.note)
        return "\n\n".join(lines)


@dataclass(frozen=True)
class Example:
    """A documented answer (``value``, with ``status``) and the request that gets it.

    ``exact``: the test compares the body byte for byte as JSON; False marks
    the value illustrative (tokens, random keys, counters): the status, the
    keys and the schema are checked. For a request-body example ``value`` is
    the body sent (``call.body``) and ``status`` the answer's."""

    summary: str
    value: Any
    call: Call
    status: int
    exact: bool = True

    def render(self) -> dict[str, Any]:
        description = self.call.describe()
        if not self.exact:
            description += "\n\nIllustrative value: tokens, keys and counts differ on every call."
        return {"summary": self.summary, "description": description, "value": self.value}


#: every example of the document: (operationId, status or "request") or
#: ("components", response name) -> example name -> :class:`Example`
EXAMPLES: dict[tuple[str, str], dict[str, Example]] = {}

ORIGINS = {"CORS_ALLOW_ORIGIN": "https://app.example.com"}
FOREIGN = {"Origin": "https://evil.example"}
KEYS = {"AUTH_API_KEYS": "<api-key>"}
JWTS = {"AUTH_JWT_SECRET": "<jwt-secret>"}
WITH_KEY = {"X-API-Key": "<api-key>"}
DEAD_REDIS = "redis://127.0.0.1:<closed-port>/0"
DEAD_JWKS = "http://127.0.0.1:<closed-port>/jwks.json"
RTC_BODY = {"tokenType": "rtc", "channel": "test", "role": "publisher", "uid": "123", "expire": 3600}


def _post(path: str, body: Any = None, **kw: Any) -> Call:
    return Call("POST", path, body, **kw)


def _get(path: str, **kw: Any) -> Call:
    return Call("GET", path, **kw)


def _err(summary: str, status: int, message: str, call: Call) -> Example:
    return Example(summary, {"error": message}, call, status)


def _legacy_err(summary: str, message: str, call: Call, key: str = "message") -> Example:
    return Example(summary, {"status": 400, key: message}, call, 400)


def _register(place: tuple[str, str], examples: dict[str, Example]) -> None:
    assert place not in EXAMPLES, place
    EXAMPLES[place] = examples


# shared answers (components/responses): the example requests name one route each
_register(("components", "OriginForbidden"), {
    "originNotAllowed": _err("Origin not in CORS_ALLOW_ORIGIN", 403, "Origin not allowed",
                             _get("/ping", headers=FOREIGN, env=ORIGINS)),
})
_register(("components", "Unauthorized"), {
    "missing": _err("No credentials", 401, "authentication required: send 'Authorization: Bearer <credential>' "
                    "or 'X-API-Key: <key>'", _post("/getToken", RTC_BODY, env=KEYS)),
    "wrongKey": _err("Unknown API key", 401, "invalid API key",
                     _post("/getToken", RTC_BODY, headers={"X-API-Key": "not-a-configured-key"}, env=KEYS)),
    "both": _err("Both headers sent (authorize with one scheme only)", 401,
                 "send either 'Authorization: Bearer' or 'X-API-Key', not both",
                 _post("/getToken", RTC_BODY, headers={"Authorization": "Bearer <api-key>", **WITH_KEY},
                       env=KEYS)),
    "expiredJwt": _err("Expired JWT", 401, "JWT has expired",
                       _post("/getToken", RTC_BODY, headers={"Authorization": "Bearer <jwt sub=123 expired>"},
                             env=JWTS)),
    "notAKeyNorJwt": _err("A bearer credential that is neither", 401,
                          "invalid credential (neither a known API key nor a valid JWT)",
                          _post("/getToken", RTC_BODY, headers={"Authorization": "Bearer not-a-configured-key"},
                                env={**KEYS, **JWTS})),
})
_register(("components", "TooManyRequests"), {
    "limited": _err("Over the caller's RATE_LIMIT", 429, "rate limit exceeded: retry in 60 s",
                    _post("/getToken", RTC_BODY, headers=WITH_KEY, env={**KEYS, "RATE_LIMIT": "1/min"},
                          before=(_post("/getToken", RTC_BODY, headers=WITH_KEY),),
                          note="The caller's second request within the minute.")),
})
_UNAVAILABLE_GUARD = {
    "storage": _err("The rate-limit storage is down (deny mode)", 503,
                    "the rate-limit storage is unavailable (RATE_LIMIT_ON_STORAGE_ERROR=deny): retry later",
                    _post("/getToken", RTC_BODY,
                          env={"RATE_LIMIT": "20/s", "RATE_LIMIT_STORAGE": DEAD_REDIS,
                               "RATE_LIMIT_ON_STORAGE_ERROR": "deny"})),
    "jwks": _err("The identity provider's keys are unreachable", 503,
                 "cannot verify JWTs now: the identity provider's keys are unavailable",
                 _post("/getToken", RTC_BODY, headers={"Authorization": "Bearer <jwt sub=123 kid=k1 alg=RS256>"},
                       env={"AUTH_JWKS_URL": DEAD_JWKS})),
}
_register(("components", "Unavailable"), {
    "overloaded": _err("Load shedding", 503, "the service is overloaded: retry after the Retry-After delay "
                       "(with random jitter)",
                       _post("/getToken", RTC_BODY, env={"MAX_INFLIGHT": "1", "TEST_HOLD_FILE": "<hold-file>"},
                             while_busy=True, note="Sent while `MAX_INFLIGHT` token requests are in progress.")),
    **_UNAVAILABLE_GUARD,
})
_register(("components", "UnavailableGuard"), dict(_UNAVAILABLE_GUARD))
_TOO_LARGE = '{"tokenType": "' + "x" * 5000 + '"}'
_register(("components", "PayloadTooLarge"), {
    "tooLarge": _err("Body over 4096 bytes", 413, "request body too large: at most 4096 bytes are accepted",
                     _post("/getToken", raw=_TOO_LARGE, shown=f"a {len(_TOO_LARGE):,}-byte JSON body")),
})
_register(("components", "UnsupportedEncoding"), {
    "gzip": Example("A gzip-encoded body",
                    {"error": "request bodies are accepted without Content-Encoding only (they are a few hundred "
                              "bytes): send it uncompressed"},
                    _post("/getToken", RTC_BODY, headers={"Content-Encoding": "gzip"}), 415),
})
_register(("components", "RequestTimeout"), {
    "bodyTimeout": _err("The body did not arrive", 408, "the request body did not arrive in time",
                        _post("/getToken", env={"HTTP_BODY_TIMEOUT": "0.5"}, stalled_body=True,
                              shown="`Content-Length: 100` and no body",
                              note="The body did not arrive within `HTTP_BODY_TIMEOUT` seconds.")),
})
_register(("components", "LegacyForbidden"), {
    "originNotAllowed": _err("Origin not in CORS_ALLOW_ORIGIN", 403, "Origin not allowed",
                             _get("/rtc/test/publisher/uid/123/", headers=FOREIGN, env=ORIGINS)),
    "otherUid": Example("A JWT caller asks for another uid",
                        {"status": 403, "error": "this caller may only get tokens for its own uid (the JWT 'sub')"},
                        _get("/rtc/test/publisher/uid/123/", headers={"Authorization": "Bearer <jwt sub=alice>"},
                             env=JWTS), 403),
})

# POST /getToken
_register(("getToken", "request"), {
    "rtcUid": Example("RTC, numeric uid, publisher", RTC_BODY, _post("/getToken", RTC_BODY), 200),
    **{name: Example(summary, body, _post("/getToken", body), 200) for name, summary, body in (
        ("rtcAccount", "RTC, user account, subscriber",
         {"tokenType": "rtc", "channel": "test", "role": "subscriber", "uid": "alice"}),
        ("rtm", "RTM with a stream channel", {"tokenType": "rtm", "uid": "alice", "channel": "test"}),
        ("chatUser", "Chat user token", {"tokenType": "chat", "uid": "alice"}),
        ("chatApp", "Chat app token", {"tokenType": "chat"}),
    )},
})
_register(("getToken", "200"), {
    "ok": Example("The token", {"token": EXAMPLE_007}, _post("/getToken", RTC_BODY), 200, exact=False),
})


def _gt(summary: str, message: str, body: Any = None, **kw: Any) -> Example:
    return _err(summary, 400, message, _post("/getToken", body, **kw))


_register(("getToken", "400"), {
    "notJson": _gt("Not JSON", "request body must be a JSON object, e.g. {\"tokenType\": \"rtc\", \"channel\": "
                   "\"test\", \"uid\": \"42\", \"role\": \"publisher\"}", raw="tokenType=rtc&channel=test"),
    "notAnObject": _gt("JSON, but not an object", "request body must be a JSON object", ["rtc", "test"]),
    "missingTokenType": _gt("No tokenType", "missing tokenType: use rtc, rtm or chat",
                            {"channel": "test", "uid": "123"}),
    "unsupportedTokenType": _gt("Unknown tokenType", "unsupported tokenType 'rtmp': use rtc, rtm or chat",
                                {"tokenType": "rtmp", "uid": "123"}),
    "missingChannel": _gt("RTC without channel", "missing channel (required for rtc tokens)",
                          {"tokenType": "rtc", "uid": "123"}),
    "missingUid": _gt("RTC without uid", "missing uid (required for rtc tokens; \"0\" means any user)",
                      {"tokenType": "rtc", "channel": "test"}),
    "uidRange": _gt("uid above 2^32 - 1", "uid '4294967296' is above 4294967295",
                    {"tokenType": "rtc", "channel": "test", "uid": "4294967296"}),
    "rtmUserZero": _gt("RTM user 0", "uid (for rtm tokens) must be a non-empty user id other than 0",
                       {"tokenType": "rtm", "uid": "0"}),
    "expireType": _gt("expire as a string", "expire must be an integer number of seconds",
                      {"tokenType": "rtc", "channel": "test", "uid": "123", "expire": "3600"}),
    "channelTooLong": _gt("Channel over 64 bytes", "channel_name is 65 bytes long; at most 64 are allowed",
                          {"tokenType": "rtc", "channel": "c" * 65, "uid": "123"}),
    "maxExpire": _gt("Above MAX_EXPIRE (86400 by default once a production setting is configured)",
                     "expire 172800 exceeds the maximum of 86400 seconds (MAX_EXPIRE): ask for at most 86400",
                     {"tokenType": "rtc", "channel": "test", "uid": "123", "expire": 172800},
                     headers=WITH_KEY, env=KEYS),
    "channelPattern": _gt("Channel against CHANNEL_PATTERN",
                          "channel name is not allowed by this server's channel pattern (CHANNEL_PATTERN)",
                          {"tokenType": "rtc", "channel": "Team Room", "uid": "123"},
                          env={"CHANNEL_PATTERN": "[a-z0-9-]{1,64}"}),
})


def _jwt_denied(summary: str, message: str, body: Any, claims: str) -> Example:
    return _err(summary, 403, message, _post("/getToken", body, headers={"Authorization": f"Bearer <jwt {claims}>"},
                                             env=JWTS))


_register(("getToken", "403"), {
    "originNotAllowed": _err("Origin not in CORS_ALLOW_ORIGIN", 403, "Origin not allowed",
                             _post("/getToken", RTC_BODY, headers=FOREIGN, env=ORIGINS)),
    "otherUid": _jwt_denied("A JWT caller asks for another uid",
                            "this caller may only get tokens for its own uid (the JWT 'sub')", RTC_BODY, "sub=alice"),
    "otherChannel": _jwt_denied("A channel outside the JWT's channels",
                                "this caller may not get tokens for this channel (the JWT 'channels' claim)",
                                RTC_BODY, "sub=123 channels=lobby-*"),
    "subscriberOnly": _jwt_denied("A publisher token for a subscriber-only JWT",
                                  "this caller may only get subscriber tokens (the JWT 'role' claim)",
                                  RTC_BODY, "sub=123 role=subscriber"),
    "chatApp": _jwt_denied("A Chat app token for a JWT caller", "chat app tokens are not issued to JWT callers",
                           {"tokenType": "chat"}, "sub=alice"),
})

# POST /token/generate (Agora's reference token server)
GEN = "/token/generate"
GEN_BODY = {"channelName": "test", "uid": "123", "tokenExpireTs": 3600, "privilegeExpireTs": 3600,
            "serviceRtc": {"enable": True, "role": 1}, "serviceRtm": {"enable": True}}
_register(("generateToken", "request"), {
    name: Example(summary, body, _post(GEN, body), 200) for name, summary, body in (
    ("rtcAndRtm", "RTC (publisher) and RTM in one token, as Agora's reference server", GEN_BODY),
    ("chat", "Chat user and Chat app",
     {"tokenExpireTs": 3600, "serviceChat": {"enableUser": True, "enableApp": True, "userUuid": "alice"}}),
    ("apaasRoomUser", "APaaS room user (extension: enableRoomUser, roomUuid, role)",
     {"tokenExpireTs": 3600, "serviceApaas": {"enableRoomUser": True, "roomUuid": "class-1", "role": 2,
                                              "userUuid": "alice"}}),
    ("education", "serviceEducation: another name for serviceApaas",
     {"tokenExpireTs": 3600, "serviceEducation": {"enableUser": True, "userUuid": "alice"}}),
    ("rtm2", "RTM2 with resource permissions (extension)",
     {"uid": "alice", "tokenExpireTs": 3600, "serviceRtm2": {"enable": True, "permissions": {
         "messageChannels": {"read": ["lobby", "news"], "write": ["lobby"]}, "users": {"write": ["bob"]}}}}),
    ("streamingAndFcdn", "Streaming, FCDN and FPA (extensions, and FPA)",
     {"channelName": "test", "uid": "123", "tokenExpireTs": 3600, "privilegeExpireTs": 3600,
      "serviceStreaming": {"enableMixStream": True, "enableRawStream": True},
      "serviceFcdn": {"enablePlay": True}, "serviceFpa": {"enable": True}}),
)})
_register(("generateToken", "200"), {
    "ok": Example("The token", {"code": 0, "message": "Success", "data": {"token": EXAMPLE_007}},
                  _post(GEN, GEN_BODY), 200, exact=False),
})


def _code(summary: str, status: int, message: str, call: Call, code: int = -1) -> Example:
    return Example(summary, {"code": code, "message": message, "data": ""}, call, status)


def _gen(summary: str, message: str, body: Any = None, code: int = -1, **kw: Any) -> Example:
    return _code(summary, 400, message, _post(GEN, body, **kw), code)


_register(("generateToken", "400"), {
    "notJson": _gen("Not JSON", "request body is not valid JSON: send a JSON object, e.g. {\"channelName\": "
                    "\"test\", \"uid\": \"123\", \"tokenExpireTs\": 3600, \"serviceRtc\": {\"enable\": true, "
                    "\"role\": 1}}", raw="channelName=test"),
    "wrongType": _gen("A field of the wrong type", "uid must be a string, not an integer",
                      {"uid": 123, "serviceRtc": {"enable": True}}),
    "outOfRange": _gen("An expiry out of range", "tokenExpireTs must be an integer in 0..4294967295, got -1",
                       {"uid": "123", "tokenExpireTs": -1, "serviceRtm": {"enable": True}}),
    "noService": _gen("No service enabled", "no service added", {"channelName": "test", "uid": "123"}, code=-2),
    "nullBody": _gen("A null body", "no service added", raw="null", code=-2),
    "maxExpire": _gen("Above MAX_EXPIRE (either expiry field)",
                      "expire 172800 exceeds the maximum of 86400 seconds (MAX_EXPIRE): ask for at most 86400",
                      {**GEN_BODY, "privilegeExpireTs": 172800}, headers=WITH_KEY, env=KEYS),
    "channelTooLong": _gen("channelName over 64 bytes", "channel_name is 65 bytes long; at most 64 are allowed",
                           {**GEN_BODY, "channelName": "c" * 65}),
    "channelPattern": _gen("channelName against CHANNEL_PATTERN",
                           "channel name is not allowed by this server's channel pattern (CHANNEL_PATTERN)",
                           {**GEN_BODY, "channelName": "Team Room"}, env={"CHANNEL_PATTERN": "[a-z0-9-]{1,64}"}),
    "cannotBuild": _gen("A token that cannot be built (here: a uid that is not valid text)",
                        "the token cannot be built: user_id is not valid text (lone surrogate)",
                        raw='{"uid": "\\ud800", "serviceRtm": {"enable": true}}', code=-2),
})


def _gen_jwt(summary: str, message: str, body: Any, claims: str) -> Example:
    return _code(summary, 403, message, _post(GEN, body, headers={"Authorization": f"Bearer <jwt {claims}>"},
                                              env=JWTS))


_register(("generateToken", "401"), {
    "missing": _code("No credentials", 401, "authentication required: send 'Authorization: Bearer <credential>' "
                     "or 'X-API-Key: <key>'", _post(GEN, GEN_BODY, env=KEYS)),
})
_register(("generateToken", "403"), {
    "originNotAllowed": _code("Origin not in CORS_ALLOW_ORIGIN", 403, "Origin not allowed",
                              _post(GEN, GEN_BODY, headers=FOREIGN, env=ORIGINS)),
    "otherUid": _gen_jwt("A uid other than the JWT's sub",
                         "this caller may only get tokens for its own uid (the JWT 'sub')", GEN_BODY, "sub=alice"),
    "subscriberOnly": _gen_jwt("RTC role 1 for a subscriber-only JWT (no silent downgrade)",
                               "this caller may only get subscriber tokens (the JWT 'role' claim)", GEN_BODY,
                               "sub=123 role=subscriber"),
    "appLevel": _gen_jwt("An app-level token (Chat app, APaaS app, FPA) for a JWT caller",
                         "FPA tokens are not issued to JWT callers",
                         {"serviceFpa": {"enable": True}}, "sub=alice"),
})
_register(("generateToken", "408"), {
    "bodyTimeout": _code("The body did not arrive", 408, "the request body did not arrive in time",
                         _post(GEN, env={"HTTP_BODY_TIMEOUT": "0.5"}, stalled_body=True,
                               shown="`Content-Length: 100` and no body")),
})
_register(("generateToken", "413"), {
    "tooLarge": _code("Body over 4096 bytes", 413, "request body too large: at most 4096 bytes are accepted",
                      _post(GEN, raw=_TOO_LARGE, shown=f"a {len(_TOO_LARGE):,}-byte JSON body")),
})
_register(("generateToken", "429"), {
    "limited": _code("Over the caller's RATE_LIMIT", 429, "rate limit exceeded: retry in 60 s",
                     _post(GEN, GEN_BODY, headers=WITH_KEY, env={**KEYS, "RATE_LIMIT": "1/min"},
                           before=(_post(GEN, GEN_BODY, headers=WITH_KEY),),
                           note="The caller's second request within the minute.")),
})
_register(("generateToken", "503"), {
    "overloaded": _code("Load shedding", 503, "the service is overloaded: retry after the Retry-After delay "
                        "(with random jitter)",
                        _post(GEN, GEN_BODY, env={"MAX_INFLIGHT": "1", "TEST_HOLD_FILE": "<hold-file>"},
                              while_busy=True, note="Sent while `MAX_INFLIGHT` token requests are in progress.")),
})

# the deprecated GET routes
LEGACY_OK = {
    "getRtcToken": ("/rtc/test/publisher/uid/123/", {"rtcToken": EXAMPLE_007}),
    "getRtmToken": ("/rtm/alice/", {"rtmToken": EXAMPLE_007}),
    "getRteToken": ("/rte/test/publisher/uid/123/", {"rtcToken": EXAMPLE_007, "rtmToken": EXAMPLE_007}),
    "getRteTokenWithRtmUid": ("/rte/test/publisher/uid/123/alice/", {"rtcToken": EXAMPLE_007,
                                                                      "rtmToken": EXAMPLE_007}),
    "getChatAppToken": ("/chat/app/", {"chatToken": EXAMPLE_007}),
    "getChatUserToken": ("/chat/account/alice/", {"chatToken": EXAMPLE_007}),
}
for _op, (_path, _value) in LEGACY_OK.items():
    _register((_op, "200"), {"ok": Example("The token(s)", _value, _get(_path), 200, exact=False)})

_EXPIRY = "expiry must be a whole number of seconds in 0..4294967295, got "
_register(("getRtcToken", "400"), {
    "badTokenType": _legacy_err("tokenType neither uid nor userAccount",
                                "Error Generating RTC token: unknown tokenType 'uuid': use uid or userAccount",
                                _get("/rtc/test/publisher/uuid/123/")),
    "badUid": _legacy_err("A uid that is not a number", "Error Generating RTC token: rtcuid 'alice' is not a "
                          "number in 0..4294967295 (use tokenType userAccount for string accounts)",
                          _get("/rtc/test/publisher/uid/alice/")),
    "badExpiry": _legacy_err("expiry not a number", f"Error Generating RTC token: {_EXPIRY}'soon'",
                             _get("/rtc/test/publisher/uid/123/?expiry=soon")),
    "maxExpire": _legacy_err("Above MAX_EXPIRE", "expire 172800 exceeds the maximum of 86400 seconds "
                             "(MAX_EXPIRE): ask for at most 86400",
                             _get("/rtc/test/publisher/uid/123/?expiry=172800", headers=WITH_KEY, env=KEYS)),
    "buildError": _legacy_err("The token cannot be built (here: a channel over 64 bytes)",
                              "Error Generating RTC token - channel_name is 65 bytes long; at most 64 are allowed",
                              _get("/rtc/" + "c" * 65 + "/publisher/uid/123/"), key="error"),
})
_register(("getRtmToken", "400"), {
    "userZero": _legacy_err("RTM user 0", "Error Generating RTM token: rtmuid must be a non-empty user id other "
                            "than 0", _get("/rtm/0/")),
})
_register(("getRteToken", "400"), {
    "noRtmUser": _legacy_err("uid 0 and no rtmuid", "Error Generating RTE token: no RTM user: give rtmuid "
                             "(/rte/:channelName/:role/:tokenType/:rtcuid/:rtmuid/) or an rtcuid other than "
                             "empty or 0", _get("/rte/test/publisher/uid/0/")),
})
_register(("getRteTokenWithRtmUid", "400"), {
    "badExpiry": _legacy_err("A negative expiry", f"Error Generating RTE token: {_EXPIRY}'-1'",
                             _get("/rte/test/publisher/uid/123/alice/?expiry=-1")),
})
_register(("getChatAppToken", "400"), {
    "badExpiry": _legacy_err("expiry above 2^32 - 1", f"Error Generating Chat token: {_EXPIRY}'4294967296'",
                             _get("/chat/app/?expiry=4294967296")),
})
_register(("getChatUserToken", "400"), {
    "emptyChatId": _legacy_err("An empty chatid", "Error Generating Chat token: chatid must not be empty",
                               _get("/chat/account//")),
})

# POST /verifyToken
_register(("verifyToken", "request"), {
    "token": Example("A token signed with this service's certificate", {"token": VERIFY_SIGNED},
                     _post("/verifyToken", {"token": VERIFY_SIGNED}), 200),
})
_PRIVILEGES = {name: {"expire": 3600, "expiresAt": "2025-01-01T13:00:00Z"}
               for name in ("joinChannel", "publishAudioStream", "publishVideoStream", "publishDataStream")}


def _verified(valid: bool, reason: Optional[str]) -> dict[str, Any]:
    return {"valid": valid, "reason": reason, "version": "007", "appId": SAMPLE_APP_ID,
            "issuedAt": "2025-01-01T12:00:00Z", "expiresAt": "2025-01-01T13:00:00Z", "expired": True,
            "services": [{"type": "rtc", "channel": "test", "uid": "123", "privileges": _PRIVILEGES}]}


_register(("verifyToken", "200"), {
    "signedHere": Example("Signed with this service's certificate (and expired: issued 2025-01-01 for an hour)",
                          _verified(True, None), _post("/verifyToken", {"token": VERIFY_SIGNED},
                                                       note="The service runs with the token's app id and "
                                                            "certificate."), 200),
    "otherCertificate": Example("Signed with another certificate", _verified(
        False, "the signature does not match this server's app certificate"),
        _post("/verifyToken", {"token": VERIFY_OTHER}), 200),
})
_register(("verifyToken", "400"), {
    "notJson": _err("Not JSON", 400, "request body is not valid JSON", _post("/verifyToken", raw="{token:")),
    "missingToken": _err("No token", 400, "missing 'token' (a 007 or 006 token string)", _post("/verifyToken", {})),
    "notAToken": _err("Not a token", 400, "malformed token: it does not start with '007' or '006'",
                      _post("/verifyToken", {"token": "hello"})),
    "badBase64": _err("Not base64 after 007", 400, "malformed token: token body is not valid base64",
                      _post("/verifyToken", {"token": "007abc"})),
})

# the others
_register(("ping", "200"), {"pong": Example("Alive", {"message": "pong"}, _get("/ping"), 200)})
_register(("healthz", "200"), {
    "ok": Example("Healthy (drop-in mode)", {"status": "ok", "inflight": 0}, _get("/healthz"), 200),
    "degraded": Example("Redis and the identity provider unreachable",
                        {"status": "ok", "inflight": 0, "rate_limit_storage": "error", "jwks": "unavailable"},
                        _get("/healthz", env={"RATE_LIMIT": "20/s", "RATE_LIMIT_STORAGE": DEAD_REDIS,
                                              "AUTH_JWKS_URL": DEAD_JWKS},
                             before=(_post("/getToken", RTC_BODY),),
                             note="After one token request (which failed with 401 and a failed Redis call)."), 200),
})
_register(("readyz", "200"), {"ready": Example("Ready", {"status": "ready"}, _get("/readyz"), 200)})
_register(("readyz", "503"), {
    "storageDown": Example("Redis down with RATE_LIMIT_ON_STORAGE_ERROR=deny",
                           {"status": "not ready", "reasons": ["rate_limit_storage"]},
                           _get("/readyz", env={"RATE_LIMIT": "20/s", "RATE_LIMIT_STORAGE": DEAD_REDIS,
                                                "RATE_LIMIT_ON_STORAGE_ERROR": "deny"},
                                before=(_post("/getToken", RTC_BODY),),
                                note="After one token request (answered 503: the storage failed)."), 503),
})
_register(("encryption", "200"), {
    "ok": Example("Fresh key material", {
        "secret": "9f2c1e0b7d4a8c6e5f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e",
        "salt": "q1k5y0mZpQ3xR7cT9vW2bN4jL6hF8dS0aG1eU3iO5pY="}, _get("/encryption"), 200, exact=False),
})
METRICS_TOKEN_ENV = {"METRICS_TOKEN": "<metrics-token>"}
_register(("metrics", "401"), {
    "missing": _err("METRICS_TOKEN set, not sent", 401, "GET /metrics needs 'Authorization: Bearer <METRICS_TOKEN>'",
                    _get("/metrics", env=METRICS_TOKEN_ENV)),
})
_register(("metrics", "429"), {
    "tooManyFailures": Example("Ten failed attempts within a minute",
                               {"error": "too many failed METRICS_TOKEN attempts: retry in 60 s"},
                               _get("/metrics", env=METRICS_TOKEN_ENV,
                                    before=(_get("/metrics", headers={"Authorization": "Bearer wrong-token"}),) * 10,
                                    note="After ten requests with a wrong token from the same address; the "
                                         "delay is the window's (about a minute)."), 429, exact=False),
})
#: /metrics: the text example (the examples test finds its HELP and TYPE lines verbatim in a real answer)
METRICS_EXAMPLE = ("# HELP agora_token_tokens_issued_total Tokens issued, by type.\n"
                   "# TYPE agora_token_tokens_issued_total counter\n"
                   "agora_token_tokens_issued_total{type=\"rtc\"} 42.0\n")
_register(("metrics", "200"), {
    "sample": Example("Three lines of the exposition", METRICS_EXAMPLE, _get("/metrics"), 200, exact=False),
})
_register(("docsStatic", "404"), {
    "unknownFile": _err("Not one of the served files", 404, "not found", _get("/docs/static/index.html")),
})

#: path parameter values shown (and pre-filled by "Try it out"); the examples
#: test gets every operation with them and expects 200
PARAMETER_EXAMPLES = {"channelName": "test", "role": "publisher", "tokenType": "uid", "rtcuid": "123",
                      "rtmuid": "alice", "chatid": "alice", "name": "swagger-ui.css"}


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


def _path_param(name: str, description: str, schema: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema or {"type": "string", "minLength": 1}, "example": PARAMETER_EXAMPLES[name]}


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


def _responses() -> dict[str, Any]:
    c = ("components",)
    return {
        "OriginForbidden": _resp("The request's `Origin` is not in `CORS_ALLOW_ORIGIN`.", "Error",
                                 (*c, "OriginForbidden")),
        "Unauthorized": _resp("Authentication is on and the request carries no valid API key or JWT.", "Error",
                              (*c, "Unauthorized"), _WWW),
        "TooManyRequests": _resp("Over the caller's `RATE_LIMIT`, or `MAX_UNFINISHED_PER_CLIENT` requests of this "
                                 "caller are still sending their body.", "Error", (*c, "TooManyRequests"), _RETRY),
        "Unavailable": _resp("Load shedding (`MAX_INFLIGHT`, `MAX_QUEUE_WAIT`), the rate-limit storage down with "
                             "`RATE_LIMIT_ON_STORAGE_ERROR=deny`, or the identity provider's keys (JWKS) "
                             "unreachable. Retry after `Retry-After` seconds, with jitter.", "Error",
                             (*c, "Unavailable"), _RETRY),
        "UnavailableGuard": _resp("The rate-limit storage down with `RATE_LIMIT_ON_STORAGE_ERROR=deny`, or the "
                                  "identity provider's keys (JWKS) unreachable (this route is never shed).",
                                  "Error", (*c, "UnavailableGuard"), _RETRY),
        "PayloadTooLarge": _resp("Request body above 4096 bytes.", "Error", (*c, "PayloadTooLarge")),
        "RequestTimeout": _resp("The request body did not arrive within `HTTP_BODY_TIMEOUT` (default 10 s).",
                                "Error", (*c, "RequestTimeout")),
        "UnsupportedEncoding": _resp("A `Content-Encoding` other than `identity`: bodies are taken uncompressed "
                                     "(the connection is closed).", "Error", (*c, "UnsupportedEncoding"),
                                     {"Accept-Encoding": {"description": "`identity`", "schema": {"type": "string"}}}),
        "LegacyForbidden": _resp("The `Origin` is not allowed (CORS), or the caller's JWT does not allow this "
                                 "token (`{\"status\": 403, \"error\": ...}`, as these routes write errors).",
                                 "Error", (*c, "LegacyForbidden")),
    }


def _r(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


# Auth is optional (off unless configured): the empty requirement says so.
TOKEN_SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"apiKeyAuth": []}, {}]
GUARD_RESPONSES = {"401": _r("Unauthorized"), "429": _r("TooManyRequests")}

EXPIRY_QUERY = {
    "name": "expiry", "in": "query", "required": False,
    "description": ("Token lifetime in seconds. Missing -> 3600; `0` is passed through as 0 (like the original); "
                    "empty, negative, non-numeric or > 4294967295 -> 400; above `MAX_EXPIRE` (when one applies) "
                    "-> 400."),
    "schema": {"type": "integer", "minimum": 0, "maximum": U32_MAX},
    "example": 3600,
}

P_CHANNEL = _path_param("channelName", "Channel name (URL-encoded; at most 64 bytes).",
                        {"type": "string", "minLength": 1, "maxLength": 64})
P_ROLE = _path_param("role", "Exactly `publisher` -> publisher (privileges 1-4); anything else (e.g. `subscriber`) "
                     "-> subscriber.", {"type": "string", "minLength": 1})
P_TOKENTYPE = _path_param("tokenType", "`uid` (then `rtcuid` is a decimal uid) or `userAccount`; anything "
                          "else -> 400.", {"type": "string", "enum": ["uid", "userAccount"]})
P_RTCUID = _path_param("rtcuid", "Decimal uid 0..4294967295 for `uid`, any non-empty account for `userAccount`.",
                       {"type": "string", "minLength": 1, "maxLength": 255})
P_RTMUID = _path_param("rtmuid", "RTM user id (not empty, not `0`).",
                       {"type": "string", "minLength": 1, "maxLength": 255})


def _legacy_get(summary: str, description: str, params: list[dict[str, Any]], ok_schema: str,
                op_id: str) -> dict[str, Any]:
    return {"get": {
        "operationId": op_id,
        "tags": ["deprecated routes"],
        "summary": summary,
        "description": description,
        "deprecated": True,
        "security": TOKEN_SECURITY,
        "parameters": [*params, EXPIRY_QUERY],
        "responses": {
            "200": _resp("The token(s).", ok_schema, (op_id, "200")),
            "400": _resp("A bad parameter (`message`), a lifetime or channel against the policy (`message`), or "
                         "a token-building failure (`error`).", "LegacyError", (op_id, "400")),
            **GUARD_RESPONSES,
            "403": _r("LegacyForbidden"),
            "503": _r("Unavailable"),
        },
    }}


def _paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    origin = {"403": _r("OriginForbidden")}
    paths["/ping"] = {"get": {
        "operationId": "ping", "tags": ["health"], "summary": "Liveness check of the original service.",
        "responses": {"200": _resp("Alive.", "Pong", ("ping", "200")), **origin},
    }}
    paths["/healthz"] = {"get": {
        "operationId": "healthz", "tags": ["health"],
        "summary": "Health check for orchestrators (never authenticated, rate limited or shed).",
        "description": ("`200` while the process can serve tokens. `inflight`: token requests in progress in "
                        "this worker; `rate_limit_storage` (with a Redis `RATE_LIMIT_STORAGE`): `ok` or `error`; "
                        "`jwks` (with `AUTH_JWKS_URL`): `ok`, `stale` or `unavailable`."),
        "responses": {"200": _resp("Healthy.", "Health", ("healthz", "200")), **origin},
    }}
    readiness = {"200": _resp("Ready.", "Readiness", ("readyz", "200")),
                 "503": _resp("Not ready, and why.", "Readiness", ("readyz", "503"))}
    paths["/readyz"] = {"get": {
        "operationId": "readyz", "tags": ["health"], "responses": {**readiness, **origin},
        "summary": "Readiness check for load balancers (never authenticated, rate limited or shed).",
        "description": ("`200` while this replica can issue tokens; `503` while it shuts down (`stopping`: "
                        "from SIGTERM for `SHUTDOWN_DELAY`, still serving; `draining`) or cannot issue tokens "
                        "(`rate_limit_storage`: down with `RATE_LIMIT_ON_STORAGE_ERROR=deny`; `jwks`: no keys "
                        "from the identity provider). Take the replica out of rotation, do not restart it: "
                        "`/healthz` is the liveness check.")}}
    paths["/getToken"] = {"post": {
        "operationId": "getToken", "tags": ["tokens"],
        "summary": "Build an RTC, RTM or Chat token (current API).",
        "security": TOKEN_SECURITY,
        "requestBody": {"required": True, "content": {JSON: {
            "schema": _ref("GetTokenRequest"), "examples": _examples(("getToken", "request"))}}},
        "responses": {
            "200": _resp("The token.", "TokenResponse", ("getToken", "200")),
            "400": _resp("Invalid JSON, a missing or unsupported `tokenType`, a missing field, or a value out "
                         "of range / against the policy.", "Error", ("getToken", "400")),
            **GUARD_RESPONSES,
            "403": _resp("The `Origin` is not allowed (CORS), or the caller's JWT does not allow this token.",
                         "Error", ("getToken", "403")),
            "408": _r("RequestTimeout"),
            "413": _r("PayloadTooLarge"),
            "415": _r("UnsupportedEncoding"),
            "503": _r("Unavailable"),
        },
    }}
    code = ("generateToken",)
    paths["/token/generate"] = {"post": {
        "operationId": "generateToken", "tags": ["tokens"],
        "summary": "Build one token with any services, as Agora's reference token server.",
        "description": ("Agora's reference token server's route, answered as it answers it, with the production "
                        "settings applied as on every token route. Extensions: RTM2 with permissions, Streaming, "
                        "FCDN and the APaaS room user. JWT callers: `uid` (and `userUuid`) must equal `sub` as "
                        "written (`\"\"` and `\"0\"` only with `AUTH_JWT_ALLOW_ANY_UID` and `sub` `\"0\"`); "
                        "app-level tokens (Chat app, APaaS app, FPA) are refused; a subscriber-only JWT asking for "
                        "RTC role 1, Streaming or FCDN publish gets `403`; `channels` applies to `channelName`. "
                        "Every error answers `{\"code\": -1 | -2, \"message\", \"data\": \"\"}`."),
        "security": TOKEN_SECURITY,
        "requestBody": {"required": True, "content": {JSON: {
            "schema": _ref("GenerateTokenRequest"), "examples": _examples((*code, "request"))}}},
        "responses": {
            "200": _resp("The token.", "GenerateTokenResponse", (*code, "200")),
            "400": _resp("A body that is not a JSON object of the right shape (`code` -1), no service enabled or a "
                         "token that cannot be built (`code` -2), or a value against the policy (`code` -1).",
                         "CodeError", (*code, "400")),
            "401": _resp("Authentication is on and the request carries no valid API key or JWT.", "CodeError",
                         (*code, "401"), _WWW),
            "403": _resp("The `Origin` is not allowed (CORS), or the caller's JWT does not allow this token.",
                         "CodeError", (*code, "403")),
            "408": _resp("The request body did not arrive within `HTTP_BODY_TIMEOUT`.", "CodeError",
                         (*code, "408")),
            "413": _resp("Request body above 4096 bytes.", "CodeError", (*code, "413")),
            "429": _resp("Over the caller's `RATE_LIMIT`.", "CodeError", (*code, "429"), _RETRY),
            "503": _resp("Load shedding, the rate-limit storage down (deny mode) or the identity provider's keys "
                         "unreachable.", "CodeError", (*code, "503"), _RETRY),
        },
    }}
    rtc_desc = "RTC token for a channel; `{role}`/`{tokenType}` as in the original service."
    paths["/rtc/{channelName}/{role}/{tokenType}/{rtcuid}/"] = _legacy_get(
        "RTC token (deprecated route).", rtc_desc, [P_CHANNEL, P_ROLE, P_TOKENTYPE, P_RTCUID],
        "RtcTokenResponse", "getRtcToken")
    paths["/rtm/{rtmuid}/"] = _legacy_get(
        "RTM token (deprecated route).", "RTM login token for `{rtmuid}` (`0` or empty -> 400).",
        [P_RTMUID], "RtmTokenResponse", "getRtmToken")
    rte_desc = ("An RTC token and an RTM token. The RTM user is `{rtmuid}`, or `{rtcuid}` as written; its token "
                "carries the channel's stream service (privileges 1 and 4).")
    paths["/rte/{channelName}/{role}/{tokenType}/{rtcuid}/"] = _legacy_get(
        "RTC + RTM tokens (deprecated route).", rte_desc, [P_CHANNEL, P_ROLE, P_TOKENTYPE, P_RTCUID],
        "RteTokenResponse", "getRteToken")
    paths["/rte/{channelName}/{role}/{tokenType}/{rtcuid}/{rtmuid}/"] = _legacy_get(
        "RTC + RTM tokens with a separate RTM user (deprecated route).", rte_desc,
        [P_CHANNEL, P_ROLE, P_TOKENTYPE, P_RTCUID, P_RTMUID], "RteTokenResponse", "getRteTokenWithRtmUid")
    paths["/chat/app/"] = _legacy_get(
        "Chat app token (deprecated route).", "A Chat app (administrator) token.", [],
        "ChatTokenResponse", "getChatAppToken")
    paths["/chat/account/{chatid}/"] = _legacy_get(
        "Chat user token (deprecated route).", "A Chat user token for `{chatid}`.",
        [_path_param("chatid", "Chat user id.", {"type": "string", "minLength": 1, "maxLength": 255})],
        "ChatTokenResponse", "getChatUserToken")
    paths["/verifyToken"] = {"post": {
        "operationId": "verifyToken", "tags": ["tokens"],
        "summary": "Decode a token and check it against this server's app id and certificate.",
        "security": TOKEN_SECURITY,
        "requestBody": {"required": True, "content": {JSON: {
            "schema": _ref("VerifyTokenRequest"), "examples": _examples(("verifyToken", "request"))}}},
        "responses": {
            "200": _resp("What the token grants and whether it is valid here.", "VerifyTokenResponse",
                         ("verifyToken", "200")),
            "400": _resp("Invalid JSON, no `token`, or a malformed token.", "Error", ("verifyToken", "400")),
            **GUARD_RESPONSES,
            **origin,
            "408": _r("RequestTimeout"),
            "413": _r("PayloadTooLarge"),
            "415": _r("UnsupportedEncoding"),
            "503": _r("Unavailable"),
        },
    }}
    paths["/encryption"] = {"get": {
        "operationId": "encryption", "tags": ["tokens"],
        "summary": "Fresh random key material for Agora's built-in channel encryption (GCM2 modes).",
        "security": TOKEN_SECURITY,
        "responses": {
            "200": _resp("32 random bytes as hex (`secret`) and 32 as base64 (`salt`); never logged.",
                         "Encryption", ("encryption", "200")),
            **GUARD_RESPONSES,
            **origin,
            "503": _r("UnavailableGuard"),
        },
    }}
    paths["/metrics"] = {"get": {
        "operationId": "metrics", "tags": ["operations"],
        "summary": "Prometheus metrics (merged over all worker processes).",
        "description": ("With `METRICS_TOKEN` set, send `Authorization: Bearer <METRICS_TOKEN>` (here: authorize "
                        "`metricsToken`); a client address with 10 failed attempts within a minute gets `429`."),
        "security": [{"metricsToken": []}, {}],
        "responses": {
            "200": {"description": "Prometheus text exposition format.",
                    "content": {"text/plain": {"schema": {"type": "string"},
                                               "examples": _examples(("metrics", "200"))}}},
            "401": _resp("`METRICS_TOKEN` is set and the request does not carry it.", "Error", ("metrics", "401"),
                         _WWW),
            **origin,
            "429": _resp("Too many failed `METRICS_TOKEN` attempts from this client address.", "Error",
                         ("metrics", "429"), _RETRY),
        },
    }}
    paths["/openapi.json"] = {"get": {
        "operationId": "openapi", "tags": ["operations"], "summary": "This document (OpenAPI 3.1).",
        "responses": {"200": {"description": "The OpenAPI document.",
                              "content": {JSON: {"schema": {"type": "object", "required": ["openapi", "paths"]}}}},
                      **origin},
    }}
    paths["/docs"] = {"get": {
        "operationId": "docs", "tags": ["operations"],
        "summary": "This page: Swagger UI rendering /openapi.json (served by this service, nothing from outside).",
        "responses": {"200": {"description": "An HTML page.", "content": {"text/html": {"schema": {"type": "string"}}}},
                      **origin},
    }}
    paths["/docs/static/{name}"] = {"get": {
        "operationId": "docsStatic", "tags": ["operations"],
        "summary": "The files of the /docs page (Swagger UI's bundle and stylesheet, the page's initializer).",
        "parameters": [_path_param("name", "One of the page's files.",
                                   {"type": "string", "enum": ["swagger-ui-bundle.js", "swagger-ui.css",
                                                               "favicon-32x32.png", "docs.js", "docs.css"]})],
        "responses": {
            "200": {"description": "The file (gzip-encoded when the client accepts it).", "content": {
                "text/javascript": {"schema": {"type": "string"}},
                "text/css": {"schema": {"type": "string"}},
                "image/png": {"schema": {"type": "string", "contentMediaType": "image/png"}}}},
            "404": _resp("Not one of the page's files (or swagger-ui-py is not installed).", "Error",
                         ("docsStatic", "404")),
            **origin,
        },
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
        "paths": _paths(),
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


_cached: Optional[bytes] = None


def spec_bytes() -> bytes:
    """The document serialised once (it never changes while the process runs)."""
    global _cached
    if _cached is None:
        _cached = json.dumps(build_spec(), indent=1, ensure_ascii=False).encode("utf-8")
    return _cached


async def openapi_handler(request: Any) -> Any:
    """``GET /openapi.json``."""
    from .responses import json_bytes  # imported only when served: build_spec() needs no aiohttp

    return json_bytes(spec_bytes())
