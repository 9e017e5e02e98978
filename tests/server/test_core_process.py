"""``python -m server`` as a real process on a free loopback port: start-up,
real HTTP requests, graceful SIGTERM (exit 0), --workers 2, config errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _core import APP_CERTIFICATE, APP_ID, ROOT, check_rtc, check_rtm  # noqa: E402

_CLEAR = ("APP_ID", "APP_CERTIFICATE", "SERVER_PORT", "PORT", "HOST", "CORS_ALLOW_ORIGIN")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in _CLEAR and not k.startswith(("AUTH_", "RATE_", "MAX_EXPIRE", "METRICS", "LOG_"))}
    env.update(extra)
    return env


def start(tmp_path: Path, *args: str, **env: str) -> tuple[subprocess.Popen, int, Path]:
    port = free_port()
    log = tmp_path / f"server-{port}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(port), *args],
        cwd=str(tmp_path), env={**env_for(**env), "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=open(log, "wb"))
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as r:
                if r.status == 200:
                    break
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("server did not start:\n" + log.read_text())
        time.sleep(0.1)
    return proc, port, log


def call(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


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
    proc, port, log = start(tmp_path, "--workers", str(workers),
                            APP_ID=APP_ID, APP_CERTIFICATE=APP_CERTIFICATE,
                            CORS_ALLOW_ORIGIN="https://app.example")
    try:
        for _ in range(3 if workers > 1 else 1):
            exercise(port)
    finally:
        code = stop(proc)
    text = log.read_text()
    assert code == 0, text
    assert "Traceback" not in text
    assert APP_CERTIFICATE not in text
    assert "open to anyone" in text
    assert "HTTP parser: C" in text
    assert "GET /ping 200" in text
    if workers > 1:
        assert text.count("listening on") == 2


_SLOW_SERVER = """
import asyncio, sys
from server import app as A

async def slow(request, *args):  # a slow issuing hook: keeps the request in flight
    await asyncio.sleep(1.0)

A.FEATURE_SETUPS.append(lambda app: app[A.ISSUE_HOOKS].append(slow))
from server.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


def test_inflight_request_completes_on_sigterm(tmp_path):
    port = free_port()
    log = tmp_path / "slow.log"
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_SERVER, "--host", "127.0.0.1", "--port", str(port)],
                            cwd=str(tmp_path), stderr=open(log, "wb"),
                            env={**env_for(APP_ID=APP_ID, APP_CERTIFICATE=APP_CERTIFICATE),
                                 "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 20
        while "listening on" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        body = b'{"tokenType": "chat", "uid": "late", "expire": 60}'
        with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
            s.sendall(b"POST /getToken HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body)
            time.sleep(0.4)  # the handler is now in its slow hook
            proc.send_signal(signal.SIGTERM)
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        assert data.startswith(b"HTTP/1.1 200"), data[:300]
        from _core import check_chat
        check_chat(json.loads(data.split(b"\r\n\r\n", 1)[1])["token"], "late", 60)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("env, variable", [
    ({}, "APP_ID"),
    ({"APP_ID": APP_ID}, "APP_CERTIFICATE"),
    ({"APP_ID": APP_ID, "APP_CERTIFICATE": "0123456789abcdef0123456789abcdeX"}, "APP_CERTIFICATE"),
    ({"APP_ID": APP_ID, "APP_CERTIFICATE": APP_CERTIFICATE, "SERVER_PORT": "eighty"}, "SERVER_PORT"),
])
def test_config_error_is_one_line(tmp_path, env, variable):
    r = subprocess.run([sys.executable, "-m", "server"], cwd=str(tmp_path),
                       env={**env_for(**env), "PYTHONPATH": str(ROOT)},
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert variable in lines[0]
    assert "Traceback" not in r.stderr
    assert "0123456789abcdef" not in r.stderr


def test_dotenv_in_working_directory(tmp_path):
    (tmp_path / ".env").write_text(f"APP_ID={APP_ID}\nAPP_CERTIFICATE={APP_CERTIFICATE}\n")
    proc, port, _ = start(tmp_path)
    try:
        status, _, body = call(port, "GET", "/chat/app/")
        assert status == 200
    finally:
        assert stop(proc) == 0


def test_demo_mode_is_loud(tmp_path):
    proc, port, log = start(tmp_path, "--demo")
    try:
        status, _, body = call(port, "GET", "/rtc/c/publisher/uid/1/")
        assert status == 200
    finally:
        assert stop(proc) == 0
    text = log.read_text()
    assert "DEMO MODE" in text and "will NOT be accepted by Agora" in text


def test_port_in_use_fails(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(port)],
                           cwd=str(tmp_path), capture_output=True, text=True, timeout=30,
                           env={**env_for(APP_ID=APP_ID, APP_CERTIFICATE=APP_CERTIFICATE),
                                "PYTHONPATH": str(ROOT)})
    assert r.returncode == 1
    assert "cannot listen" in r.stderr
