"""Unit tests for server.ratelimit (deterministic: an injected clock, no sleeps)."""

from __future__ import annotations

import pytest
from agora_token_server.env import ConfigError
from agora_token_server.ratelimit import (
    RateLimiter,
    RateLimitSettings,
    client_ip,
    parse_rate_limit,
    parse_ratelimit_settings,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("text, expected", [
    ("20/s", (20, 1.0)), ("600/min", (600, 60.0)), ("1000/h", (1000, 3600.0)),
    (" 5 / second ", (5, 1.0)), ("3/m", (3, 60.0)), ("7/HOUR", (7, 3600.0)),
    ("", (None, 1.0)), ("off", (None, 1.0)),
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
    s = parse_ratelimit_settings({"RATE_LIMIT": "600/min", "TRUST_PROXY": "1", "RATE_LIMIT_MAX_ENTRIES": "50"})
    assert s == RateLimitSettings(600, 60.0, 1, 50) and s.enabled
    assert s.describe() == "600/min per caller"
    assert parse_ratelimit_settings({"TRUST_PROXY": "true"}).trust_proxy == 1
    assert parse_ratelimit_settings({"TRUST_PROXY": "2"}).trust_proxy == 2
    for bad in ("maybe", "99", "-1"):
        with pytest.raises(ConfigError) as info:
            parse_ratelimit_settings({"TRUST_PROXY": bad})
        assert info.value.variable == "TRUST_PROXY"
    with pytest.raises(ConfigError):
        parse_ratelimit_settings({"RATE_LIMIT_MAX_ENTRIES": "0"})


def test_burst_then_refill() -> None:
    clock = Clock()
    rl = RateLimiter(3, 1.0, clock=clock)
    assert [rl.hit("a") for _ in range(3)] == [None, None, None]
    assert rl.hit("a") == 1
    assert rl.hit("b") is None  # separate bucket
    clock.now += 0.34  # ~1 token back
    assert rl.hit("a") is None
    assert rl.hit("a") == 1
    clock.now += 10
    assert [rl.hit("a") for _ in range(4)] == [None, None, None, 1]  # never more than the burst


def test_retry_after_is_whole_seconds() -> None:
    clock = Clock()
    rl = RateLimiter(600, 60.0, clock=clock)
    for _ in range(600):
        assert rl.hit("k") is None
    assert rl.hit("k") == 1  # 0.1 s to the next token -> 1
    rl2 = RateLimiter(2, 3600.0, clock=clock)
    rl2.hit("k"), rl2.hit("k")
    assert rl2.hit("k") == 1800  # one token per 30 min
    clock.now += 1799.5
    assert rl2.hit("k") == 1
    clock.now += 0.5
    assert rl2.hit("k") is None


def test_idle_buckets_are_evicted() -> None:
    clock = Clock()
    rl = RateLimiter(5, 1.0, clock=clock)
    for i in range(50):
        rl.hit(f"ip{i}")
    assert len(rl) == 50
    clock.now += 1.0  # everyone is full again
    rl.hit("new")
    assert len(rl) == 1


def test_recently_used_buckets_survive_the_sweep() -> None:
    clock = Clock()
    rl = RateLimiter(1, 10.0, clock=clock)
    rl.hit("old")
    clock.now += 5
    rl.hit("young")
    clock.now += 5  # old is full again, young is not
    rl.hit("x")
    assert len(rl) == 2
    assert rl.hit("young") is not None  # still limited: its state was kept


def test_entry_cap_evicts_least_recently_used() -> None:
    clock = Clock()
    rl = RateLimiter(1, 3600.0, max_entries=3, clock=clock)
    for key in ("a", "b", "c"):
        assert rl.hit(key) is None
    assert rl.hit("a") is not None  # a is now most recent
    assert rl.hit("d") is None  # evicts b (least recently used)
    assert len(rl) == 3
    assert rl.hit("a") is not None and rl.hit("c") is not None
    assert rl.hit("b") is None  # b was forgotten: a fresh bucket


def test_memory_stays_bounded_under_many_keys() -> None:
    clock = Clock()
    rl = RateLimiter(10, 1.0, max_entries=1000, clock=clock)
    for i in range(20_000):
        rl.hit(f"10.0.{i // 256}.{i % 256}")
    assert len(rl) <= 1000


def test_from_settings() -> None:
    assert RateLimiter.from_settings(RateLimitSettings()) is None
    rl = RateLimiter.from_settings(RateLimitSettings(20, 1.0))
    assert rl is not None and rl.capacity == 20


# --------------------------------------------------------------------------- client IP

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
