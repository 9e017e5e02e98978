"""Rate limits shared through a real Redis: one limit per caller across
separate server processes and workers, and behaviour when Redis goes down,
hangs and comes back (no mocks: a real redis-server on a loopback port)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from agora_token_server.testing import LiveServer, request
from tests.support.redis_server import RedisServer
from tests.support.service import CREDENTIALS

pytestmark = pytest.mark.slow

KEY = "redis-test-api-key-" + "r" * 20


def statuses(urls: list[str], n: int, headers: dict[str, str]) -> list[int]:
    """``n`` requests for tokens, round robin over ``urls``."""
    return [request(f"{urls[i % len(urls)]}/rtm/alice/", headers=headers)[0] for i in range(n)]


def health(url: str) -> dict[str, Any]:
    status, _, body = request(f"{url}/healthz")
    assert status == 200
    result: dict[str, Any] = json.loads(body)
    return result


def servers(tmp_path: Path, redis: RedisServer, count: int, **env: str) -> list[LiveServer]:
    base = {**CREDENTIALS, "AUTH_API_KEYS": KEY, "RATE_LIMIT_STORAGE": redis.url, **env}
    started = [LiveServer(tmp_path, base) for _ in range(count)]
    for s in started:
        s.wait_ready()
    return started


def test_one_limit_across_two_processes(tmp_path: Path, redis_server: RedisServer) -> None:
    procs = servers(tmp_path, redis_server, 2, RATE_LIMIT="10/min")
    try:
        got = statuses([p.url for p in procs], 30, {"X-API-Key": KEY})
        assert got.count(200) == 10 and got.count(429) == 20, got
        assert all(health(p.url)["rate_limit_storage"] == "ok" for p in procs)
    finally:
        for p in procs:
            p.stop()


def test_one_limit_across_workers(tmp_path: Path, redis_server: RedisServer) -> None:
    server = LiveServer(tmp_path, {**CREDENTIALS, "AUTH_API_KEYS": KEY, "RATE_LIMIT": "12/min",
                                   "RATE_LIMIT_STORAGE": redis_server.url}, ("--workers", "2"))
    try:
        server.wait_ready(workers=2)
        got = statuses([server.url], 40, {"X-API-Key": KEY})  # fresh connections: both workers serve
        assert got.count(200) == 12 and got.count(429) == 28, got
    finally:
        server.stop()


def test_key_prefix_separates_deployments(tmp_path: Path, redis_server: RedisServer) -> None:
    a = servers(tmp_path, redis_server, 1, RATE_LIMIT="3/min", RATE_LIMIT_KEY_PREFIX="eu")[0]
    b = servers(tmp_path, redis_server, 1, RATE_LIMIT="3/min", RATE_LIMIT_KEY_PREFIX="us")[0]
    try:
        assert statuses([a.url], 5, {"X-API-Key": KEY}).count(200) == 3
        assert statuses([b.url], 5, {"X-API-Key": KEY}).count(200) == 3
    finally:
        a.stop()
        b.stop()


@pytest.mark.parametrize("policy, expected", [("allow", 200), ("deny", 503)])
def test_redis_down_then_back(tmp_path: Path, redis_server: RedisServer, policy: str, expected: int) -> None:
    server = servers(tmp_path, redis_server, 1, RATE_LIMIT="5/min", RATE_LIMIT_ON_STORAGE_ERROR=policy,
                     RATE_LIMIT_STORAGE_TIMEOUT="0.2")[0]
    try:
        assert statuses([server.url], 6, {"X-API-Key": KEY}) == [200] * 5 + [429]
        redis_server.stop()
        start = time.monotonic()
        got = statuses([server.url], 20, {"X-API-Key": KEY})
        assert set(got) == {expected}, got  # per the policy; never a 500, never a hang
        assert time.monotonic() - start < 10
        if expected == 503:
            status, headers, body = request(f"{server.url}/rtm/alice/", headers={"X-API-Key": KEY})
            assert status == 503 and headers["Retry-After"] == "1" and "storage" in json.loads(body)["error"]
        assert health(server.url)["rate_limit_storage"] == "error"  # still 200
        status, _, body = request(f"{server.url}/metrics")
        assert "agora_token_rate_limit_storage_errors_total" in body.decode()
        assert not body.decode().count("agora_token_rate_limit_storage_errors_total 0.0")

        redis_server.start()  # same port: the limit applies again, with a fresh window
        deadline = time.monotonic() + 10
        while health(server.url)["rate_limit_storage"] != "ok" and time.monotonic() < deadline:
            request(f"{server.url}/rtm/bob/", headers={"X-API-Key": KEY})
            time.sleep(0.3)
        assert health(server.url)["rate_limit_storage"] == "ok"
        got = statuses([server.url], 8, {"X-API-Key": KEY})
        assert got.count(429) >= 3, got
    finally:
        server.stop()
    log = server.log()
    assert "Traceback" not in log
    assert log.count("rate-limit storage failed") == 1  # one line per minute at most


def test_hung_redis_costs_a_bounded_wait(tmp_path: Path, redis_server: RedisServer) -> None:
    server = servers(tmp_path, redis_server, 1, RATE_LIMIT="100/min", RATE_LIMIT_STORAGE_TIMEOUT="0.3")[0]
    try:
        assert statuses([server.url], 2, {"X-API-Key": KEY}) == [200, 200]
        redis_server.pause()
        try:
            start = time.monotonic()
            got = statuses([server.url], 10, {"X-API-Key": KEY})
            elapsed = time.monotonic() - start
        finally:
            redis_server.resume()
        assert got == [200] * 10  # allow: served without a limit
        assert elapsed < 5, elapsed  # the first waits the timeout; the next skip the storage for 1 s
    finally:
        server.stop()


def test_metrics_and_healthz_through_a_redis_outage(tmp_path: Path, redis_server: RedisServer) -> None:
    """Issue 18 item 8: with RATE_LIMIT_ON_STORAGE_ERROR=deny and Redis down,
    the right METRICS_TOKEN still gets /metrics (it answered 429), and
    /healthz reports the outage by itself, with no other traffic (it said ok)."""
    token = "metrics-token-" + "m" * 20
    right, wrong = {"Authorization": f"Bearer {token}"}, {"Authorization": "Bearer guess-0123456789"}
    server = servers(tmp_path, redis_server, 1, RATE_LIMIT="5/min", RATE_LIMIT_ON_STORAGE_ERROR="deny",
                     RATE_LIMIT_STORAGE_TIMEOUT="0.2", METRICS_TOKEN=token)[0]

    def storage_becomes(expected: str) -> str:
        deadline = time.monotonic() + 10
        while (found := health(server.url)["rate_limit_storage"]) != expected and time.monotonic() < deadline:
            time.sleep(0.2)
        return found

    try:
        assert request(f"{server.url}/metrics", headers=wrong)[0] == 401
        assert request(f"{server.url}/metrics", headers=right)[0] == 200
        assert health(server.url)["rate_limit_storage"] == "ok"
        redis_server.stop()
        assert storage_becomes("error") == "error"
        for _ in range(5):
            assert request(f"{server.url}/metrics", headers=right)[0] == 200
            assert request(f"{server.url}/metrics", headers=wrong)[0] == 401  # never 500, never 429
        redis_server.start()
        assert storage_becomes("ok") == "ok"
        got = [request(f"{server.url}/metrics", headers=wrong)[0] for _ in range(11)]
        assert got.count(429) >= 1 and set(got) == {401, 429}, got  # failures are counted again
        assert request(f"{server.url}/metrics", headers=right)[0] == 200
    finally:
        server.stop()
    assert "Traceback" not in server.log()
