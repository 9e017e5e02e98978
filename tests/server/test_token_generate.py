"""``POST /token/generate`` (Agora's reference token server) against
``shared/spec/http-api.md``: every field, wrong types and boundaries, the
issued token's services byte for byte (parsed with ``agora_token.parse``),
the extensions, and every production setting (authentication, rate limit,
MAX_EXPIRE, the channel rule, the JWT rules for every service kind)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, Optional

import jwt
import pytest

from agora_token import ServiceType, parse, verify
from agora_token_server.state import STATE
from agora_token_server.testing import holding_token_requests
from tests.support.service import APP_CERTIFICATE, APP_ID, assert_no_cache, make_app

KEY = "generate-api-key-" + "k" * 24
SECRET = "generate-jwt-secret-" + "s" * 32
PATH = "/token/generate"
U32_MAX = 4294967295

#: every service the route issues, enabled in one request (uid / userUuid "u1")
EVERYTHING = {
    "channelName": "room-1", "uid": "u1", "tokenExpireTs": 600, "privilegeExpireTs": 300,
    "serviceRtc": {"enable": True, "role": 1},
    "serviceRtm": {"enable": True},
    "serviceFpa": {"enable": True},
    "serviceChat": {"enableUser": True, "enableApp": True, "userUuid": "u1"},
    "serviceApaas": {"enableUser": True, "enableApp": True, "enableRoomUser": True, "roomUuid": "class-9",
                     "role": 2, "userUuid": "u1"},
    "serviceRtm2": {"enable": True, "permissions": {"users": {"write": ["b", "a"], "read": []},
                                                    "messageChannels": {"read": ["m1"]}}},
    "serviceStreaming": {"enableMixStream": True, "enableRawStream": True},
    "serviceFcdn": {"enablePublish": True, "enablePlay": True},
}


def bearer(claims: dict[str, Any]) -> dict[str, str]:
    full = {"sub": "u1", "exp": int(time.time()) + 600, **claims}
    return {"Authorization": "Bearer " + jwt.encode({k: v for k, v in full.items() if v is not None}, SECRET,
                                                    algorithm="HS256")}


async def post(client: Any, body: Any, headers: Optional[dict[str, str]] = None, raw: Optional[bytes] = None) -> Any:
    data = raw if raw is not None else json.dumps(body)
    r = await client.post(PATH, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    return r.status, await r.json(), r


def token_of(answer: dict[str, Any]) -> Any:
    assert answer["code"] == 0 and answer["message"] == "Success", answer
    token = answer["data"]["token"]
    assert verify(token, APP_CERTIFICATE)
    t = parse(token)
    assert t.app_id == APP_ID and abs(t.issue_ts - time.time()) < 120
    return t


def services(t: Any) -> list[tuple[Any, ...]]:
    """(type, privileges, *fields) of every service, as packed (sorted by type, stable)."""
    return [(s.type, s.privileges, *(getattr(s, n) for n in s.field_names)) for s in t.services]


@pytest.fixture
def client(aiohttp_client: Any) -> Any:
    async def make(**env: str) -> Any:
        return await aiohttp_client(make_app(**env))
    return make


# --------------------------------------------------------------------------- the token

async def test_every_service_byte_for_byte(client: Any) -> None:
    c = await client()
    status, answer, resp = await post(c, EVERYTHING)
    assert status == 200 and set(answer) == {"code", "message", "data"} and set(answer["data"]) == {"token"}
    assert_no_cache(resp)
    t = token_of(answer)
    assert t.expire == 600
    assert services(t) == [
        (ServiceType.RTC, {1: 300, 2: 300, 3: 300, 4: 300}, "room-1", "u1"),
        (ServiceType.RTM, {1: 600}, "u1"),
        (ServiceType.STREAMING, {1: 300, 2: 300}, "room-1", "u1"),
        (ServiceType.FPA, {1: 0}),
        (ServiceType.CHAT, {1: 600}, "u1"),
        (ServiceType.CHAT, {2: 600}, ""),
        (ServiceType.FCDN, {1: 300, 2: 300}, "room-1", "u1"),
        (ServiceType.APAAS, {2: 600}, "", "u1", -1),
        (ServiceType.APAAS, {3: 600}, "", "", -1),
        (ServiceType.APAAS, {1: 600}, "class-9", "u1", 2),
        (ServiceType.RTM2, {1: 600}, "u1", {4: {1: ["b", "a"], 0: []}, 0: {0: ["m1"]}}),
    ]


@pytest.mark.parametrize("role, publisher", [(1, True), (2, False), (0, False), (101, False), (-1, False),
                                             (None, False), (2**63 - 1, False)])
async def test_rtc_role_1_publishes_any_other_joins(client: Any, role: Any, publisher: bool) -> None:
    c = await client()
    status, answer, _ = await post(c, {"channelName": "c", "uid": "7", "privilegeExpireTs": 60,
                                       "serviceRtc": {"enable": True, "role": role}})
    assert status == 200, answer
    [svc] = services(token_of(answer))
    assert svc == (ServiceType.RTC, {p: 60 for p in ((1, 2, 3, 4) if publisher else (1,))}, "c", "7")


@pytest.mark.parametrize("uid", ["0", "007", "", "alice", " 5", "4294967296"])
async def test_uid_goes_into_the_token_as_sent(client: Any, uid: str) -> None:
    c = await client()
    status, answer, _ = await post(c, {"uid": uid, "serviceRtc": {"enable": True}, "serviceRtm": {"enable": True}})
    assert status == 200
    t = token_of(answer)
    assert t.expire == 0  # absent tokenExpireTs: 0, as the reference
    assert services(t) == [(ServiceType.RTC, {1: 0}, "", uid), (ServiceType.RTM, {1: 0}, uid)]


async def test_expiry_boundaries(client: Any) -> None:
    c = await client()
    status, answer, _ = await post(c, {"uid": "u", "tokenExpireTs": U32_MAX, "privilegeExpireTs": U32_MAX,
                                       "serviceRtc": {"enable": True}})
    assert status == 200
    t = token_of(answer)
    assert t.expire == U32_MAX and t.services[0].privileges == {1: U32_MAX}


async def test_service_education_is_another_name_for_apaas(client: Any) -> None:
    c = await client()
    section = {"enableUser": True, "enableApp": True, "userUuid": "u1"}
    _, a, _ = await post(c, {"tokenExpireTs": 60, "serviceApaas": section})
    _, b, _ = await post(c, {"tokenExpireTs": 60, "serviceEducation": section})
    assert services(token_of(a)) == services(token_of(b)) == [
        (ServiceType.APAAS, {2: 60}, "", "u1", -1), (ServiceType.APAAS, {3: 60}, "", "", -1)]


async def test_nulls_unknown_fields_and_content_type(client: Any) -> None:
    """null is an absent field (Go's decoder); unknown fields are ignored; the
    Content-Type is not checked."""
    c = await client()
    body = {"channelName": None, "uid": None, "tokenExpireTs": None, "serviceRtm": None, "serviceFpa": {"enable": True},
            "serviceChat": {"enableUser": None, "userUuid": None}, "extra": [1, {"x": None}], "serviceNew": 5}
    r = await c.post(PATH, data=json.dumps(body), headers={"Content-Type": "text/plain"})
    assert r.status == 200
    assert services(token_of(await r.json())) == [(ServiceType.FPA, {1: 0})]


async def test_rtm2_permissions(client: Any) -> None:
    c = await client()
    perms = {"messageChannels": {"read": ["a"], "write": []}, "streamChannels": {"write": ["s"]},
             "groupChannels": {"read": ["g"]}, "serverGroups": {"read": ["x", "x"]}, "users": None}
    _, answer, _ = await post(c, {"uid": "u", "tokenExpireTs": 9,
                                  "serviceRtm2": {"enable": True, "permissions": perms}})
    assert services(token_of(answer)) == [(ServiceType.RTM2, {1: 9}, "u",
                                           {0: {0: ["a"], 1: []}, 1: {1: ["s"]}, 2: {0: ["g"]}, 3: {0: ["x", "x"]}})]
    _, answer, _ = await post(c, {"uid": "u", "serviceRtm2": {"enable": True}})
    assert services(token_of(answer)) == [(ServiceType.RTM2, {1: 0}, "u", {})]


@pytest.mark.parametrize("section, privileges", [
    ({"serviceStreaming": {"enableMixStream": True}}, (ServiceType.STREAMING, {1: 5})),
    ({"serviceStreaming": {"enableRawStream": True}}, (ServiceType.STREAMING, {2: 5})),
    ({"serviceFcdn": {"enablePublish": True}}, (ServiceType.FCDN, {1: 5})),
    ({"serviceFcdn": {"enablePlay": True}}, (ServiceType.FCDN, {2: 5})),
])
async def test_streaming_and_fcdn(client: Any, section: dict[str, Any], privileges: tuple[Any, ...]) -> None:
    c = await client()
    _, answer, _ = await post(c, {"channelName": "ch", "uid": "u", "privilegeExpireTs": 5, **section})
    assert services(token_of(answer)) == [(*privileges, "ch", "u")]


# --------------------------------------------------------------------------- the request's errors

@pytest.mark.parametrize("raw, code, fragment", [
    (b"", -1, "must be a JSON object"),
    (b"  \n", -1, "must be a JSON object"),
    (b"{", -1, "not valid JSON"),
    (b"\xff\xfe{}", -1, "not valid JSON"),
    (b"[" * 3000, -1, "not valid JSON"),
    (b"[]", -1, "not an array"),
    (b'"x"', -1, "not a string"),
    (b"5", -1, "not an integer"),
    (b"true", -1, "not a boolean"),
    (b"null", -2, "no service added"),
    (b"{}", -2, "no service added"),
    (b'{"serviceRtc": {"enable": false}, "serviceChat": {}, "serviceFcdn": {"enablePlay": false}}', -2,
     "no service added"),
])
async def test_body_errors(client: Any, raw: bytes, code: int, fragment: str) -> None:
    c = await client()
    status, answer, resp = await post(c, None, raw=raw)
    assert status == 400 and answer["code"] == code and answer["data"] == "", answer
    assert fragment in answer["message"]
    assert_no_cache(resp)


RTC_ON = {"serviceRtc": {"enable": True}}


@pytest.mark.parametrize("body, fragment", [
    ({"uid": 5, **RTC_ON}, "uid must be a string, not an integer"),
    ({"uid": True, **RTC_ON}, "uid must be a string, not a boolean"),
    ({"uid": ["u"], **RTC_ON}, "uid must be a string, not an array"),
    ({"channelName": 5, **RTC_ON}, "channelName must be a string"),
    ({"channelName": {}, **RTC_ON}, "channelName must be a string, not an object"),
    *[({field: value, **RTC_ON}, f"{field} must be a whole number of seconds in 0..4294967295, got ")
      for field in ("tokenExpireTs", "privilegeExpireTs")
      for value in (-1, U32_MAX + 1, 10**30, 1.5, 3600.0, 1e3, "3600", True, [1])],
    ({"serviceRtc": True}, "serviceRtc must be an object"),
    ({"serviceRtc": []}, "serviceRtc must be an object"),
    ({"serviceRtc": {"enable": "true"}}, "serviceRtc.enable must be true or false"),
    ({"serviceRtc": {"enable": 1}}, "serviceRtc.enable must be true or false"),
    ({"serviceRtc": {"enable": True, "role": "1"}}, "serviceRtc.role must be an integer"),
    ({"serviceRtc": {"enable": True, "role": 1.0}}, "serviceRtc.role must be an integer"),
    ({"serviceRtc": {"enable": True, "role": 2**63}}, "serviceRtc.role must be an integer"),
    ({"serviceRtc": {"enable": False, "role": "x"}}, "serviceRtc.role"),  # checked even when disabled
    ({"serviceRtm": {"enable": "yes"}}, "serviceRtm.enable"),
    ({"serviceFpa": {"enable": 0}}, "serviceFpa.enable"),
    ({"serviceChat": {"enableUser": True, "userUuid": 5}}, "serviceChat.userUuid must be a string"),
    ({"serviceChat": {"enableApp": "true"}}, "serviceChat.enableApp"),
    ({"serviceApaas": {"enableUser": True, "userUuid": False}}, "serviceApaas.userUuid must be a string"),
    ({"serviceEducation": {"enableApp": 1}}, "serviceEducation.enableApp"),
    ({"serviceApaas": {"enableApp": True}, "serviceEducation": {"enableApp": True}}, "not both"),
    ({"serviceApaas": {"enableRoomUser": True, "role": 32768}},
     "serviceApaas.role must be an integer in -32768..32767"),
    ({"serviceApaas": {"enableRoomUser": True, "roomUuid": 1}}, "serviceApaas.roomUuid must be a string"),
    ({"serviceRtm2": {"enable": True, "permissions": []}}, "serviceRtm2.permissions must be an object"),
    ({"serviceRtm2": {"enable": True, "permissions": {"channels": {}}}}, "unknown resource type 'channels'"),
    ({"serviceRtm2": {"enable": True, "permissions": {"users": {"admin": []}}}}, "unknown permission 'admin'"),
    ({"serviceRtm2": {"enable": True, "permissions": {"users": {"read": "a"}}}}, "must be an array of strings"),
    ({"serviceRtm2": {"enable": True, "permissions": {"users": {"read": [1]}}}}, "must be an array of strings"),
    ({"serviceRtm2": {"enable": True, "permissions": {"users": []}}}, "permissions.users must be an object"),
    ({"serviceStreaming": {"enableMixStream": "on"}}, "serviceStreaming.enableMixStream"),
    ({"serviceFcdn": {"enablePlay": 1}}, "serviceFcdn.enablePlay"),
])
async def test_wrong_types_and_ranges_are_code_minus_1(client: Any, body: dict[str, Any], fragment: str) -> None:
    c = await client()
    status, answer, _ = await post(c, body)
    assert status == 400 and answer["code"] == -1 and answer["data"] == "", answer
    assert fragment in answer["message"], answer["message"]


async def test_a_token_that_cannot_be_built_is_code_minus_2(client: Any) -> None:
    c = await client()
    status, answer, _ = await post(c, None, raw=b'{"uid": "\\ud800", "serviceRtm": {"enable": true}}')
    assert status == 400 and answer["code"] == -2 and "cannot be built" in answer["message"], answer


async def test_other_methods_and_the_slash(client: Any) -> None:
    c = await client()
    r = await c.get(PATH)
    assert r.status == 405
    r = await c.post(PATH + "/", data="{}", allow_redirects=False)
    assert r.status == 307 and r.headers["Location"] == PATH


def test_route_is_guarded_sheddable_and_code_shaped() -> None:
    from agora_token_server.routes import ROUTES

    assert [(r.guarded, r.sheddable, r.error_shape) for r in ROUTES
            if (r.method, r.path) == ("POST", PATH)] == [(True, True, "code")]


# --------------------------------------------------------------------------- production settings

async def test_max_expire_applies_to_both_fields(client: Any) -> None:
    c = await client(MAX_EXPIRE="600")
    for body in ({"tokenExpireTs": 601}, {"privilegeExpireTs": 601}):
        status, answer, _ = await post(c, {"uid": "u", **RTC_ON, **body})
        assert status == 400 and answer["code"] == -1 and "MAX_EXPIRE" in answer["message"], answer
    for body in ({"tokenExpireTs": 600, "privilegeExpireTs": 600}, {}, {"tokenExpireTs": 0}):
        status, answer, _ = await post(c, {"uid": "u", **RTC_ON, **body})
        assert status == 200, answer  # 0 is within MAX_EXPIRE


@pytest.mark.parametrize("section", [RTC_ON, {"serviceStreaming": {"enableRawStream": True}},
                                     {"serviceFcdn": {"enablePlay": True}}])
async def test_channel_rule(client: Any, section: dict[str, Any]) -> None:
    c = await client(CHANNEL_PATTERN="room-[0-9]+")
    status, answer, _ = await post(c, {"channelName": "lobby", "uid": "u", **section})
    assert status == 400 and answer["code"] == -1 and "CHANNEL_PATTERN" in answer["message"]
    status, answer, _ = await post(c, {"channelName": "room-" + "1" * 60, "uid": "u", **section})
    assert status == 400 and answer["code"] == -1 and "at most 64" in answer["message"]
    status, answer, _ = await post(c, {"channelName": "room-1", "uid": "u", **section})
    assert status == 200
    # channelName goes into no token: nothing to check (the reference ignores it)
    status, answer, _ = await post(c, {"channelName": "lobby", "uid": "u", "serviceRtm": {"enable": True}})
    assert status == 200


@pytest.mark.parametrize("resource_type", ["messageChannels", "streamChannels", "groupChannels"])
async def test_rtm2_channel_resources_follow_the_channel_rule(client: Any, resource_type: str) -> None:
    """Review finding: RTM2's channel resources went into the token unchecked
    (a subscriber JWT limited to room-1 got write on "*" and a 200-byte name)."""
    c = await client(CHANNEL_PATTERN="room-[0-9]+", AUTH_JWT_SECRET=SECRET)
    sub = bearer({"role": "subscriber", "channels": ["room-1"]})

    def ask(*names: str) -> dict[str, Any]:
        return {"uid": "u1", "serviceRtm2": {"enable": True, "permissions": {resource_type: {"write": list(names)}}}}

    status, answer, _ = await post(c, ask("room-1"), sub)
    assert status == 403 and "RTM2 write" in answer["message"], answer  # a subscriber writes nowhere
    sub = bearer({"channels": ["room-1"]})
    status, answer, _ = await post(c, ask("room-1"), sub)
    assert status == 200, answer
    for names, status_wanted, fragment in ((("*",), 400, "CHANNEL_PATTERN"), (("room-1", "x" * 200), 400, "at most 64"),
                                           (("room-2",), 403, "channels")):
        status, answer, _ = await post(c, ask(*names), sub)
        assert status == status_wanted and answer["code"] == -1 and fragment in answer["message"], (names, answer)
    # users and server groups are not channels: the channel rule does not apply to them
    body = {"uid": "u1", "serviceRtm2": {"enable": True, "permissions": {"users": {"read": ["bob"]}}}}
    assert (await post(c, body, sub))[0] == 200


async def test_api_key_required_and_error_shape(client: Any) -> None:
    """The pipeline's 401 in this route's shape (needs the pipeline to render
    its errors with RouteInfo.error_shape)."""
    c = await client(AUTH_API_KEYS=KEY)
    status, answer, resp = await post(c, EVERYTHING)
    assert status == 401 and resp.headers["WWW-Authenticate"] == "Bearer"
    assert answer["code"] == -1 and answer["data"] == "" and "authentication required" in answer["message"]
    status, answer, _ = await post(c, EVERYTHING, {"X-API-Key": KEY})
    assert status == 200 and len(token_of(answer).services) == 11


async def test_rate_limit_error_shape(client: Any) -> None:
    c = await client(RATE_LIMIT="1/min")
    assert (await post(c, RTC_ON))[0] == 200
    status, answer, resp = await post(c, RTC_ON)
    assert status == 429 and int(resp.headers["Retry-After"]) >= 1
    assert answer == {"code": -1, "message": answer["message"], "data": ""} and "rate limit" in answer["message"]


async def test_shed_with_this_routes_shape(aiohttp_client: Any, tmp_path: Path) -> None:
    hold = tmp_path / "hold"
    hold.touch()
    with holding_token_requests(hold):
        app = make_app(MAX_INFLIGHT="1")
    c = await aiohttp_client(app)
    held = asyncio.ensure_future(post(c, RTC_ON))
    try:
        for _ in range(500):
            if app[STATE].inflight >= 1:
                break
            await asyncio.sleep(0.01)
        status, answer, resp = await post(c, RTC_ON)
        assert status == 503 and resp.headers["Retry-After"] == "1"
        assert answer["code"] == -1 and answer["data"] == "" and "overloaded" in answer["message"]
    finally:
        hold.unlink()
    assert (await asyncio.wait_for(held, 30))[0] == 200


# --------------------------------------------------------------------------- JWT callers: every service kind

#: one request per service kind, each for the caller's own identity ("u1")
KINDS: dict[str, dict[str, Any]] = {
    "rtc-subscriber": {"serviceRtc": {"enable": True, "role": 2}},
    "rtc-publisher": {"serviceRtc": {"enable": True, "role": 1}},
    "rtm": {"serviceRtm": {"enable": True}},
    "rtm2": {"serviceRtm2": {"enable": True, "permissions": {"users": {"write": ["u2"]}}}},
    "rtm2-read": {"serviceRtm2": {"enable": True, "permissions": {"messageChannels": {"read": ["room-1"]},
                                                                  "users": {"read": ["u2"]}}}},
    "streaming": {"serviceStreaming": {"enableMixStream": True}},
    "fcdn-play": {"serviceFcdn": {"enablePlay": True}},
    "fcdn-publish": {"serviceFcdn": {"enablePublish": True}},
    "fpa": {"serviceFpa": {"enable": True}},
    "chat-user": {"serviceChat": {"enableUser": True, "userUuid": "u1"}},
    "chat-app": {"serviceChat": {"enableApp": True}},
    "apaas-user": {"serviceApaas": {"enableUser": True, "userUuid": "u1"}},
    "apaas-room-user": {"serviceApaas": {"enableRoomUser": True, "roomUuid": "r", "role": 1, "userUuid": "u1"}},
    "apaas-app": {"serviceApaas": {"enableApp": True}},
}
APP_LEVEL = {"fpa", "chat-app", "apaas-app"}
PUBLISHING = {"rtc-publisher", "streaming", "fcdn-publish", "rtm2"}  # rtm2: write to a user
WITH_CHANNEL = {"rtc-subscriber", "rtc-publisher", "streaming", "fcdn-play", "fcdn-publish"}
CALLERS = {
    "api-key": {"X-API-Key": KEY},
    "jwt-publisher": None,  # a JWT for sub "u1" with no role claim
    "jwt-subscriber": {"role": "subscriber"},
    "jwt-channels": {"channels": ["room-*"]},
}


def expected(caller: str, kind: str, channel: str) -> int:
    if caller == "api-key":
        return 200
    if kind in APP_LEVEL:
        return 403
    if caller == "jwt-subscriber" and kind in PUBLISHING:
        return 403
    if caller == "jwt-channels" and kind in WITH_CHANNEL and not channel.startswith("room-"):
        return 403
    if caller == "jwt-channels" and kind == "apaas-room-user":  # room "r" is outside room-*
        return 403
    return 200


@pytest.mark.parametrize("kind", KINDS)
async def test_policy_matrix(client: Any, kind: str) -> None:
    c = await client(AUTH_API_KEYS=KEY, AUTH_JWT_SECRET=SECRET)
    for caller, claims in CALLERS.items():
        headers = claims if caller == "api-key" else bearer(claims or {})
        for channel in ("room-1", "lobby"):
            status, answer, _ = await post(c, {"channelName": channel, "uid": "u1", "tokenExpireTs": 60,
                                               **KINDS[kind]}, headers)
            assert status == expected(caller, kind, channel), (caller, kind, channel, answer)
            if status == 200:
                assert token_of(answer).services
            else:
                assert answer["code"] == -1 and answer["data"] == ""
        # another identity than the JWT's sub: refused unless the token is for no user
        other = json.loads(json.dumps(KINDS[kind]).replace('"u1"', '"u2"'))
        status, _, _ = await post(c, {"channelName": "room-1", "uid": "u2", "tokenExpireTs": 60, **other}, headers)
        assert status == (200 if caller == "api-key" else 403), (caller, kind)


@pytest.mark.parametrize("uid, sub, allow, status", [
    ("7", "7", False, 200), ("007", "7", False, 403), ("7", "007", False, 403), ("007", "007", False, 200),
    ("0", "0", False, 403), ("", "0", False, 403), ("0", "alice", True, 403),
    ("0", "0", True, 200), ("", "0", True, 200),
])
async def test_jwt_uid_as_sent(client: Any, uid: str, sub: str, allow: bool, status: int) -> None:
    env = {"AUTH_JWT_SECRET": SECRET, **({"AUTH_JWT_ALLOW_ANY_UID": "1"} if allow else {})}
    c = await client(**env)
    for kind in ("rtc-subscriber", "rtm", "rtm2", "streaming", "fcdn-play"):
        got, answer, _ = await post(c, {"channelName": "c", "uid": uid, **KINDS[kind]}, bearer({"sub": sub}))
        assert got == status, (kind, answer)


async def test_the_channels_claim_holds_apaas_rooms(client: Any) -> None:
    """Review finding: an APaaS room-user token went to a JWT caller for any
    room, whatever its ``channels`` claim said."""
    c = await client(AUTH_JWT_SECRET=SECRET)
    caller = bearer({"channels": ["room-*"]})

    def room(name: str) -> dict[str, Any]:
        return {"uid": "u1", "serviceApaas": {"enableRoomUser": True, "roomUuid": name, "role": 2, "userUuid": "u1"}}

    status, answer, _ = await post(c, room("room-7"), caller)
    assert status == 200 and token_of(answer).services, answer
    status, answer, _ = await post(c, room("staff-meeting"), caller)
    assert status == 403 and "'channels' claim" in answer["message"] and answer["code"] == -1, answer
    for body in (room(""), {"uid": "u1", "serviceApaas": {"enableRoomUser": True, "role": 2, "userUuid": "u1"}}):
        status, answer, _ = await post(c, body, caller)  # no room is no way around the claim
        assert status == 403 and "'channels' claim" in answer["message"], answer
    # without the claim, any room (the claims restrict, they do not grant)
    assert (await post(c, room("staff-meeting"), bearer({})))[0] == 200


@pytest.mark.parametrize("resource_type", ["messageChannels", "streamChannels", "groupChannels", "serverGroups",
                                           "users"])
async def test_a_subscriber_jwt_gets_no_rtm2_write(client: Any, resource_type: str) -> None:
    """Review finding: a ``role: subscriber`` JWT got RTM2 write permission
    (sending to channels and users), a publish privilege in all but name."""
    c = await client(AUTH_JWT_SECRET=SECRET)
    sub = bearer({"role": "subscriber"})

    def ask(permission: str) -> dict[str, Any]:
        return {"uid": "u1", "serviceRtm2": {"enable": True,
                                             "permissions": {resource_type: {permission: ["room-1"]}}}}

    status, answer, _ = await post(c, ask("write"), sub)
    assert status == 403 and "RTM2 write" in answer["message"] and answer["code"] == -1, answer
    status, answer, _ = await post(c, ask("read"), sub)
    assert status == 200, answer
    status, answer, _ = await post(c, {"uid": "u1", "serviceRtm2": {"enable": True, "permissions": {
        resource_type: {"read": ["room-1"], "write": []}}}}, sub)
    assert status == 200, answer  # an empty write list grants nothing
    assert (await post(c, ask("write"), bearer({})))[0] == 200  # a publisher JWT may write


async def test_subscriber_gets_no_silent_downgrade(client: Any) -> None:
    c = await client(AUTH_JWT_SECRET=SECRET)
    status, answer, _ = await post(c, {"channelName": "c", "uid": "u1", **KINDS["rtc-publisher"]},
                                   bearer({"role": "subscriber"}))
    assert status == 403 and "subscriber" in answer["message"] and answer["code"] == -1


# --------------------------------------------------------------------------- /verifyToken describes every kind

async def test_verify_token_describes_every_service_kind(client: Any) -> None:
    c = await client()
    _, answer, _ = await post(c, EVERYTHING)
    r = await c.post("/verifyToken", json={"token": answer["data"]["token"]})
    body = await r.json()
    assert r.status == 200 and body["valid"] is True
    shown = [{k: v for k, v in s.items() if k != "privileges"} | {"privileges": sorted(s["privileges"])}
             for s in body["services"]]
    assert shown == [
        {"type": "rtc", "channel": "room-1", "uid": "u1",
         "privileges": ["joinChannel", "publishAudioStream", "publishDataStream", "publishVideoStream"]},
        {"type": "rtm", "userId": "u1", "privileges": ["login"]},
        {"type": "streaming", "channel": "room-1", "account": "u1",
         "privileges": ["publishMixStream", "publishRawStream"]},
        {"type": "fpa", "privileges": ["login"]},
        {"type": "chat", "userId": "u1", "privileges": ["user"]},
        {"type": "chat", "userId": "", "privileges": ["app"]},
        {"type": "fcdn", "channel": "room-1", "account": "u1", "privileges": ["play", "publish"]},
        {"type": "apaas", "roomUuid": "", "userUuid": "u1", "role": -1, "privileges": ["user"]},
        {"type": "apaas", "roomUuid": "", "userUuid": "", "role": -1, "privileges": ["app"]},
        {"type": "apaas", "roomUuid": "class-9", "userUuid": "u1", "role": 2, "privileges": ["roomUser"]},
        {"type": "rtm2", "userId": "u1", "permissions": {"users": {"write": ["b", "a"], "read": []},
                                                         "messageChannels": {"read": ["m1"]}},
         "privileges": ["login"]},
    ]
