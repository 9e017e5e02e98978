"""Rate limiting on the limits library (moving window): settings, the
window itself, storage failures, and the client address behind proxies.
Redis-backed behaviour across processes is in test_ratelimit_redis.py."""

from __future__ import annotations

import asyncio
import time

import pytest

from agora_token_server.env import ConfigError
from agora_token_server.ratelimit import (
    RateLimiter,
    RateLimitSettings,
    StorageUnavailable,
    client_ip,
    parse_rate_limit,
    parse_ratelimit_settings,
)


@pytest.mark.parametrize("text, expected", [
    ("20/s", (20, "second")), ("600/min", (600, "minute")), ("1000/h", (1000, "hour")),
    (" 5 / second ", (5, "second")), ("3/m", (3, "minute")), ("7/HOUR", (7, "hour")),
    ("", (None, "second")), ("off", (None, "second")),
])
def test_parse_rate_limit(text: str, expected: tuple) -> None:
    assert parse_rate_limit(text) == expected


@pytest.mark.parametrize("text", ["20", "20/d", "/s", "x/s", "-1/s", "1.5/s", "20 per second", "0/s"])
def test_bad_rate_limit(text: str) -> None:
    if text == "0/s":
        with pytest.raises(ConfigError):
            parse_rate_limit(text)
        return
    with pytest.raises(ConfigError) as info:
        parse_ratelimit_settings({"RATE_LIMIT": text})
    assert info.value.variable == "RATE_LIMIT"


def test_settings() -> None:
    assert parse_ratelimit_settings({}) == RateLimitSettings()
    assert not RateLimitSettings().enabled
    s = parse_ratelimit_settings({"RATE_LIMIT": "600/min", "TRUST_PROXY": "1"})
    assert s == RateLimitSettings(600, "minute", trust_proxy=1) and s.enabled and not s.shared
    assert s.describe() == "600/minute per caller, per process"
    assert parse_ratelimit_settings({"TRUST_PROXY": "true"}).trust_proxy == 1
    assert parse_ratelimit_settings({"TRUST_PROXY": "2"}).trust_proxy == 2
    for bad in ("maybe", "99", "-1"):
        with pytest.raises(ConfigError) as info:
            parse_ratelimit_settings({"TRUST_PROXY": bad})
        assert info.value.variable == "TRUST_PROXY"


def test_storage_settings() -> None:
    s = parse_ratelimit_settings({"RATE_LIMIT": "5/s", "RATE_LIMIT_STORAGE": "redis://:s3cret-pass@redis:6379/2",
                                  "RATE_LIMIT_KEY_PREFIX": "prod-eu", "RATE_LIMIT_ON_STORAGE_ERROR": "DENY",
                                  "RATE_LIMIT_STORAGE_TIMEOUT": "0.1"})
    assert s.shared and s.key_prefix == "prod-eu" and s.on_storage_error == "deny" and s.storage_timeout == 0.1
    assert "s3cret-pass" in s.secrets  # masked in every log line
    assert "s3cret-pass" not in s.describe()
    for uri in ("rediss://h:6380", "redis+sentinel://h:26379/mymaster", "redis+cluster://h:7000",
                "redis+unix:///run/redis.sock", "memory://"):
        assert parse_ratelimit_settings({"RATE_LIMIT_STORAGE": uri}).storage == uri
    for env, variable in (({"RATE_LIMIT_STORAGE": "mongodb://x"}, "RATE_LIMIT_STORAGE"),
                          ({"RATE_LIMIT_STORAGE": "localhost:6379"}, "RATE_LIMIT_STORAGE"),
                          ({"RATE_LIMIT_ON_STORAGE_ERROR": "maybe"}, "RATE_LIMIT_ON_STORAGE_ERROR"),
                          ({"RATE_LIMIT_KEY_PREFIX": "has space"}, "RATE_LIMIT_KEY_PREFIX"),
                          ({"RATE_LIMIT_STORAGE_TIMEOUT": "0"}, "RATE_LIMIT_STORAGE_TIMEOUT")):
        with pytest.raises(ConfigError) as info:
            parse_ratelimit_settings(env)
        assert info.value.variable == variable


def limiter(spec: str, **env: str) -> RateLimiter:
    found = RateLimiter.from_settings(parse_ratelimit_settings({"RATE_LIMIT": spec, **env}))
    assert found is not None
    return found


async def test_moving_window_is_exact() -> None:
    lim = limiter("3/s")
    assert [await lim.hit("a") for _ in range(3)] == [None, None, None]
    assert await lim.hit("a") == 1  # refused: retry in 1 s
    assert await lim.hit("b") is None  # keys are independent
    await asyncio.sleep(1.05)  # the window moved past the first three
    assert await lim.hit("a") is None


async def test_retry_after_is_whole_seconds() -> None:
    lim = limiter("2/h")
    await lim.hit("k")
    await lim.hit("k")
    retry = await lim.hit("k")
    assert retry is not None and 3590 <= retry <= 3600


async def test_refused_requests_do_not_count() -> None:
    lim = limiter("2/s")
    await lim.hit("k")
    await lim.hit("k")
    for _ in range(50):
        assert await lim.hit("k") is not None
    await asyncio.sleep(1.05)
    assert await lim.hit("k") is None and await lim.hit("k") is None


@pytest.mark.parametrize("policy", ["allow", "deny"])
async def test_unreachable_storage_is_bounded_and_never_raises_unexpectedly(policy: str) -> None:
    """Nothing listens on port 1: every call fails fast, per the policy, and
    the storage is skipped for a second after a failure."""
    lim = limiter("5/s", RATE_LIMIT_STORAGE="redis://127.0.0.1:1/0", RATE_LIMIT_ON_STORAGE_ERROR=policy,
                  RATE_LIMIT_STORAGE_TIMEOUT="0.2")
    start = time.monotonic()
    for _ in range(20):
        if policy == "allow":
            assert await lim.hit("k") is None
        else:
            with pytest.raises(StorageUnavailable):
                await lim.hit("k")
    assert time.monotonic() - start < 2
    assert lim.state() == "error" and lim.errors == 1  # one failure, then skipped
    await lim.close()


def test_from_settings() -> None:
    assert RateLimiter.from_settings(RateLimitSettings()) is None
    lim = RateLimiter.from_settings(parse_ratelimit_settings({"RATE_LIMIT": "10/min"}))
    assert lim is not None and lim.item.amount == 10 and lim.item.get_expiry() == 60


def test_peer_address_without_trust() -> None:
    assert client_ip("10.0.0.5", ["1.2.3.4"], 0) == "10.0.0.5"
    assert client_ip(None, [], 0) == "unknown"


def test_forwarded_for_right_most_with_one_proxy() -> None:
    # the client wrote "6.6.6.6"; the load balancer appended the real peer 1.2.3.4
    assert client_ip("10.0.0.1", ["6.6.6.6, 1.2.3.4"], 1) == "1.2.3.4"
    assert client_ip("10.0.0.1", ["6.6.6.6", "1.2.3.4"], 1) == "1.2.3.4"  # repeated headers
    assert client_ip("10.0.0.1", ["2001:DB8::1"], 1) == "2001:db8::1"


def test_forwarded_for_with_two_proxies() -> None:
    assert client_ip("10.0.0.1", ["6.6.6.6, 1.2.3.4, 10.0.0.9"], 2) == "1.2.3.4"
    assert client_ip("10.0.0.1", ["10.0.0.9"], 2) == "10.0.0.1"  # too few hops: peer


@pytest.mark.parametrize("header", [[], [""], ["not-an-ip"], ["1.2.3.4, "], ["1.2.3.4" + ", 5.6.7.8" * 1000]])
def test_forwarded_for_fallbacks(header: list) -> None:
    assert client_ip("10.0.0.1", header, 1) == "10.0.0.1"
