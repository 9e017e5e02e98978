"""Unit tests for server.policy: MAX_EXPIRE, CHANNEL_PATTERN and the
extraction of what a token request asks for."""

from __future__ import annotations

import pytest

from server.policy import (
    DEFAULT_MAX_EXPIRE,
    ConfigError,
    PolicySettings,
    TokenRequest,
    check_policy,
    parse_policy_settings,
    token_request_from_body,
    token_request_from_route,
)


def test_defaults() -> None:
    s = parse_policy_settings({})
    assert s == PolicySettings(max_expire=DEFAULT_MAX_EXPIRE, channel_pattern=None)
    assert s.max_expire == 86400


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
    with pytest.raises(ConfigError):
        parse_policy_settings({"CHANNEL_PATTERN": "a" * 5000})


def test_expire_limit() -> None:
    s = PolicySettings(max_expire=600)
    assert check_policy(s, TokenRequest("rtc", "c", 1, (), False, 600)) is None
    assert check_policy(s, TokenRequest("rtc", "c", 1, (), False, 0)) is None
    v = check_policy(s, TokenRequest("rtc", "c", 1, (), False, 601))
    assert v is not None and v.status == 400 and "600" in v.message and "MAX_EXPIRE" in v.message
    v = check_policy(s, TokenRequest("rtc", "c", 1, (), False, 3600, expire_defaulted=True))
    assert v is not None and "default" in v.message and "600" in v.message
    # unknown expire (the handler rejects it) is not the policy's business
    assert check_policy(s, TokenRequest("rtc", "c", 1, (), False, None)) is None


def test_default_policy_allows_24h_not_more() -> None:
    s = PolicySettings()
    assert check_policy(s, TokenRequest("rtm", None, None, ("u",), False, 86400)) is None
    assert check_policy(s, TokenRequest("rtm", None, None, ("u",), False, 86401)) is not None


def test_channel_pattern_fullmatch() -> None:
    s = parse_policy_settings({"CHANNEL_PATTERN": r"room-[0-9]+"})
    assert check_policy(s, TokenRequest("rtc", "room-12", 1, (), False, 60)) is None
    for bad in ("room-12x", "xroom-12", "room-", "lobby"):
        v = check_policy(s, TokenRequest("rtc", bad, 1, (), False, 60))
        assert v is not None and v.status == 400 and "CHANNEL_PATTERN" in v.message
    # no channel (chat, rtm without channel): nothing to check
    assert check_policy(s, TokenRequest("chat", None, None, ("u",), False, 60)) is None


# --------------------------------------------------------------------------- extraction

@pytest.mark.parametrize("body, expected", [
    ({"tokenType": "rtc", "channel": "c", "uid": "007", "role": "publisher"},
     TokenRequest("rtc", "c", 7, (), True, 3600, True)),
    ({"tokenType": "rtc", "channel": "c", "uid": 42, "role": "Publisher", "expire": 60},
     TokenRequest("rtc", "c", 42, (), False, 60, False)),
    ({"tokenType": "rtc", "channel": "c", "uid": "alice", "expire": 0},
     TokenRequest("rtc", "c", "alice", (), False, 3600, True)),
    ({"tokenType": "rtc", "channel": "c", "uid": " 5"}, TokenRequest("rtc", "c", " 5", (), False, 3600, True)),
    ({"tokenType": "rtc", "channel": "c", "uid": "0"}, TokenRequest("rtc", "c", 0, (), False, 3600, True)),
    ({"tokenType": "rtm", "uid": "bob", "channel": "*"}, TokenRequest("rtm", "*", None, ("bob",), False, 3600, True)),
    ({"tokenType": "rtm", "uid": "bob", "channel": ""}, TokenRequest("rtm", None, None, ("bob",), False, 3600, True)),
    ({"tokenType": "chat", "uid": "carol"}, TokenRequest("chat", None, None, ("carol",), False, 3600, True)),
    ({"tokenType": "chat"}, TokenRequest("chat_app", None, None, (), False, 3600, True)),
    ({"tokenType": "rtc", "channel": "c", "uid": "1", "expire": "60"},
     TokenRequest("rtc", "c", 1, (), False, None, False)),
])
def test_from_body(body: dict, expected: TokenRequest) -> None:
    assert token_request_from_body(body) == expected


@pytest.mark.parametrize("body", [
    None, [], "x", {}, {"tokenType": "fpa"}, {"tokenType": "rtc", "channel": "c"},
    {"tokenType": "rtc", "channel": "c", "uid": "4294967296"},
    {"tokenType": "rtc", "channel": "c", "uid": 1.5}, {"tokenType": "rtc", "channel": "c", "uid": True},
    {"tokenType": "rtc", "channel": 5, "uid": "1"}, {"tokenType": "rtm"},
])
def test_from_body_uninterpretable(body: object) -> None:
    assert token_request_from_body(body) is None


@pytest.mark.parametrize("kind, info, query, expected", [
    ("rtc", {"channelName": "c", "role": "publisher", "tokenType": "uid", "rtcuid": "007"}, {},
     TokenRequest("rtc", "c", 7, (), True, 3600, True)),
    ("rtc", {"channelName": "c", "role": "sub", "tokenType": "uid", "rtcuid": ""}, {"expiry": "0"},
     TokenRequest("rtc", "c", 0, (), False, 0, False)),
    ("rtc", {"channelName": "c", "role": "sub", "tokenType": "userAccount", "rtcuid": "al"}, {"expiry": "90"},
     TokenRequest("rtc", "c", "al", (), False, 90, False)),
    ("rte", {"channelName": "c", "role": "publisher", "tokenType": "uid", "rtcuid": "007"}, {},
     TokenRequest("rte", "c", 7, ("007",), True, 3600, True)),
    ("rte", {"channelName": "c", "role": "publisher", "tokenType": "uid", "rtcuid": "7", "rtmuid": "bob"}, {},
     TokenRequest("rte", "c", 7, ("bob",), True, 3600, True)),
    ("rtm", {"rtmuid": "bob"}, {"expiry": "x"}, TokenRequest("rtm", None, None, ("bob",), False, None, False)),
    ("chat", {"chatid": "carol"}, {}, TokenRequest("chat", None, None, ("carol",), False, 3600, True)),
    ("chat_app", {}, {}, TokenRequest("chat_app", None, None, (), False, 3600, True)),
])
def test_from_route(kind: str, info: dict, query: dict, expected: TokenRequest) -> None:
    assert token_request_from_route(kind, info, query) == expected


@pytest.mark.parametrize("kind, info", [
    ("rtc", {"channelName": "c", "role": "p", "tokenType": "uid", "rtcuid": "abc"}),
    ("rtc", {"channelName": "c", "role": "p", "tokenType": "uid", "rtcuid": "4294967296"}),
    ("rtc", {"channelName": "c", "role": "p", "tokenType": "foo", "rtcuid": "1"}),
    ("rte", {"channelName": "c", "role": "p", "tokenType": "uid", "rtcuid": ""}),
    ("rtm", {"rtmuid": "0"}), ("rtm", {"rtmuid": ""}), ("chat", {"chatid": ""}), ("nope", {}),
])
def test_from_route_uninterpretable(kind: str, info: dict) -> None:
    assert token_request_from_route(kind, info, {}) is None
