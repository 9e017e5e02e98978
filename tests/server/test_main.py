"""``python -m agora_token_server`` as a real process on a free loopback port: start-up,
real HTTP requests, graceful SIGTERM (exit 0), --workers 2, config errors."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from agora_token_server.testing import LiveServer, clean_environment
from tests.support.service import APP_CERTIFICATE, APP_ID, CREDENTIALS, check_chat, check_rtc, check_rtm

SERVER = [sys.executable, "-m", "agora_token_server"]


def start(tmp_path: Path, *args: str, **env: str) -> LiveServer:
    return LiveServer(tmp_path, env, args).wait_ready(workers=int(args[args.index("--workers") + 1])
                                                        if "--workers" in args else 1)


def call(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def exercise(port: int) -> None:
    status, headers, body = call(port, "GET", "/ping")
    assert (status, json.loads(body)) == (200, {"message": "pong"})
    assert headers["Cache-Control"] == "private, no-cache, no-store, must-revalidate"
    status, _, body = call(port, "POST", "/getToken", json.dumps(
        {"tokenType": "rtc", "channel": "live", "uid": "007", "role": "publisher", "expire": 600}).encode(),
        {"Content-Type": "application/json"})
    assert status == 200
    check_rtc(json.loads(body)["token"], "live", "7", True, 600)
    status, _, body = call(port, "GET", "/rtc/test/publisher/uid/123/")
    assert status == 200
    check_rtc(json.loads(body)["rtcToken"], "test", "123", True, 3600)
    status, _, body = call(port, "GET", "/rtm/alice?expiry=30")  # urllib follows the 301
    assert status == 200
    check_rtm(json.loads(body)["rtmToken"], "alice", 30)
    status, _, body = call(port, "GET", "/rtc/test/publisher/uid/99999999999/")
    assert status == 400 and json.loads(body)["status"] == 400
    status, _, _ = call(port, "GET", "/ping", headers={"Origin": "https://evil.example"})
    assert status == 403


@pytest.mark.parametrize("workers", [1, 2])
def test_serves_and_stops_gracefully(tmp_path, workers):
    server = start(tmp_path, "--workers", str(workers), **CREDENTIALS, CORS_ALLOW_ORIGIN="https://app.example")
    try:
        for _ in range(3 if workers > 1 else 1):
            exercise(server.port)
    finally:
        code = server.stop()
    text = server.log()
    assert code == 0, text
    assert "Traceback" not in text
    assert APP_CERTIFICATE not in text
    assert "open to anyone" in text
    assert "HTTP parser: C" in text
    assert "GET /ping 200" in text
    if workers > 1:
        assert text.count("listening on") == 2


@pytest.mark.slow
def test_inflight_request_completes_on_sigterm(tmp_path):
    hold = tmp_path / "hold"
    hold.touch()  # admitted token requests wait while it exists
    server = start(tmp_path, **CREDENTIALS, SHUTDOWN_DELAY="0", TEST_HOLD_FILE=str(hold))  # drain at once
    try:
        body = b'{"tokenType": "chat", "uid": "late", "expire": 60}'
        with socket.create_connection(("127.0.0.1", server.port), timeout=15) as s:
            s.sendall(b"POST /getToken HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body)
            time.sleep(0.4)  # the request is now held
            server.signal(signal.SIGTERM)
            time.sleep(0.4)
            hold.unlink()
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        assert data.startswith(b"HTTP/1.1 200"), data[:300]
        assert b"\r\nConnection: close\r\n" in data.split(b"\r\n\r\n", 1)[0] + b"\r\n"
        check_chat(json.loads(data.split(b"\r\n\r\n", 1)[1])["token"], "late", 60)
        assert server.proc.wait(timeout=20) == 0
    finally:
        server.stop()


@pytest.mark.parametrize("env, variable", [
    ({}, "APP_ID"),
    ({"APP_ID": APP_ID}, "APP_CERTIFICATE"),
    ({"APP_ID": APP_ID, "APP_CERTIFICATE": "0123456789abcdef0123456789abcdeX"}, "APP_CERTIFICATE"),
    ({"APP_ID": APP_ID, "APP_CERTIFICATE": APP_CERTIFICATE, "SERVER_PORT": "eighty"}, "SERVER_PORT"),
])
def test_config_error_is_one_line(tmp_path, env, variable):
    r = subprocess.run(SERVER, cwd=str(tmp_path), env=clean_environment(env),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert variable in lines[0]
    assert "Traceback" not in r.stderr
    assert "0123456789abcdef" not in r.stderr


def test_dotenv_in_working_directory(tmp_path):
    (tmp_path / ".env").write_text(f"APP_ID={APP_ID}\nAPP_CERTIFICATE={APP_CERTIFICATE}\n")
    server = start(tmp_path)
    try:
        status, _, body = call(server.port, "GET", "/chat/app/")
        assert status == 200
    finally:
        assert server.stop() == 0


def test_demo_mode_is_loud(tmp_path):
    server = start(tmp_path, "--demo")
    try:
        status, _, body = call(server.port, "GET", "/rtc/c/publisher/uid/1/")
        assert status == 200
    finally:
        assert server.stop() == 0
    text = server.log()
    assert "DEMO MODE" in text and "will NOT be accepted by Agora" in text


def test_port_in_use_fails(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run([*SERVER, "--host", "127.0.0.1", "--port", str(port)],
                           cwd=str(tmp_path), capture_output=True, text=True, timeout=30,
                           env=clean_environment(CREDENTIALS))
    assert r.returncode == 1
    assert "cannot listen" in r.stderr


def test_a_worker_freezes_its_startup_heap() -> None:
    """Full collections in a busy worker scanned the ~54,000 objects of its
    start-up every time (38-48 ms pauses under load): they are frozen before
    it listens, and objects made later are still collected."""
    import gc

    from agora_token_server.runner import freeze_startup_heap

    class Cycle:
        def __init__(self) -> None:
            self.me = self

    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() > 1000
        Cycle()  # garbage in a cycle, made after the freeze
        assert gc.collect() > 0
    finally:
        gc.unfreeze()
