"""Metrics: route templates and statuses as the pipeline counts them,
METRICS_TOKEN, the counters other modules bump, and multi-process merging
(separate processes writing into one PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from agora_token_server import metrics
from agora_token_server.state import STATE
from tests.support.prometheus import sample
from tests.support.service import make_app


async def scrape(client: Any, **headers: str) -> str:
    resp = await client.get("/metrics", headers=headers)
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    return await resp.text()


@pytest.mark.skipif(bool(os.environ.get(metrics.ENV_DIR)), reason="single-process test")
async def test_route_templates_and_statuses(aiohttp_client: Any) -> None:
    app = make_app()

    issuer = app[STATE].issuer
    sign = issuer.sign

    def boom(req: Any, ctx: Any = None) -> Any:
        if req.tokens[0].key == "chatToken":  # /chat/app/ fails
            raise RuntimeError("boom")
        return sign(req, ctx)

    issuer.sign = boom  # type: ignore[method-assign]
    client = await aiohttp_client(app)
    before = await scrape(client)
    for uid in ("alice", "bob", "carol"):
        assert (await client.get(f"/rtm/{uid}/")).status == 200
    assert (await client.get("/ping")).status == 200
    assert (await client.get("/rtm/0/")).status == 400
    assert (await client.get("/chat/app/")).status == 500
    assert (await client.get("/no/such/path/alice")).status == 404
    assert (await client.post("/ping")).status == 405
    after = await scrape(client)
    name = "agora_token_http_requests_total"

    def delta(**labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta(route="/rtm/{rtmuid}/", method="GET", status="200") == 3
    assert delta(route="/ping", method="GET", status="200") == 1
    assert delta(route="/rtm/{rtmuid}/", status="400") == 1
    assert delta(route="/chat/app/", status="500") == 1
    assert delta(route="unmatched", status="404") == 1
    assert delta(status="405") == 1
    assert "alice" not in after  # raw paths never become labels
    hist = "agora_token_http_request_duration_seconds_count"
    assert sample(after, hist, route="/rtm/{rtmuid}/") - sample(before, hist, route="/rtm/{rtmuid}/") == 4


@pytest.mark.skipif(bool(os.environ.get(metrics.ENV_DIR)), reason="single-process test")
async def test_counters_called_by_other_modules(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app())
    before = await scrape(client)
    local = metrics.LOCAL
    local.token_issued("rtc")
    local.token_issued("rtm")
    local.token_issued("rtm")
    local.token_issued("chat_app")
    local.auth_failure("invalid_api_key")
    local.auth_failure("made-up reason")
    local.rate_limited += 1
    local.shed += 2
    local.connection_closed("evicted")
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("agora_token_tokens_issued_total", type="rtc") == 1
    assert delta("agora_token_tokens_issued_total", type="rtm") == 2
    assert delta("agora_token_tokens_issued_total", type="chat") == 1
    assert delta("agora_token_auth_failures_total", reason="invalid_api_key") == 1
    assert delta("agora_token_auth_failures_total", reason="other") == 1
    assert delta("agora_token_rate_limited_total") == 1
    assert delta("agora_token_requests_shed_total") == 2
    assert delta("agora_token_connections_closed_total", reason="evicted") == 1
    assert sample(after, "agora_token_build_info") == 1


async def test_metrics_token(aiohttp_client: Any) -> None:
    token = "s3cret-metrics-token-0123"
    client = await aiohttp_client(make_app(METRICS_TOKEN=token))
    resp = await client.get("/metrics")
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert "error" in await resp.json()
    assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status == 401
    assert (await client.get("/metrics", headers={"Authorization": token})).status == 401
    text = await scrape(client, Authorization=f"Bearer {token}")
    assert "agora_token_http_requests_total" in text


WORKER = textwrap.dedent("""
    import sys
    from agora_token_server import metrics
    for _ in range(int(sys.argv[1])):
        metrics.LOCAL.observe("/getToken", "POST", 200, 0.001)
        metrics.LOCAL.token_issued("rtc")
    metrics.LOCAL.rate_limited += 1
    metrics.flush()
""")

READER = textwrap.dedent("""
    import sys
    from agora_token_server import metrics
    sys.stdout.write(metrics.render()[0].decode())
""")


def test_multiprocess_totals_across_processes(tmp_path: Path) -> None:
    """Three processes write, a fourth (like any worker answering a scrape) reads the totals."""
    env = {**os.environ, metrics.ENV_DIR: str(tmp_path)}
    worker = WORKER
    counts = [3, 5, 7]
    for n in counts:
        subprocess.run([sys.executable, "-c", worker, str(n)], env=env, check=True, timeout=60)
    assert len(list(tmp_path.glob("*.db"))) >= 3
    out = subprocess.run([sys.executable, "-c", READER], env=env, check=True,
                         capture_output=True, text=True, timeout=60).stdout
    assert sample(out, "agora_token_http_requests_total", route="/getToken", status="200") == sum(counts)
    assert sample(out, "agora_token_tokens_issued_total", type="rtc") == sum(counts)
    assert sample(out, "agora_token_rate_limited_total") == 3
    assert sample(out, "agora_token_http_request_duration_seconds_count", route="/getToken") == sum(counts)


def test_prepare_and_cleanup_multiprocess(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(metrics.ENV_DIR, raising=False)
    monkeypatch.delenv(metrics.ENV_DIR.lower(), raising=False)
    path = metrics.prepare_multiprocess()
    assert path and os.path.isdir(path) and os.environ[metrics.ENV_DIR] == path
    Path(path, "gauge_livesum_12345.db").write_bytes(b"")
    Path(path, "counter_12345.db").write_bytes(b"")
    metrics.worker_exited(12345)
    assert not Path(path, "gauge_livesum_12345.db").exists()  # live gauges forget dead workers
    assert Path(path, "counter_12345.db").exists()  # counters keep their totals
    metrics.cleanup_multiprocess()
    assert not os.path.exists(path) and metrics.ENV_DIR not in os.environ
    # an operator-chosen directory is used as is and never removed
    monkeypatch.setenv(metrics.ENV_DIR, str(tmp_path))
    assert metrics.prepare_multiprocess() == str(tmp_path)
    metrics.cleanup_multiprocess()
    assert tmp_path.is_dir()


def test_sweep_dead_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(metrics.ENV_DIR, str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = os.getpid()
    for pid in (dead.pid, alive):
        Path(tmp_path, f"gauge_livesum_{pid}.db").write_bytes(b"")
        Path(tmp_path, f"counter_{pid}.db").write_bytes(b"")
    metrics.sweep_dead_workers()
    assert not Path(tmp_path, f"gauge_livesum_{dead.pid}.db").exists()
    assert Path(tmp_path, f"gauge_livesum_{alive}.db").exists()
    assert Path(tmp_path, f"counter_{dead.pid}.db").exists()


async def test_metrics_token_failures_are_limited(aiohttp_client: Any) -> None:
    token = "metrics-token-" + "m" * 20
    client = await aiohttp_client(make_app(METRICS_TOKEN=token))
    for _ in range(metrics.METRICS_FAILURES_PER_MINUTE):
        assert (await client.get("/metrics", headers={"Authorization": "Bearer guess-0123456789"})).status == 401
    r = await client.get("/metrics", headers={"Authorization": "Bearer guess-0123456789"})
    assert r.status == 429 and 55 <= int(r.headers["Retry-After"]) <= 60
    # only failed attempts are limited: the right token is compared first and always answered
    assert (await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})).status == 200
    r = await client.get("/metrics", headers={"Authorization": "Bearer guess-0123456789"})
    assert r.status == 429  # and the refused attempt did not count, nor did the right one free a slot


async def test_metrics_right_token_with_the_limiter_storage_down(aiohttp_client: Any) -> None:
    """Issue 18 item 8: with RATE_LIMIT_ON_STORAGE_ERROR=deny and the storage
    unreachable (nothing listens on port 1), the right token still gets
    /metrics; a wrong one gets 401 (its failure cannot be counted)."""
    token = "metrics-token-" + "m" * 20
    client = await aiohttp_client(make_app(METRICS_TOKEN=token, RATE_LIMIT_STORAGE="redis://127.0.0.1:1/0",
                                           RATE_LIMIT_ON_STORAGE_ERROR="deny", RATE_LIMIT_STORAGE_TIMEOUT="0.2"))
    for _ in range(3):
        assert (await client.get("/metrics", headers={"Authorization": "Bearer guess-0123456789"})).status == 401
        assert (await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})).status == 200
    body = await (await client.get("/healthz")).json()
    assert body["rate_limit_storage"] == "error"


def test_metrics_token_minimum_length() -> None:
    from agora_token_server.config import ConfigError
    from tests.support.service import make_settings

    for short in ("7", "short-token", "x" * 15):
        with pytest.raises(ConfigError) as info:
            make_settings(METRICS_TOKEN=short)
        assert info.value.variable == "METRICS_TOKEN" and short not in str(info.value)
    assert make_settings(METRICS_TOKEN="m" * 16).metrics.token == "m" * 16
