"""The examples of the OpenAPI document (:mod:`server.openapi`), each with
the request that produces it.

Every example is an :class:`Example` in :data:`EXAMPLES`, which keeps the
request (:class:`Call`: method, path, body, headers, and the settings the
service runs with); the example's description in the document names that
request. ``tests/server/test_openapi_examples.py`` replays every one against
the real app and checks the status and the exact body (or, for an example
marked illustrative, such as a token, which differs on every call: the
status and the shape).

In a :class:`Call`, values in angle brackets stand for what a deployment has
and the test supplies: ``<api-key>`` (a key of ``AUTH_API_KEYS``),
``<jwt-secret>``, ``<jwt sub=alice>`` (a JWT with these claims, signed with
``<jwt-secret>``), ``<closed-port>`` (a port nothing listens on).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

from .auth import SUBSCRIBER_ONLY
from .responses import ENCODED_BODY

__all__ = ["Call", "EXAMPLES", "EXAMPLE_007", "Example", "PARAMETER_EXAMPLES", "SAMPLE_APP_ID", "VERIFY_OTHER",
           "VERIFY_SIGNED"]

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
GZIP = {"Content-Encoding": "gzip"}
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
                       _post("/getToken", RTC_BODY, env={"MAX_INFLIGHT": "1"},
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
    "gzip": _err("A gzip-encoded body", 415, ENCODED_BODY, _post("/getToken", RTC_BODY, headers=GZIP)),
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
    "uidRange": _gt("uid above 2^32 - 1", "uid must be in 0..4294967295, got 4294967296",
                    {"tokenType": "rtc", "channel": "test", "uid": "4294967296"}),
    "rtmUserZero": _gt("RTM user 0", "uid must be a user id other than 0 (for rtm tokens)",
                       {"tokenType": "rtm", "uid": "0"}),
    "expireType": _gt("expire as a string", "expire must be a whole number of seconds in 0..4294967295, got '3600'",
                      {"tokenType": "rtc", "channel": "test", "uid": "123", "expire": "3600"}),
    "channelTooLong": _gt("Channel over 64 bytes", "channel is 65 bytes long; at most 64 are allowed",
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
                                  SUBSCRIBER_ONLY,
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
    "outOfRange": _gen("An expiry out of range",
                       "tokenExpireTs must be a whole number of seconds in 0..4294967295, got -1",
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
                               SUBSCRIBER_ONLY, GEN_BODY,
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
_register(("generateToken", "415"), {
    "gzip": _code("A gzip-encoded body", 415, ENCODED_BODY, _post(GEN, GEN_BODY, headers=GZIP)),
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
                        _post(GEN, GEN_BODY, env={"MAX_INFLIGHT": "1"},
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
    "userZero": _legacy_err("RTM user 0", "Error Generating RTM token: rtmuid must be a user id other than 0 "
                            "(for rtm tokens)", _get("/rtm/0/")),
})
_register(("getRteToken", "400"), {
    "noRtmUser": _legacy_err("uid 0 and no rtmuid", "Error Generating RTE token: no RTM user: give rtmuid "
                             "(/rte/:channelName/:role/:tokenType/:rtcuid/:rtmuid/), or an rtcuid other than "
                             "empty or 0", _get("/rte/test/publisher/uid/0/")),
})
_register(("getRteTokenWithRtmUid", "400"), {
    "badExpiry": _legacy_err("A negative expiry", f"Error Generating RTE token: {_EXPIRY}-1",
                             _get("/rte/test/publisher/uid/123/alice/?expiry=-1")),
})
_register(("getChatAppToken", "400"), {
    "badExpiry": _legacy_err("expiry above 2^32 - 1", f"Error Generating Chat token: {_EXPIRY}4294967296",
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

