"""Token policy: MAX_EXPIRE and CHANNEL_PATTERN (RE2: linear time, the 64-byte
channel limit checked first)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import pytest

from agora_token import InvalidParameterError, ServiceType
from agora_token_server.env import ConfigError
from agora_token_server.policy import (
    DEFAULT_MAX_EXPIRE,
    PolicySettings,
    ServiceGrant,
    TokenRequest,
    TokenSpec,
    check_channel,
    parse_policy_settings,
)
from agora_token_server.policy import check_policy as _check_policy
from agora_token_server.token_routes import chat_token, rtc_request, rtm_token
from tests.support.service import make_app


def check_policy(settings: PolicySettings, req: TokenRequest) -> Any:
    return _check_policy(settings, req, 3600)


def rtc(channel: str, expire: int) -> TokenRequest:
    return rtc_request("token", channel, 1, False, expire)


def rtm(expire: int) -> TokenRequest:
    return TokenRequest((rtm_token("token", "u", expire),))


def test_drop_in_mode_has_no_expire_cap() -> None:
    s = parse_policy_settings({})
    assert s == PolicySettings(max_expire=None, channel_pattern=None) == PolicySettings()
    assert check_policy(s, rtc("c", 4294967295)) is None


@pytest.mark.parametrize("variable, value", [
    ("AUTH_API_KEYS", "k" * 20), ("AUTH_JWT_SECRET", "s" * 40), ("RATE_LIMIT", "10/s"),
    ("CHANNEL_PATTERN", "room-.*"), ("AUTH_JWT_PUBLIC_KEY_FILE", "/x"), ("AUTH_API_KEYS_FILE", "/x"),
])
def test_production_mode_defaults_to_one_day(variable: str, value: str) -> None:
    assert parse_policy_settings({variable: value}).max_expire == DEFAULT_MAX_EXPIRE == 86400


@pytest.mark.parametrize("value, expected", [("60", 60), (" 3600 ", 3600), ("4294967295", 4294967295)])
def test_max_expire_values(value: str, expected: int) -> None:
    assert parse_policy_settings({"MAX_EXPIRE": value}).max_expire == expected


@pytest.mark.parametrize("value", ["0", "-1", "1h", "4294967296", "1.5", "١٢"])
def test_bad_max_expire(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_policy_settings({"MAX_EXPIRE": value})
    assert info.value.variable == "MAX_EXPIRE"


def test_channel_pattern_compiled_and_invalid_refused() -> None:
    s = parse_policy_settings({"CHANNEL_PATTERN": r"room-[0-9]+"})
    assert s.channel_pattern is not None and s.channel_pattern.pattern == r"room-[0-9]+"
    with pytest.raises(ConfigError) as info:
        parse_policy_settings({"CHANNEL_PATTERN": "room-[0-9"})
    assert info.value.variable == "CHANNEL_PATTERN" and "regular expression" in str(info.value)
    for unsupported in (r"(a)\1", r"room-(?=x)"):  # backreference, lookahead: not in RE2
        with pytest.raises(ConfigError, match="backreferences and lookaround"):
            parse_policy_settings({"CHANNEL_PATTERN": unsupported})
    with pytest.raises(ConfigError):
        parse_policy_settings({"CHANNEL_PATTERN": "a" * 5000})


def test_expire_limit() -> None:
    s = PolicySettings(max_expire=600)
    assert check_policy(s, rtc("c", 600)) is None
    assert check_policy(s, rtc("c", 0)) is None
    v = check_policy(s, rtc("c", 601))
    assert v is not None and v.status == 400 and "600" in v.message and "MAX_EXPIRE" in v.message
    v = check_policy(s, rtc("c", 3600))
    assert v is not None and "default" in v.message and "600" in v.message
    assert "default" not in check_policy(PolicySettings(86400), rtc("c", 90000)).message
    # every privilege's expire is checked too (/token/generate's privilegeExpireTs)
    req = TokenRequest((TokenSpec("token", 60, (ServiceGrant(ServiceType.RTC, {1: 601}, "c", "1"),)),))
    v = check_policy(s, req)
    assert v is not None and "601" in v.message


def test_default_policy_allows_24h_not_more() -> None:
    s = parse_policy_settings({"RATE_LIMIT": "5/s"})
    assert check_policy(s, rtm(86400)) is None
    assert check_policy(s, rtm(86401)) is not None


def test_channel_pattern_fullmatch() -> None:
    s = parse_policy_settings({"CHANNEL_PATTERN": r"room-[0-9]+"})
    assert check_policy(s, rtc("room-12", 60)) is None
    for bad in ("room-12x", "xroom-12", "room-", "lobby"):
        v = check_policy(s, rtc(bad, 60))
        assert v is not None and v.status == 400 and "CHANNEL_PATTERN" in v.message
    # no channel (chat, rtm without channel): nothing to check
    assert check_policy(s, TokenRequest((chat_token("token", "u", 60),))) is None


# --------------------------------------------------------------------------- adversarial patterns

@pytest.mark.parametrize("pattern", [r"([a-z0-9]+-?)*", r"(a+)+b", r"(a|aa)*c", r"([a-z]*)*$"])
def test_backtracking_prone_patterns_run_in_linear_time(pattern: str) -> None:
    """These took seconds to hours with Python's re (22.7 s for the first on 28
    characters); RE2 answers at once. The bound only catches a hang."""
    s = parse_policy_settings({"CHANNEL_PATTERN": pattern})
    start = time.monotonic()
    for n in (28, 40, 63):
        check_policy(s, rtc("a" * n + "!", 60))
    assert time.monotonic() - start < 2


@pytest.mark.parametrize("env", [{}, {"CHANNEL_PATTERN": r"([a-z0-9]+-?)*"}])
def test_overlong_channel_is_refused_before_the_pattern(env: dict[str, str]) -> None:
    """The one channel rule: Agora's 64 bytes first (the library's check and
    message), with or without a pattern, then the pattern."""
    s = parse_policy_settings(env)
    with pytest.raises(InvalidParameterError, match="channel_name is 5001 bytes long; at most 64"):
        check_policy(s, rtc("a" * 5000 + "!", 60))
    with pytest.raises(InvalidParameterError, match="lone surrogate"):
        check_policy(s, rtc("\ud800", 60))
    assert check_policy(s, rtc("a" * 64, 60)) is None
    with pytest.raises(InvalidParameterError):
        check_channel(s, "é" * 33)  # 66 bytes


async def test_pattern_applies_to_every_route(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app(CHANNEL_PATTERN=r"room-[0-9]+"))
    for path in ("/rtc//publisher/uid/1/", "/rtc/lobby/publisher/uid/1/", "/rte/lobby/publisher/uid/1/"):
        r = await client.get(path)
        assert r.status == 400 and "CHANNEL_PATTERN" in (await r.json())["message"], path
    r = await client.post("/getToken", json={"tokenType": "rtm", "uid": "u", "channel": "lobby"})
    assert r.status == 400 and "CHANNEL_PATTERN" in (await r.json())["error"]
    r = await client.get("/rtc/room-1/publisher/uid/1/")
    assert r.status == 200
    r = await client.get("/rtc/" + "a" * 65 + "/publisher/uid/1/")  # too long: the library's message
    assert r.status == 400 and "64" in (await r.json())["error"]


# --------------------------------------------------------------------------- one channel rule (issue 18, item 7)

KEY = "policy-api-key-" + "k" * 24
SECRET = "policy-jwt-secret-" + "s" * 32
LONG = "room-" + "1" * 3002  # 3,007 bytes, within the body limit


def _channel_routes(channel: str) -> list[tuple[str, str, Any]]:
    """Every token route, with ``channel`` in every place a channel goes into a token (sub / uid 42)."""
    quoted = quote(channel, safe="")
    return [
        ("POST", "/getToken", {"tokenType": "rtc", "channel": channel, "uid": "42", "role": "subscriber"}),
        ("POST", "/getToken", {"tokenType": "rtc", "channel": channel, "uid": "42", "role": "publisher"}),
        ("POST", "/getToken", {"tokenType": "rtm", "channel": channel, "uid": "42"}),
        ("GET", f"/rtc/{quoted}/subscriber/uid/42/", None),
        ("GET", f"/rtc/{quoted}/publisher/userAccount/42/", None),
        ("GET", f"/rte/{quoted}/subscriber/uid/42/", None),
        ("GET", f"/rte/{quoted}/subscriber/uid/42/42/", None),
        ("POST", "/token/generate", {"channelName": channel, "uid": "42", "serviceRtc": {"enable": True, "role": 2}}),
        ("POST", "/token/generate", {"channelName": channel, "uid": "42", "serviceRtc": {"enable": True, "role": 1}}),
        ("POST", "/token/generate", {"channelName": channel, "uid": "42",
                                     "serviceStreaming": {"enableRawStream": True}}),
        ("POST", "/token/generate", {"channelName": channel, "uid": "42", "serviceFcdn": {"enablePlay": True}}),
    ]


def _jwt(claims: dict[str, Any]) -> dict[str, str]:
    import jwt

    token = jwt.encode({"sub": "42", "exp": int(time.time()) + 600, **claims}, SECRET, algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("pattern", ["", r"room-[0-9]+"])
async def test_one_channel_rule_on_every_route_for_every_caller(aiohttp_client: Any, pattern: str) -> None:
    """A channel over 64 bytes gets no token by any route, for an API key, a
    JWT publisher or a JWT subscriber, with or without CHANNEL_PATTERN (the
    subscriber's RTM stream channel escaped the check before)."""
    client = await aiohttp_client(make_app(AUTH_API_KEYS=KEY, AUTH_JWT_SECRET=SECRET, CHANNEL_PATTERN=pattern))
    callers = {"api key": {"X-API-Key": KEY}, "jwt publisher": _jwt({}),
               "jwt subscriber": _jwt({"role": "subscriber"})}
    for caller, headers in callers.items():
        for channel, ok in ((LONG, False), ("room-1", True)):
            for method, path, body in _channel_routes(channel):
                if method == "POST":
                    r = await client.post(path, data=json.dumps(body), headers=headers)
                else:
                    r = await client.get(path, headers=headers)
                text = await r.text()
                shown = path + json.dumps(body)
                publishes = any(word in shown for word in ('"publisher"', "/publisher/", '"role": 1', "Stream"))
                if ok:
                    assert r.status == (403 if caller == "jwt subscriber" and publishes else 200), (caller, path, text)
                    continue
                assert r.status == 400 and '"007' not in text, (caller, path, body, text)
                assert "3007 bytes long; at most 64" in text, (caller, path, text)


def test_rtm2_write_is_a_publish_privilege() -> None:
    """A subscriber-only caller's optional publish rights are taken away
    (``for_subscriber``): RTM2 write permission with them, read kept."""
    perms = {0: {0: ["lobby"], 1: ["lobby"]}, 4: {1: ["bob"]}}
    grant = ServiceGrant(ServiceType.RTM2, {1: 60}, None, "u1", permissions=perms, publish_optional=True)
    assert grant.publishes
    reader = grant.without_publish()
    assert not reader.publishes and reader.permissions == {0: {0: ["lobby"]}}
    assert reader.privileges == {1: 60}
    req = TokenRequest((TokenSpec("token", 60, (grant,)),))
    assert req.for_subscriber().tokens[0].services == (reader,)
    assert not ServiceGrant(ServiceType.RTM2, {1: 60}, None, "u1", permissions={0: {1: []}}).publishes


def test_the_channels_claim_holds_channels_and_apaas_rooms() -> None:
    apaas = ServiceGrant(ServiceType.APAAS, {1: 60}, None, "u1", room="class-7", role=2)
    assert apaas.channels() == [] and apaas.claimed_places() == ["class-7"]
    assert ServiceGrant(ServiceType.APAAS, {1: 60}, None, "u1").claimed_places() == [""]  # no room: still held
    assert ServiceGrant(ServiceType.APAAS, {2: 60}, None, "u1").claimed_places() == []  # a user token: no room
    rtc = ServiceGrant(ServiceType.RTC, {1: 60}, "lobby", "1")
    assert rtc.claimed_places() == rtc.channels() == ["lobby"]
