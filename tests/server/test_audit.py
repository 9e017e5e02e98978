"""The audit trail (server/audit.py), driven through the API the request path
calls: lines, fields, secrets, throttling, rotation, write failures, shutdown."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest

import agora_token
from agora_token import ApaasTokenBuilder, ChatTokenBuilder
from agora_token_server import audit, metrics
from agora_token_server.audit import AuditSettings, AuditTrail, parse_audit_settings
from agora_token_server.auth import Caller
from agora_token_server.config import ConfigError
from agora_token_server.state import RequestContext, Route
from tests.support.service import APP_CERTIFICATE, APP_ID, make_app

KEY_CALLER = Caller(id="key:1a2b3c4d5e6f", kind="key")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _unused(request: Any) -> Any:
    raise AssertionError("not called")


def context(rid: str = "req-1", route: str = "/getToken", caller: Any = KEY_CALLER,
            remote: str = "10.0.0.7") -> RequestContext:
    ctx = RequestContext(rid, Route("POST", route, _unused, "op", "", "tokens", guarded=True, sheddable=True))
    ctx.caller = caller
    ctx.remote = remote
    return ctx


def lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    assert text == "" or text.endswith("\n"), "a line was split"
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def trail_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.log"


def test_issued_line_describes_the_token_and_nothing_secret(trail_path: Path) -> None:
    trail = AuditTrail(str(trail_path))
    token = agora_token.rtc_token(APP_ID, APP_CERTIFICATE, "lobby", 42, role="publisher", expire=600)
    issue_ts = agora_token.parse(token).issue_ts
    trail.issued(context(), [token])
    trail.close()
    text = trail_path.read_text()
    assert token not in text and APP_CERTIFICATE not in text and token[3:40] not in text
    [line] = lines(trail_path)
    assert list(line)[:9] == ["time", "event", "request_id", "caller", "client", "route", "expire", "expires_at",
                              "services"]
    assert line["event"] == "token.issued" and line["time"].endswith("Z") and "T" in line["time"]
    assert line["request_id"] == "req-1" and "trace_id" not in line
    assert line["caller"] == "key:1a2b3c4d5e6f" and line["client"] == "10.0.0.7" and line["route"] == "/getToken"
    expires_at = agora_token.description.iso(issue_ts + 600)
    assert line["expire"] == 600 and line["expires_at"] == expires_at
    [svc] = line["services"]
    assert svc["kind"] == "rtc" and svc["channel"] == "lobby" and svc["uid"] == "42"
    assert svc["privileges"] == dict.fromkeys(
        ["joinChannel", "publishAudioStream", "publishVideoStream", "publishDataStream"], expires_at)
    assert os.stat(trail_path).st_mode & 0o777 == 0o640 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_two_tokens_of_one_request_share_its_id(trail_path: Path) -> None:
    """/rte issues an RTC and an RTM token: two lines, one request id; a
    privilege expire of 0 (no limit of its own) is null; the RTM user is ``user``."""
    trail = AuditTrail(str(trail_path))
    rtc = agora_token.rtc_token(APP_ID, APP_CERTIFICATE, "lobby", 0, role="subscriber", expire=300,
                                privilege_expire=0)
    rtm = agora_token.rtm_token(APP_ID, APP_CERTIFICATE, "alice", expire=300, channel="lobby")
    trail.issued(context("rte-7", "/rte/{channelName}/{role}/{tokenType}/{rtcuid}/"), [rtc, rtm])
    trail.close()
    first, second = lines(trail_path)
    assert first["request_id"] == second["request_id"] == "rte-7"
    assert first["services"] == [{"kind": "rtc", "channel": "lobby", "uid": "0", "privileges": {"joinChannel": None}}]
    kinds = [(s["kind"], s.get("user"), s.get("uid")) for s in second["services"]]
    assert sorted(kinds, key=str) == [("rtc", None, "alice"), ("rtm", "alice", None)]


def test_app_tokens_and_other_kinds_name_their_fields(trail_path: Path) -> None:
    trail = AuditTrail(str(trail_path))
    chat_app = ChatTokenBuilder.build_app_token(APP_ID, APP_CERTIFICATE, 600)
    apaas = ApaasTokenBuilder.build_room_user_token(APP_ID, APP_CERTIFICATE, "room-1", "user-1", 2, 600)
    trail.issued(context(route="/token/generate"), [chat_app, apaas])
    trail.close()
    chat_line, apaas_line = lines(trail_path)
    [chat] = chat_line["services"]
    assert chat == {"kind": "chat", "privileges": {"app": chat["privileges"]["app"]}}
    rtm, chat_user, room = apaas_line["services"]  # Agora's room-user token: RTM, Chat and APaaS
    assert rtm["kind"] == "rtm" and rtm["user"] == "user-1" and chat_user["kind"] == "chat"
    assert room["kind"] == "apaas" and room["room"] == "room-1" and room["user"] == "user-1" and room["role"] == 2


def test_denied_lines_carry_status_and_reason(trail_path: Path) -> None:
    trail = AuditTrail(str(trail_path))
    jwt_caller = Caller(id="jwt:alice", kind="jwt", sub="alice")
    trail.denied(context("r1", caller=jwt_caller), 403, "forbidden_uid")
    trail.denied(context("r2"), 400, "policy")
    trail.denied(context("r3", caller=None, remote="203.0.113.9"), 401, "invalid_api_key")
    trail.denied(context("r4", caller=Caller(id="anonymous", kind="anonymous")), 429, "rate_limited")
    trail.close()
    got = [(x["request_id"], x["event"], x["caller"], x["client"], x["status"], x["reason"])
           for x in lines(trail_path)]
    assert got == [("r1", "token.denied", "jwt:alice", "10.0.0.7", 403, "forbidden_uid"),
                   ("r2", "token.denied", "key:1a2b3c4d5e6f", "10.0.0.7", 400, "policy"),
                   ("r3", "token.denied", None, "203.0.113.9", 401, "invalid_api_key"),
                   ("r4", "token.denied", None, "10.0.0.7", 429, "rate_limited")]
    assert all("services" not in x and "expire" not in x for x in lines(trail_path))


def test_stderr_lines_name_the_logger() -> None:
    out = io.StringIO()
    trail = AuditTrail("stderr", stream=out)
    trail.denied(context(), 403, "forbidden_channel")
    trail.close()
    line = json.loads(out.getvalue())
    assert list(line)[:4] == ["time", "level", "logger", "event"]
    assert line["logger"] == "server.audit" and line["level"] == "INFO"


def test_unauthenticated_denials_are_throttled_per_client(trail_path: Path) -> None:
    clock = Clock()
    trail = AuditTrail(str(trail_path), clock=clock)
    for i in range(30):
        trail.denied(context(f"a{i}", caller=None, remote="203.0.113.9"), 401, "invalid_api_key")
        trail.denied(context(f"q{i}", remote="198.51.100.4"), 429, "rate_limited")
    for i in range(5):  # 403s of authenticated callers are never throttled
        trail.denied(context(f"f{i}", remote="203.0.113.9"), 403, "forbidden_uid")
    trail.denied(context("other", caller=None, remote="192.0.2.1"), 401, "missing_credentials")
    trail.flush()
    first = lines(trail_path)
    by_client = {c: [x for x in first if x["client"] == c and x["status"] != 403]
                 for c in ("203.0.113.9", "198.51.100.4", "192.0.2.1")}
    assert len(by_client["203.0.113.9"]) == audit.DENIED_PER_CLIENT
    assert len(by_client["198.51.100.4"]) == audit.DENIED_PER_CLIENT
    assert len(by_client["192.0.2.1"]) == 1
    assert sum(x["status"] == 403 for x in first) == 5
    # the next window: the next line of a client reports how many were left out
    clock.now += audit.DENIED_INTERVAL
    trail.denied(context("later", caller=None, remote="203.0.113.9"), 401, "invalid_api_key")
    trail.flush()
    new = lines(trail_path)[len(first):]
    later = [x for x in new if x.get("request_id") == "later"]
    assert later and later[0]["suppressed"] == 30 - audit.DENIED_PER_CLIENT
    # 198.51.100.4 sent nothing more: its count is written when its window is over, or at shutdown
    summaries = [x for x in new if x["event"] == "token.denied.suppressed"]
    assert summaries == [{"time": summaries[0]["time"], "event": "token.denied.suppressed",
                          "client": "198.51.100.4", "suppressed": 30 - audit.DENIED_PER_CLIENT}]
    for _ in range(15):
        trail.denied(context("burst", caller=None, remote="192.0.2.1"), 401, "invalid_api_key")
    trail.close()
    tail = lines(trail_path)[-1]
    assert tail["event"] == "token.denied.suppressed" and tail["client"] == "192.0.2.1"
    assert tail["suppressed"] == 15 - audit.DENIED_PER_CLIENT


def test_the_throttle_table_is_bounded(trail_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "MAX_THROTTLED_CLIENTS", 5)
    trail = AuditTrail(str(trail_path), clock=Clock())
    for i in range(40):
        trail.denied(context(f"r{i}", caller=None, remote=f"10.1.0.{i}"), 401, "invalid_api_key")
    assert len(trail._throttles) <= 6  # 5 clients and the shared budget of the rest
    trail.close()
    written = lines(trail_path)
    denied = [x for x in written if x["event"] == "token.denied"]
    assert len(denied) == 5 + audit.DENIED_PER_CLIENT
    assert sum(x["suppressed"] for x in written if x["event"] == "token.denied.suppressed") == 40 - len(denied)


def test_rotation_reopens_the_file_without_losing_or_splitting_a_line(trail_path: Path) -> None:
    """logrotate without copytruncate: the file is renamed (twice here)
    between writes; the trail notices at its next write (device and inode)."""
    trail = AuditTrail(str(trail_path))
    rotated = [trail_path.with_suffix(".log.2"), trail_path.with_suffix(".log.1")]
    for i in range(60):
        trail.denied(context(f"r{i}"), 403, "forbidden_uid")  # no event loop: written at once
        if i in (19, 39):
            os.rename(trail_path, rotated[0 if i == 19 else 1])
    trail.close()
    files = [*rotated, trail_path]
    ids = [[x["request_id"] for x in lines(f)] for f in files]
    assert ids == [[f"r{i}" for i in range(k, k + 20)] for k in (0, 20, 40)]


async def test_buffered_lines_are_written_at_shutdown(trail_path: Path) -> None:
    trail = AuditTrail(str(trail_path))
    token = agora_token.rtm_token(APP_ID, APP_CERTIFICATE, "bob")
    trail.issued(context(), [token])
    trail.denied(context(), 403, "forbidden")
    assert not trail_path.exists() or trail_path.read_text() == ""  # buffered: off the request path
    audit.flush_all()
    assert [x["event"] for x in lines(trail_path)] == ["token.issued", "token.denied"]
    trail.close()


async def test_lines_are_written_in_batches_by_the_timer(trail_path: Path) -> None:
    trail = AuditTrail(str(trail_path))
    for i in range(3):
        trail.denied(context(f"r{i}"), 403, "forbidden")
    for _ in range(100):  # bounded wait for the 50 ms timer
        if trail_path.exists() and trail_path.read_text().count("\n") == 3:
            break
        await asyncio.sleep(0.01)
    assert len(lines(trail_path)) == 3
    trail.close()


def test_full_disk_is_counted_logged_once_and_retried(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """/dev/full: every write fails with ENOSPC. The lines are kept, each
    failure counted in /metrics, logged once per interval; once the file can
    be written again (here: the path names a writable file), every kept line
    is written."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    trail = AuditTrail("/dev/full", clock=Clock())
    before = metrics.LOCAL.audit_write_errors
    with caplog.at_level(logging.ERROR, logger="server"):
        for i in range(5):
            trail.denied(context(f"r{i}"), 403, "forbidden_uid")
    assert metrics.LOCAL.audit_write_errors - before == 5
    logged = [r for r in caplog.records if "audit log /dev/full" in r.getMessage()]
    assert len(logged) == 1 and "No space left on device" in logged[0].getMessage()
    metrics.flush()
    body, _ = metrics.render()
    assert b"agora_token_audit_write_errors_total" in body
    freed = tmp_path / "audit.log"
    trail.path = str(freed)  # the disk has room again
    trail.flush()
    assert [x["request_id"] for x in lines(freed)] == [f"r{i}" for i in range(5)]
    trail.close()


def test_lines_beyond_the_retry_buffer_are_dropped_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    monkeypatch.setattr(audit, "MAX_PENDING_BYTES", 1000)
    trail = AuditTrail("/dev/full", clock=Clock())
    before = metrics.LOCAL.audit_lines_dropped
    for i in range(20):
        trail.denied(context(f"r{i}"), 403, "forbidden_uid")
    dropped = metrics.LOCAL.audit_lines_dropped - before
    kept = trail._pending.count(b"\n")
    assert dropped > 0 and kept > 0 and dropped + kept == 20
    trail._pending.clear()
    trail.close()


def test_a_broken_stderr_is_counted() -> None:
    out = io.StringIO()
    out.close()
    trail = AuditTrail("stderr", stream=out)
    before = metrics.LOCAL.audit_lines_dropped
    trail.denied(context(), 403, "forbidden")
    assert metrics.LOCAL.audit_lines_dropped - before == 1


def test_secrets_in_values_are_masked(trail_path: Path) -> None:
    """Every line goes through the masker: a caller id or channel shaped like
    a token never reaches the file as it is."""
    token = agora_token.rtc_token(APP_ID, APP_CERTIFICATE, "c", 1)
    trail = AuditTrail(str(trail_path))
    trail.denied(context(caller=Caller(id=f"jwt:{token}", kind="jwt")), 403, "forbidden")
    trail.close()
    assert token not in trail_path.read_text() and "[redacted" in trail_path.read_text()


def test_module_api_and_settings(tmp_path: Path) -> None:
    assert parse_audit_settings({}) == AuditSettings() and not AuditSettings().enabled
    assert parse_audit_settings({"AUDIT_LOG": "off"}).destination is None
    assert parse_audit_settings({"AUDIT_LOG": "stderr"}).destination == "stderr"
    path = tmp_path / "a.log"
    assert parse_audit_settings({"AUDIT_LOG": str(path)}).destination == str(path)
    with pytest.raises(ConfigError, match="AUDIT_LOG.*does not exist"):
        parse_audit_settings({"AUDIT_LOG": str(tmp_path / "missing" / "a.log")})
    with pytest.raises(ConfigError, match="AUDIT_LOG.*directory"):
        parse_audit_settings({"AUDIT_LOG": str(tmp_path)})
    audit.denied(context(), 403, "forbidden")  # off: nothing, no error
    try:
        assert audit.start(AuditSettings(str(path))) is audit.TRAIL
        audit.issued(context("m1"), [agora_token.rtm_token(APP_ID, APP_CERTIFICATE, "carol")])
        audit.denied(context("m2"), 400, "policy")
    finally:
        audit.stop()
    assert audit.TRAIL is None
    assert [x["request_id"] for x in lines(path)] == ["m1", "m2"]


# ------------------------------------------------------------------ through the service (phase 2 hooks)

ROOT = Path(__file__).resolve().parents[2]


JWT_SECRET = "s" * 40


@pytest.fixture
def audited(trail_path: Path) -> Any:
    """The process's trail, started before the app is built (as the runner does)."""
    audit.start(AuditSettings(str(trail_path)))
    yield trail_path
    audit.stop()


async def _service(aiohttp_client: Any, **env: str) -> Any:
    return await aiohttp_client(make_app(**env))


async def test_every_token_route_writes_issued_lines(audited: Path, aiohttp_client: Any) -> None:
    client = await _service(aiohttp_client)
    r1 = await client.post("/getToken", json={"tokenType": "rtc", "channel": "lobby", "uid": "42"})
    r2 = await client.get("/rte/lobby/publisher/uid/42/")
    r3 = await client.post("/token/generate", json={"channelName": "lobby", "uid": "7", "tokenExpireTs": 600,
                                                    "serviceRtc": {"enable": True, "role": 2}})
    r4 = await client.post("/getToken", json={"tokenType": "rtc", "channel": "", "uid": "42"})  # malformed
    assert [r.status for r in (r1, r2, r3, r4)] == [200, 200, 200, 400]
    audit.flush_all()
    got = lines(audited)
    assert [(x["request_id"], x["route"]) for x in got] == [
        (r1.headers["X-Request-ID"], "/getToken"),
        (r2.headers["X-Request-ID"], "/rte/{channelName}/{role}/{tokenType}/{rtcuid}/"),
        (r2.headers["X-Request-ID"], "/rte/{channelName}/{role}/{tokenType}/{rtcuid}/"),
        (r3.headers["X-Request-ID"], "/token/generate")]
    assert all(x["event"] == "token.issued" and x["client"] == "127.0.0.1" and x["caller"] is None for x in got)
    assert got[0]["services"][0]["channel"] == "lobby" and got[3]["expire"] == 600
    answer = await r1.json()
    assert answer["token"] not in audited.read_text()


async def test_refusals_are_audited_with_their_reasons(audited: Path, aiohttp_client: Any) -> None:
    import jwt

    key = "k" * 32
    client = await _service(aiohttp_client, AUTH_API_KEYS=key, AUTH_JWT_SECRET=JWT_SECRET, RATE_LIMIT="3/min",
                            MAX_EXPIRE="600")
    body = {"tokenType": "rtc", "channel": "lobby", "uid": "42", "expire": 600}
    wrong = await client.post("/getToken", json=body, headers={"X-API-Key": "w" * 32})
    too_long = await client.post("/getToken", json={**body, "expire": 3600}, headers={"X-API-Key": key})
    long_channel = await client.post("/getToken", json={**body, "channel": "c" * 65}, headers={"X-API-Key": key})
    token = jwt.encode({"sub": "42", "exp": int(time.time()) + 600, "channels": ["other"]}, JWT_SECRET,
                       algorithm="HS256")
    forbidden = await client.post("/getToken", json=body, headers={"Authorization": f"Bearer {token}"})
    ok = await client.post("/getToken", json=body, headers={"X-API-Key": key})
    limited = await client.post("/getToken", json=body, headers={"X-API-Key": key})
    statuses = [r.status for r in (wrong, too_long, long_channel, forbidden, ok, limited)]
    assert statuses == [401, 400, 400, 403, 200, 429]  # a channel over 64 bytes is a malformed request: no line
    audit.flush_all()
    got = [(x["event"], x.get("status"), x.get("reason"), x["caller"]) for x in lines(audited)]
    fingerprint = got[1][3]
    assert fingerprint.startswith("key:") and key not in audited.read_text()
    assert got == [("token.denied", 401, "invalid_api_key", None),
                   ("token.denied", 400, "policy", fingerprint),
                   ("token.denied", 403, "forbidden_channel", "jwt:42"),
                   ("token.issued", None, None, fingerprint),
                   ("token.denied", 429, "rate_limited", fingerprint)]


@pytest.mark.slow
def test_a_service_process_writes_its_audit_lines_at_sigterm(tmp_path: Path) -> None:
    from agora_token_server.testing import LiveServer, request
    from tests.support.service import CREDENTIALS

    path = tmp_path / "audit.log"
    server = LiveServer(tmp_path, {**CREDENTIALS, "AUDIT_LOG": str(path)}, ["--workers", "2"]).wait_ready(workers=2)
    try:
        for i in range(20):
            status, _, _ = request(f"{server.url}/getToken", "POST",
                                   {"tokenType": "rtm", "uid": f"user-{i}"})
            assert status == 200
    finally:
        assert server.stop() == 0
    users = sorted(x["services"][0]["user"] for x in lines(path))
    assert users == sorted(f"user-{i}" for i in range(20))
