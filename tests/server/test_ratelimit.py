"""Rate limiting on the limits library (moving window): settings, the
window itself, storage failures, and the client address behind proxies.
Redis-backed behaviour across processes is in test_ratelimit_redis.py."""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

import pytest

from agora_token_server import ratelimit
from agora_token_server.accesslog import AccessLog
from agora_token_server.env import ConfigError
from agora_token_server.metrics import METRICS_FAILURES_PER_MINUTE
from agora_token_server.ratelimit import (
    ForwardedForError,
    RateLimiter,
    RateLimitSettings,
    StorageUnavailable,
    client_bucket,
    client_ip,
    parse_rate_limit,
    parse_ratelimit_settings,
)
from tests.support.service import make_app


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


async def test_limits_hold_across_the_key_cache_being_emptied(monkeypatch: pytest.MonkeyPatch) -> None:
    """The storage key of each caller key is kept in a bounded cache, emptied
    when full: the limits are the same before and after."""
    monkeypatch.setattr(ratelimit, "KEY_CACHE", 3)
    lim = limiter("2/min")
    for key in "abcde":  # five keys through a cache of three
        assert [await lim.hit(key), await lim.hit(key)] == [None, None]
    for key in "abcde":
        retry = await lim.hit(key)
        assert retry is not None and 1 <= retry <= 60, key
    assert len(lim._keys) <= 3


@pytest.mark.parametrize("policy", ["allow", "deny"])
async def test_a_failing_memory_window_is_handled_by_the_policy(policy: str) -> None:
    """The in-memory window is called without a coroutine: its failure still
    goes through the storage-error path (counted, state, the policy)."""
    lim = limiter("5/s", RATE_LIMIT_ON_STORAGE_ERROR=policy)

    def broken(key: str, limit: int, expiry: int) -> bool:
        raise ValueError("broken window")

    lim._acquire_now = broken
    if policy == "allow":
        assert await lim.hit("k") is None
    else:
        with pytest.raises(StorageUnavailable):
            await lim.hit("k")
    assert lim.state() == "error" and lim.errors == 1


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


async def test_storage_state_probes_an_idle_storage() -> None:
    """/healthz's view: with no traffic, the state is the outcome of one
    bounded PING (nothing listens on port 1), shared by concurrent callers."""
    lim = limiter("5/s", RATE_LIMIT_STORAGE="redis://127.0.0.1:1/0", RATE_LIMIT_STORAGE_TIMEOUT="0.2")
    assert lim.storage_ok  # nothing known yet
    states = await asyncio.gather(*(lim.storage_state() for _ in range(10)))
    assert states == ["error"] * 10 and lim.errors == 1
    assert await lim.storage_state() == "error" and lim.errors == 1  # fresh: no second probe within 1 s
    assert limiter("5/s").state() == "ok"  # memory: nothing to probe
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


@pytest.mark.parametrize("header", [[], [""], [" "], ["", " "]])
def test_no_forwarded_for_entry_means_the_peer(header: list) -> None:
    assert client_ip("10.0.0.1", header, 1) == "10.0.0.1"


def test_forwarded_for_is_read_from_the_end_whatever_its_length() -> None:
    """Issue 18 item 10: above 4,096 characters the proxy's address was used."""
    long = "1.2.3.4" + ", 5.6.7.8" * 1000 + ", 203.0.113.9"
    assert client_ip("10.0.0.1", [long], 1) == "203.0.113.9"
    assert client_ip("10.0.0.1", [long], 2) == "5.6.7.8"
    assert client_ip("10.0.0.1", ["x" * 100_000 + ", 203.0.113.9"], 1) == "203.0.113.9"  # junk further left
    assert client_ip("10.0.0.1", [long, "", "198.51.100.7"], 2) == "203.0.113.9"  # blank lines have no entry


@pytest.mark.parametrize("entry, address", [
    ("203.0.113.7:4711", "203.0.113.7"), ("[2001:DB8::1]", "2001:db8::1"), ("[2001:db8::1]:443", "2001:db8::1"),
    (" 198.51.100.7 ", "198.51.100.7"),
])
def test_forwarded_for_entries_with_ports(entry: str, address: str) -> None:
    assert client_ip("10.0.0.1", [f"6.6.6.6,{entry}"], 1) == address


@pytest.mark.parametrize("header", [["not-an-ip"], ["1.2.3.4, "], ["1.2.3.4,,5.6.7.8"], ["1.2.3.4:x"], ["[::1"],
                                    ["[::1]x"], ["1.2.3.4" + "9" * 5000], ["6.6.6.6, 1.2.3.4\x00"]])
def test_malformed_trusted_entry_is_refused(header: list) -> None:
    hops = 2 if header == ["1.2.3.4,,5.6.7.8"] else 1
    with pytest.raises(ForwardedForError) as info:
        client_ip("10.0.0.1", header, hops)
    assert "X-Forwarded-For" in str(info.value) and len(str(info.value)) < 200
    assert client_ip("10.0.0.1", header, 0) == "10.0.0.1"  # without TRUST_PROXY the header is never read


@pytest.mark.parametrize("address, prefix, bucket", [
    ("203.0.113.7", 64, "ip:203.0.113.7"),
    ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64, "ip:2001:db8:1:2::/64"),
    ("2001:db8:1:2::1", 64, "ip:2001:db8:1:2::/64"),
    ("2001:db8:1:3::1", 64, "ip:2001:db8:1:3::/64"),
    ("2001:db8:1:2:aaaa::1", 56, "ip:2001:db8:1::/56"),
    ("2001:db8:1:2::1", 128, "ip:2001:db8:1:2::1"),
    ("::ffff:203.0.113.7", 64, "ip:203.0.113.7"),  # an IPv4 client seen through a v6 socket
    ("unknown", 64, "ip:unknown"),
])
def test_client_bucket(address: str, prefix: int, bucket: str) -> None:
    assert client_bucket(address, prefix) == bucket


def test_ipv6_prefix_setting() -> None:
    assert parse_ratelimit_settings({}).ipv6_prefix == 64
    assert parse_ratelimit_settings({"RATE_LIMIT_IPV6_PREFIX": "48"}).ipv6_prefix == 48
    for bad in ("31", "129", "x", "64.5"):
        with pytest.raises(ConfigError) as info:
            parse_ratelimit_settings({"RATE_LIMIT_IPV6_PREFIX": bad})
        assert info.value.variable == "RATE_LIMIT_IPV6_PREFIX"


async def test_malformed_forwarded_for_is_400_on_guarded_routes(aiohttp_client: Any) -> None:
    out = io.StringIO()
    client = await aiohttp_client(make_app(AccessLog("text", out), RATE_LIMIT="100/min", TRUST_PROXY="1"))
    r = await client.get("/rtm/u/", headers={"X-Forwarded-For": "6.6.6.6, not-an-ip"})
    assert r.status == 400 and r.content_type == "application/json"
    assert "X-Forwarded-For" in (await r.json())["error"]
    assert (await client.get("/ping", headers={"X-Forwarded-For": "not-an-ip"})).status == 200  # not read there
    await asyncio.sleep(0.1)  # access-log lines are written in batches
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and all("remote=127.0.0.1" in line for line in lines), lines  # the log never raises
    assert " 400 " in lines[0] and " 200 " in lines[1]


async def test_malformed_forwarded_for_takes_the_route_familys_shape(aiohttp_client: Any) -> None:
    """On /token/generate the 400 is Agora's {"code": -1, ...} like every other error there."""
    client = await aiohttp_client(make_app(RATE_LIMIT="100/min", TRUST_PROXY="1"))
    r = await client.post("/token/generate", json={"uid": "1", "serviceRtm": {"enable": True}},
                          headers={"X-Forwarded-For": "not-an-ip"})
    body = await r.json()
    assert r.status == 400 and body["code"] == -1 and body["data"] == "" and "X-Forwarded-For" in body["message"]


async def test_malformed_forwarded_for_is_400_for_an_authenticated_caller_too(aiohttp_client: Any) -> None:
    """Review finding: with a valid key, no rate limit and no audit trail, the
    address was never resolved, so the same header got 200 (and the access log
    named the proxy): now 400 whoever asks."""
    key = "forwarded-key-" + "f" * 20
    client = await aiohttp_client(make_app(AUTH_API_KEYS=key, TRUST_PROXY="1"))
    r = await client.get("/rtm/u/", headers={"X-Forwarded-For": "garbage", "X-API-Key": key})
    assert r.status == 400 and "X-Forwarded-For" in (await r.json())["error"]
    r = await client.get("/rtm/u/", headers={"X-Forwarded-For": "203.0.113.9", "X-API-Key": key})
    assert r.status == 200


async def test_a_long_forwarded_for_keeps_the_clients_bucket(aiohttp_client: Any) -> None:
    """Issue 18 item 10: a client behind the proxy kept 5/min; with a header
    over 4,096 characters it fell into the proxy's bucket and got 5 more."""
    client = await aiohttp_client(make_app(RATE_LIMIT="5/min", TRUST_PROXY="1"))
    short = {"X-Forwarded-For": "203.0.113.9"}
    long = {"X-Forwarded-For": ", ".join(["198.51.100.1"] * 400 + ["203.0.113.9"])}
    assert len(long["X-Forwarded-For"]) > 4096
    got = [(await client.get("/rtm/u/", headers=short)).status for _ in range(3)]
    got += [(await client.get("/rtm/u/", headers=long)).status for _ in range(13)]
    assert got.count(200) == 5 and got.count(429) == 11, got


async def test_one_ipv6_client_cycling_through_its_prefix_stays_in_one_bucket(aiohttp_client: Any) -> None:
    """Issue 18 item 10: 20 of 20 passed at 5/min from one /64."""
    client = await aiohttp_client(make_app(RATE_LIMIT="5/min", TRUST_PROXY="1"))
    got = [(await client.get("/rtm/u/", headers={"X-Forwarded-For": f"2001:db8:7:7::{i:x}"})).status
           for i in range(1, 21)]
    assert got.count(200) == 5, got
    assert (await client.get("/rtm/u/", headers={"X-Forwarded-For": "2001:db8:7:8::1"})).status == 200


async def test_metrics_failures_are_counted_per_ipv6_prefix(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app(METRICS_TOKEN="metrics-token-" + "m" * 20, TRUST_PROXY="1"))
    wrong = {"Authorization": "Bearer guess-0123456789"}
    got = [(await client.get("/metrics", headers={**wrong, "X-Forwarded-For": f"2001:db8:7:7::{i:x}"})).status
           for i in range(1, 13)]
    assert got == [401] * METRICS_FAILURES_PER_MINUTE + [429] * 2, got
    r = await client.get("/metrics", headers={**wrong, "X-Forwarded-For": "2001:db8:7:8::1"})
    assert r.status == 401  # another /64: its own budget
