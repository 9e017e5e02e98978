"""Admission counts only work taken on, against a real server process:
request bodies that are still arriving never use the ``MAX_INFLIGHT`` budget
that protects everyone, and each client (or authenticated caller) may have at
most ``MAX_UNFINISHED_PER_CLIENT`` of them (``429``, connection closed).

The stalled uploads come from their own loopback source addresses
(127.0.1.x): on Linux all of 127/8 is local, so each address is a client of
its own. Time limits here only catch hangs."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any, Optional

import pytest

from agora_token_server.testing import LiveServer, request
from tests.support.prometheus import sample
from tests.support.service import CREDENTIALS, check_chat

pytestmark = pytest.mark.slow

#: a token request's head that announces 100 bytes of body, and its first byte
STALLED = (b"POST /getToken HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: 100\r\n%s\r\n{")
KEY_A = "admission-key-a-" + "a" * 24
KEY_B = "admission-key-b-" + "b" * 24
#: not what these tests are about, and a machine busy with other work may take a second to serve one
NO_QUEUE_BUDGET = {"MAX_QUEUE_WAIT": "0"}


def stall(port: int, source: str, extra: bytes = b"") -> socket.socket:
    """A connection from ``source`` that sends a head and one byte of body, then nothing."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    s.sendall(STALLED % extra)
    return s


def wait_in_progress(url: str, at_least: int, refused: int = 0) -> None:
    """Until ``at_least`` requests are in progress and ``refused`` were
    answered 429 (at most 10 s: the assertions that follow tell what went wrong)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = request(f"{url}/metrics")[2].decode()
        if (sample(text, "agora_token_http_requests_in_progress") >= at_least + 1  # this request too
                and sample(text, "agora_token_http_requests_total", status="429") >= refused):
            return
        time.sleep(0.1)


def answer(sock: socket.socket, wait: float) -> Optional[bytes]:
    """What the server sent on ``sock`` until it closed it (None: nothing, still open)."""
    sock.settimeout(wait)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except socket.timeout:
        return data or None
    except ConnectionResetError:
        pass
    return data


def ordinary(url: str, n: int, headers: Optional[dict[str, str]] = None) -> list[int]:
    """``n`` ordinary token requests (POST /getToken and GET /rtc/..., alternately) from 127.0.0.1."""
    statuses = []
    for i in range(n):
        if i % 2:
            status, _, body = request(f"{url}/getToken", method="POST", body={"tokenType": "chat", "uid": "u1"},
                                      headers=headers, timeout=10)
            if status == 200:
                check_chat(json.loads(body)["token"], "u1", 3600)
        else:
            status = request(f"{url}/rtc/c/publisher/uid/{i}/", headers=headers, timeout=10)[0]
        statuses.append(status)
    return statuses


def test_stalled_uploads_do_not_use_the_inflight_budget(tmp_path: Path) -> None:
    """256 uploads stalled after one byte, 8 from each of 32 clients (the
    per-client cap): all are held, and every ordinary request from another
    client is served (before the fix: 0 of 20, all ``503 overloaded``)."""
    server = LiveServer(tmp_path, {**CREDENTIALS, "HTTP_BODY_TIMEOUT": "60"}).wait_ready()
    held = []
    try:
        held = [stall(server.port, f"127.0.1.{1 + i % 32}") for i in range(256)]
        wait_in_progress(server.url, 256)
        statuses = ordinary(server.url, 20)
        print(f"ordinary requests served while 256 uploads stall: {statuses.count(200)} of 20")
        assert statuses == [200] * 20
        assert request(f"{server.url}/healthz")[0] == 200
        assert [answer(s, 0.01) for s in held] == [None] * 256  # all still held, none refused
    finally:
        for s in held:
            s.close()
        server.stop()
    assert "Traceback" not in server.log()


def test_one_client_past_the_cap_gets_429_and_others_are_served(tmp_path: Path) -> None:
    """One address (and one IPv6 /64 behind a trusted proxy) may hold
    ``MAX_UNFINISHED_PER_CLIENT`` unfinished uploads; the next ones get 429
    with ``Retry-After: 1`` and their connection closed; complete requests,
    from it or from anyone else, are served."""
    server = LiveServer(tmp_path, {**CREDENTIALS, "HTTP_BODY_TIMEOUT": "60", "MAX_UNFINISHED_PER_CLIENT": "3",
                                   "TRUST_PROXY": "1", **NO_QUEUE_BUDGET}).wait_ready()
    held: list[socket.socket] = []
    try:
        held = [stall(server.port, "127.0.1.1") for _ in range(3)]
        wait_in_progress(server.url, 3)
        over = [stall(server.port, "127.0.1.1") for _ in range(4)]
        for s in over:
            data = answer(s, 5)
            assert data is not None, "a fourth unfinished upload from one client was not refused"
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 429") and b"Retry-After: 1\r\n" in head, head
            assert b"Connection: close" in head and "MAX_UNFINISHED_PER_CLIENT" in json.loads(body)["error"]
            s.close()
        # one client behind the proxy, cycling through its own /64: one bucket
        v6 = [stall(server.port, "127.0.1.2", b"X-Forwarded-For: 2001:db8:0:1::%x\r\n" % i) for i in range(5)]
        wait_in_progress(server.url, 6, refused=6)
        refused = [answer(s, 0.05) for s in v6]
        assert sum(1 for d in refused if d is not None and d.startswith(b"HTTP/1.1 429")) == 2
        held += v6
        assert ordinary(server.url, 6) == [200] * 6  # another client
        with socket.create_connection(("127.0.0.1", server.port), source_address=("127.0.1.1", 0)) as s:
            s.sendall(b"GET /rtc/c/publisher/uid/1/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert (answer(s, 5) or b"").startswith(b"HTTP/1.1 200")  # the capped client, complete request
        assert [answer(s, 0.01) for s in held[:3]] == [None] * 3
    finally:
        for s in held:
            s.close()
        server.stop()


def test_an_authenticated_caller_past_the_cap_gets_429_and_others_are_served(tmp_path: Path) -> None:
    """The cap is per authenticated caller, whatever addresses it comes
    from: one valid key holding unfinished uploads from 20 addresses gets 429
    past 8; the other key, and the first one's requests without a body, are served."""
    server = LiveServer(tmp_path, {**CREDENTIALS, "HTTP_BODY_TIMEOUT": "60", "AUTH_API_KEYS": f"{KEY_A},{KEY_B}",
                                   "RATE_LIMIT": "1000/s", **NO_QUEUE_BUDGET}).wait_ready()
    conns: list[socket.socket] = []
    try:
        header = b"X-API-Key: " + KEY_A.encode() + b"\r\n"
        for i in range(20):
            conns.append(stall(server.port, f"127.0.1.{1 + i}", header))
        wait_in_progress(server.url, 8, refused=12)
        answers = [answer(s, 0.05) for s in conns]
        refused = [d for d in answers if d is not None]
        assert len(refused) == 12, [d[:40] if d else d for d in answers]
        assert all(d.startswith(b"HTTP/1.1 429") and b"Retry-After: 1\r\n" in d for d in refused)
        held = [s for s, d in zip(conns, answers) if d is None]
        assert ordinary(server.url, 10, {"X-API-Key": KEY_B}) == [200] * 10
        # the capped caller's requests without a body (a POST whose body comes in a later TCP
        # segment than its head, as Python's http.client sends it, is one more unfinished upload)
        assert [request(f"{server.url}/rtm/u{i}/", headers={"X-API-Key": KEY_A})[0] for i in range(4)] == [200] * 4
        # without credentials: 401, not counted against anyone's uploads
        with stall(server.port, "127.0.1.99") as anonymous:
            assert anonymous.recv(65536).startswith(b"HTTP/1.1 401")
        assert [answer(s, 0.01) for s in held] == [None] * 8  # still held
    finally:
        for s in conns:
            s.close()
        server.stop()
    assert "Traceback" not in server.log()


async def test_pipeline_and_guard_errors_take_the_route_family_shape(aiohttp_client: Any) -> None:
    """``POST /token/generate`` answers errors as ``{"code": -1, "message", "data": ""}``: so do the
    refusals of the pipeline and the guard on it (401, 403, 415, 429); ``/getToken`` keeps ``{"error"}``."""
    from tests.support.service import make_app

    c = await aiohttp_client(make_app(AUTH_API_KEYS=KEY_A, RATE_LIMIT="2/min",
                                      CORS_ALLOW_ORIGIN="https://app.example"))
    key = {"X-API-Key": KEY_A}

    async def shape(path: str, status: int, **kw: Any) -> set[str]:
        r = await c.post(path, **kw)
        assert r.status == status, (path, status, await r.text())
        body = await r.json()
        if "code" in body:
            assert body["code"] == -1 and body["data"] == "" and body["message"]
        return set(body)

    code, error = {"code", "message", "data"}, {"error"}
    for path, expected in (("/token/generate", code), ("/getToken", error)):
        assert await shape(path, 401, json={}) == expected
        assert await shape(path, 403, json={}, headers={**key, "Origin": "https://evil.example"}) == expected
        assert await shape(path, 415, data=b"{}", headers={**key, "Content-Encoding": "gzip"}) == expected
    for _ in range(2):  # the key's two requests a minute (the 401s spent the client address's)
        await c.post("/token/generate", json={}, headers=key)
    assert await shape("/token/generate", 429, json={}, headers=key) == code
    assert await shape("/getToken", 429, json={}, headers=key) == error


async def test_the_guard_keys_ipv6_clients_by_prefix(aiohttp_client: Any) -> None:
    """The rate limit of anonymous callers and the failed-auth budget: one
    bucket per /64 (``RATE_LIMIT_IPV6_PREFIX``), however many addresses of
    it a client cycles through; another /64 has its own."""
    from tests.support.service import make_app

    for env, answer_status in (({}, 200), ({"AUTH_API_KEYS": KEY_A}, 401)):  # rate limit, failed-auth budget
        c = await aiohttp_client(make_app(RATE_LIMIT="2/min", TRUST_PROXY="1", **env))

        async def status(address: str, c: Any = c) -> int:
            return (await c.get("/rtc/c/publisher/uid/1/", headers={"X-Forwarded-For": address})).status

        assert [await status(f"2001:db8:0:1::{i}") for i in range(1, 4)] == [answer_status] * 2 + [429], env
        assert await status("2001:db8:0:2::1") == answer_status
