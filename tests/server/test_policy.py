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
    token_request_from_hook,
)


def test_drop_in_mode_has_no_expire_cap() -> None:
    s = parse_policy_settings({})
    assert s == PolicySettings(max_expire=None, channel_pattern=None) == PolicySettings()
    assert check_policy(s, TokenRequest("rtc", "c", 1, (), False, 4294967295)) is None


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
    with pytest.raises(ConfigError):
        parse_policy_settings({"CHANNEL_PATTERN": "a" * 5000})


def test_expire_limit() -> None:
    s = PolicySettings(max_expire=600)
    assert check_policy(s, TokenRequest("rtc", "c", 1, (), False, 600)) is None
    assert check_policy(s, TokenRequest("rtc", "c", 1, (), False, 0)) is None
    v = check_policy(s, TokenRequest("rtc", "c", 1, (), False, 601))
    assert v is not None and v.status == 400 and "600" in v.message and "MAX_EXPIRE" in v.message
    v = check_policy(s, TokenRequest("rtc", "c", 1, (), False, 3600))
    assert v is not None and "default" in v.message and "600" in v.message
    assert "default" not in check_policy(PolicySettings(86400), TokenRequest("rtc", "c", 1, (), False, 90000)).message
    # unknown expire (the handler rejects it) is not the policy's business
    assert check_policy(s, TokenRequest("rtc", "c", 1, (), False, None)) is None


def test_default_policy_allows_24h_not_more() -> None:
    s = parse_policy_settings({"RATE_LIMIT": "5/s"})
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


# --------------------------------------------------------------------------- hook arguments

@pytest.mark.parametrize("args, expected", [
    (("rtc", "c", 7, "publisher", 60), TokenRequest("rtc", "c", 7, (), True, 60)),
    (("rtc", "c", "alice", "subscriber", 60), TokenRequest("rtc", "c", "alice", (), False, 60)),
    (("rtc", "", 0, "subscriber", 0), TokenRequest("rtc", "", 0, (), False, 0)),
    (("rtm", "", "bob", None, 3600), TokenRequest("rtm", None, None, ("bob",), False, 3600)),
    (("rtm", "*", "bob", None, 3600), TokenRequest("rtm", "*", None, ("bob",), False, 3600)),
    (("chat", "", "carol", None, 10), TokenRequest("chat", None, None, ("carol",), False, 10)),
    (("chat_app", "", None, None, 10), TokenRequest("chat_app", None, None, (), False, 10)),
])
def test_from_hook(args: tuple, expected: TokenRequest) -> None:
    assert token_request_from_hook(*args) == expected


def test_empty_rtc_channel_is_checked_against_the_pattern() -> None:
    s = parse_policy_settings({"CHANNEL_PATTERN": "room-.*"})
    assert check_policy(s, token_request_from_hook("rtc", "", 1, "publisher", 60)) is not None
