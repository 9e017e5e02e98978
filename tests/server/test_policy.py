"""Token policy: MAX_EXPIRE and CHANNEL_PATTERN (RE2: linear time, the 64-byte
channel limit checked first)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from agora_token_server.env import ConfigError
from agora_token_server.policy import (
    DEFAULT_MAX_EXPIRE,
    PolicySettings,
    TokenRequest,
    parse_policy_settings,
)
from agora_token_server.policy import check_policy as _check_policy
from tests.support.service import make_app


def check_policy(settings: PolicySettings, req: TokenRequest) -> Any:
    return _check_policy(settings, req, 3600)


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
    for unsupported in (r"(a)\1", r"room-(?=x)"):  # backreference, lookahead: not in RE2
        with pytest.raises(ConfigError, match="backreferences and lookaround"):
            parse_policy_settings({"CHANNEL_PATTERN": unsupported})
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


# --------------------------------------------------------------------------- adversarial patterns

@pytest.mark.parametrize("pattern", [r"([a-z0-9]+-?)*", r"(a+)+b", r"(a|aa)*c", r"([a-z]*)*$"])
def test_backtracking_prone_patterns_run_in_linear_time(pattern: str) -> None:
    """These took seconds to hours with Python's re (22.7 s for the first on 28
    characters); RE2 answers at once. The bound only catches a hang."""
    s = parse_policy_settings({"CHANNEL_PATTERN": pattern})
    start = time.monotonic()
    for n in (28, 40, 64):
        check_policy(s, TokenRequest("rtc", "a" * n + "!", 1, (), False, 60))
    assert time.monotonic() - start < 2


def test_overlong_channel_skips_the_pattern() -> None:
    s = parse_policy_settings({"CHANNEL_PATTERN": r"([a-z0-9]+-?)*"})
    # over Agora's 64 bytes: the library refuses it later with its own 400
    assert check_policy(s, TokenRequest("rtc", "a" * 5000 + "!", 1, (), False, 60)) is None
    assert check_policy(s, TokenRequest("rtc", "\ud800", 1, (), False, 60)) is None  # lone surrogate


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
