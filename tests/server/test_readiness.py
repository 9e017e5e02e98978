"""``/readyz`` (readiness) apart from ``/healthz`` (liveness): 503 while the
replica stops or drains or cannot issue tokens, 200 otherwise; never
authenticated or shed; ``HEAD`` works."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from agora_token_server.state import STATE
from agora_token_server.testing import LiveServer, free_port, request
from tests.support.service import CREDENTIALS, make_app

KEY = "readiness-key-" + "r" * 26


async def test_ready_until_stopping_then_draining(aiohttp_client: Any) -> None:
    app = make_app(AUTH_API_KEYS=KEY, MAX_QUEUE_WAIT="0.000001")
    c = await aiohttp_client(app)
    r = await c.get("/readyz")  # no credentials, and a queueing budget that sheds token requests
    assert r.status == 200 and await r.json() == {"status": "ready"}
    assert r.headers["Cache-Control"].startswith("private, no-cache")
    assert (await c.head("/readyz")).status == 200
    app[STATE].stopping = True
    r = await c.get("/readyz")
    assert r.status == 503 and await r.json() == {"status": "not ready", "reasons": ["stopping"]}
    assert (await c.head("/readyz")).status == 503
    assert (await c.get("/healthz")).status == 200  # liveness: not restarted for stopping
    app[STATE].draining = True
    assert (await (await c.get("/readyz")).json())["reasons"] == ["stopping", "draining"]


async def test_not_ready_while_the_rate_limit_storage_is_down_with_deny(aiohttp_client: Any) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    for on_error, ready in (("deny", False), ("allow", True)):
        c = await aiohttp_client(make_app(RATE_LIMIT="10/s", RATE_LIMIT_STORAGE=dead,
                                          RATE_LIMIT_ON_STORAGE_ERROR=on_error))
        await c.post("/getToken", json={"tokenType": "chat"})  # the storage fails
        r = await c.get("/readyz")
        body = await r.json()
        if ready:  # served without a rate limit meanwhile: still ready
            assert r.status == 200, body
        else:
            assert r.status == 503 and body == {"status": "not ready", "reasons": ["rate_limit_storage"]}
        assert (await c.get("/healthz")).status == 200


async def test_not_ready_without_identity_provider_keys(aiohttp_client: Any) -> None:
    c = await aiohttp_client(make_app(AUTH_JWKS_URL=f"http://127.0.0.1:{free_port()}/jwks.json"))
    r = await c.get("/readyz")
    assert r.status == 503 and (await r.json())["reasons"] == ["jwks"]
    assert (await c.get("/healthz")).status == 200


@pytest.mark.slow
def test_sigterm_turns_readyz_503_while_tokens_are_still_served(tmp_path: Path) -> None:
    server = LiveServer(tmp_path, {**CREDENTIALS, "SHUTDOWN_DELAY": "3"}).wait_ready()
    try:
        assert request(f"{server.url}/readyz")[0] == 200
        server.signal(signal.SIGTERM)
        deadline = time.monotonic() + 2
        while request(f"{server.url}/readyz")[0] != 503:
            assert time.monotonic() < deadline, "/readyz still 200 after SIGTERM"
            time.sleep(0.02)
        status, _, body = request(f"{server.url}/readyz")
        assert status == 503 and "stopping" in json.loads(body)["reasons"]
        assert request(f"{server.url}/healthz")[0] == 200
        assert request(f"{server.url}/rtc/c/publisher/uid/1/")[0] == 200  # still serving normally
        assert server.proc.wait(20) == 0
    finally:
        server.stop()


@pytest.mark.slow
def test_ready_again_by_itself_when_redis_comes_back(tmp_path: Path) -> None:
    """Out of rotation, a replica gets no token requests: ``/readyz`` itself
    must find out that the storage is back (bounded waits only)."""
    from tests.support.redis_server import RedisServer, redis_binary

    if redis_binary() is None:
        pytest.skip("redis-server is not installed")
    redis = RedisServer(tmp_path)
    server = LiveServer(tmp_path, {**CREDENTIALS, "RATE_LIMIT": "100/s", "RATE_LIMIT_STORAGE": redis.url,
                                   "RATE_LIMIT_ON_STORAGE_ERROR": "deny"}).wait_ready()
    try:
        def wait_for(status: int) -> dict[str, Any]:
            deadline = time.monotonic() + 10
            while True:
                got, _, body = request(f"{server.url}/readyz")
                if got == status:
                    return json.loads(body)  # type: ignore[no-any-return]
                assert time.monotonic() < deadline, (status, got, body)
                time.sleep(0.2)

        assert wait_for(503)["reasons"] == ["rate_limit_storage"]  # Redis not started yet
        redis.start()
        assert wait_for(200) == {"status": "ready"}  # no token request in between
        assert request(f"{server.url}/rtc/c/publisher/uid/1/")[0] == 200
        redis.stop()
        assert wait_for(503)["reasons"] == ["rate_limit_storage"]
    finally:
        server.stop()
        redis.stop()
