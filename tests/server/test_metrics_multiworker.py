"""Metrics are right across processes: ``python -m server --workers 2``,
N requests on fresh connections (so both workers serve some), and one scrape
(answered by either worker) reports exactly N."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from agora_token import verify
from agora_token_server.metrics import FLUSH_INTERVAL
from agora_token_server.testing import LiveServer, request
from tests.support.prometheus import sample
from tests.support.service import CREDENTIALS

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not sys.platform.startswith("linux"),
                                 reason="needs /proc and SO_REUSEPORT")]

N = 60


def children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def metrics_dir_of(pid: int) -> str | None:
    """The directory of the prometheus-client files a worker has mapped (its
    PROMETHEUS_MULTIPROC_DIR: set by the parent after exec, so not in /proc/PID/environ)."""
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and parts[5].endswith(".db") and f"_{pid}.db" in parts[5]:
            return os.path.dirname(parts[5])
    return None


def test_two_workers_totals(tmp_path: Path) -> None:
    server = LiveServer(tmp_path, CREDENTIALS, ("--workers", "2"))
    with server:
        # wait until both workers are up (the parent supervises them)
        deadline = time.monotonic() + 30
        while len(children(server.proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = children(server.proc.pid)
        assert len(workers) >= 2, server.log()
        deadline = time.monotonic() + 30
        while not all(metrics_dir_of(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        mp_dir = metrics_dir_of(workers[0])
        assert mp_dir and os.path.isdir(mp_dir), "workers must use a PROMETHEUS_MULTIPROC_DIR"
        assert all(metrics_dir_of(w) == mp_dir for w in workers), "workers must share it"

        for i in range(N):
            if i % 3 == 0:
                status, _, body = request(f"{server.url}/rtc/test/publisher/uid/{i}/")
            else:
                status, _, body = request(f"{server.url}/getToken",
                                          method="POST", body={"tokenType": "rtc", "channel": "test",
                                                               "role": "publisher", "uid": str(i)})
            assert status == 200, body
        bad, _, _ = request(f"{server.url}/getToken", method="POST", raw=b"{not json",
                            headers={"Content-Type": "application/json"})
        assert bad == 400

        # each worker pushes its counts every FLUSH_INTERVAL (1 s): totals settle within it
        def served(text: str) -> float:
            return (sample(text, "agora_token_http_requests_total", route="/getToken", status="200")
                    + sample(text, "agora_token_http_requests_total",
                                    route="/rtc/{channelName}/{role}/{tokenType}/{rtcuid}/", status="200"))

        deadline = time.monotonic() + 3 * FLUSH_INTERVAL + 5
        while True:
            status, headers, body = request(f"{server.url}/metrics")
            assert status == 200
            text = body.decode()
            if served(text) >= N or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert served(text) == N
        # which worker wrote samples: one counter file per serving pid
        pids = {p.stem.rsplit("_", 1)[-1] for p in Path(mp_dir).glob("counter_*.db")}
        assert len(pids) >= 2, f"only {pids} served (expected both workers)"
        assert sample(text, "agora_token_http_requests_total", route="/getToken", status="400") == 1
        assert sample(text, "agora_token_tokens_issued_total", type="rtc") == N
        assert sample(text, "agora_token_http_request_duration_seconds_count", route="/getToken") == \
            N - len(range(0, N, 3)) + 1
        # a second scrape (maybe the other worker) agrees
        status, _, body2 = request(f"{server.url}/metrics")
        assert sample(body2.decode(), "agora_token_tokens_issued_total", type="rtc") == N
        # tokens are real
        status, _, body = request(f"{server.url}/getToken", method="POST",
                                  body={"tokenType": "rtc", "channel": "c", "uid": "1"})
        import json
        assert verify(json.loads(body)["token"], CREDENTIALS["APP_CERTIFICATE"])
    assert server.proc.returncode == 0, server.log()
    assert not os.path.exists(mp_dir), "the metrics directory is removed at exit"
