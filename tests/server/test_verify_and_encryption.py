"""POST /verifyToken (server/verify.py) and GET /encryption
(server/encryption.py), in process."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import datetime, timezone
from typing import Any

import pytest

import agora_token
from agora_token import AccessToken, ServiceChat, ServiceRtc, ServiceRtm
from agora_token.legacy import RtcTokenBuilder006, RtmTokenBuilder006
from agora_token_server.app import create_app
from agora_token_server.config import load_settings
from tests.support.credentials import APP_CERTIFICATE, APP_ID

CERT = APP_CERTIFICATE
OTHER_APP = "3edf87da6dc2bd9a148492b81d6e1f89"
OTHER_CERT = "62847AC1D94938AD0267CDF6A2D778CD"
KEY = "verify-test-key-" + "v" * 20


@pytest.fixture
async def client(aiohttp_client: Any) -> Any:
    s = load_settings({"APP_ID": APP_ID, "APP_CERTIFICATE": CERT}, dotenv_path=None)
    return await aiohttp_client(create_app(s))


async def verify(client: Any, body: Any, headers: Any = None) -> Any:
    return await client.post("/verifyToken", data=json.dumps(body),
                             headers={"Content-Type": "application/json", **(headers or {})})


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_valid_rtc_token(client: Any) -> None:
    token = agora_token.rtc_token(APP_ID, CERT, "room", 42, role="publisher", expire=600)
    t = agora_token.parse(token)
    r = await verify(client, {"token": token})
    assert r.status == 200
    data = await r.json()
    assert data["valid"] is True and data["reason"] is None
    assert data["version"] == "007" and data["appId"] == APP_ID
    assert data["issuedAt"] == iso(t.issue_ts) and data["expiresAt"] == iso(t.issue_ts + 600)
    assert data["expired"] is False
    assert data["services"] == [{
        "type": "rtc", "channel": "room", "uid": "42",
        "privileges": {name: {"expire": 600, "expiresAt": iso(t.issue_ts + 600)} for name in (
            "joinChannel", "publishAudioStream", "publishVideoStream", "publishDataStream")},
    }]


async def test_services_of_rtm_and_chat_tokens(client: Any) -> None:
    tok = AccessToken(APP_ID, CERT, expire=100)
    rtc = ServiceRtc("ch", 0)
    rtc.add_privilege(1, 0)
    tok.add_service(rtc)
    rtm = ServiceRtm("bob")
    rtm.add_privilege(1, 100)
    tok.add_service(rtm)
    chat = ServiceChat("")
    chat.add_privilege(2, 50)
    tok.add_service(chat)
    data = await (await verify(client, {"token": tok.build()})).json()
    assert data["valid"] is True
    rtc_s, rtm_s, chat_s = data["services"]
    assert rtc_s["uid"] == "0" and rtc_s["privileges"]["joinChannel"] == {"expire": 0, "expiresAt": None}
    assert rtm_s == {"type": "rtm", "userId": "bob",
                     "privileges": {"login": {"expire": 100, "expiresAt": iso(tok.issue_ts + 100)}}}
    assert chat_s["type"] == "chat" and chat_s["userId"] == "" and "app" in chat_s["privileges"]


async def test_wrong_certificate(client: Any) -> None:
    token = agora_token.rtc_token(APP_ID, OTHER_CERT, "room", 1)
    data = await (await verify(client, {"token": token})).json()
    assert data["valid"] is False and "certificate" in data["reason"]
    assert CERT not in json.dumps(data) and OTHER_CERT not in json.dumps(data)


async def test_foreign_app_id(client: Any) -> None:
    token = agora_token.rtm_token(OTHER_APP, OTHER_CERT, "bob")
    data = await (await verify(client, {"token": token})).json()
    assert data["valid"] is False and "app id" in data["reason"] and data["appId"] == OTHER_APP


async def test_expired_token_is_valid_but_expired(client: Any) -> None:
    tok = AccessToken(APP_ID, CERT, expire=60, issue_ts=int(time.time()) - 3600)
    s = ServiceRtm("bob")
    s.add_privilege(1, 60)
    tok.add_service(s)
    data = await (await verify(client, {"token": tok.build()})).json()
    assert data["valid"] is True and data["expired"] is True


@pytest.mark.parametrize("body", [
    {"token": "007abc"}, {"token": "hello"}, {"token": "006" + "x" * 10}, {"token": ""}, {"token": 7}, {},
    [], "007", {"token": "007" + base64.b64encode(b"not zlib").decode()},
])
async def test_malformed_is_400(client: Any, body: Any) -> None:
    r = await verify(client, body)
    assert r.status == 400 and "error" in await r.json()


async def test_not_json_is_400(client: Any) -> None:
    r = await client.post("/verifyToken", data="{not json")
    assert r.status == 400
    r = await client.post("/verifyToken", data="")
    assert r.status == 400
    r = await client.post("/verifyToken", data="[" * 3000)  # nesting deeper than json can parse
    assert r.status == 400


async def test_006_needs_channel_and_uid(client: Any) -> None:
    expire_ts = int(time.time()) + 600
    token = RtcTokenBuilder006.build_token_with_uid(APP_ID, CERT, "room", 42, 1, expire_ts)
    data = await (await verify(client, {"token": token})).json()
    assert data["version"] == "006" and data["valid"] is False
    assert "channel" in data["reason"] and "uid" in data["reason"]
    assert data["issuedAt"] is None and data["expiresAt"] == iso(expire_ts)
    assert data["services"][0]["privileges"]["joinChannel"] == {"expire": expire_ts, "expiresAt": iso(expire_ts)}
    for uid in (42, "42"):
        data = await (await verify(client, {"token": token, "channel": "room", "uid": uid})).json()
        assert data["valid"] is True and data["reason"] is None, uid
        assert data["services"][0]["channel"] == "room" and data["services"][0]["uid"] == "42"
    data = await (await verify(client, {"token": token, "channel": "other", "uid": 42})).json()
    assert data["valid"] is False and "certificate" in data["reason"]
    r = await verify(client, {"token": token, "channel": 5, "uid": 42})
    assert r.status == 400


async def test_006_rtm_and_expired(client: Any) -> None:
    token = RtmTokenBuilder006.build_token(APP_ID, CERT, "bob", 1, int(time.time()) - 10)
    data = await (await verify(client, {"token": token})).json()
    assert data["valid"] is False and "RTM" in data["reason"] and data["services"][0] == {
        "type": "rtm", "privileges": data["services"][0]["privileges"]}
    data = await (await verify(client, {"token": token, "uid": "alice"})).json()
    assert data["valid"] is False
    data = await (await verify(client, {"token": token, "uid": "bob"})).json()
    assert data["valid"] is True and data["expired"] is True
    assert data["services"] == [{"type": "rtm", "userId": "bob", "privileges": {"login": {
        "expire": data["services"][0]["privileges"]["login"]["expire"],
        "expiresAt": data["expiresAt"]}}}]


async def test_006_uid_zero(client: Any) -> None:
    token = RtcTokenBuilder006.build_token_with_uid(APP_ID, CERT, "room", 0, 2, 0)
    data = await (await verify(client, {"token": token, "channel": "room", "uid": 0})).json()
    assert data["valid"] is True and data["expired"] is False and data["expiresAt"] is None


async def test_verify_needs_auth_when_on(aiohttp_client: Any) -> None:
    s = load_settings({"APP_ID": APP_ID, "APP_CERTIFICATE": CERT, "AUTH_API_KEYS": KEY}, dotenv_path=None)
    client = await aiohttp_client(create_app(s))
    token = agora_token.rtm_token(APP_ID, CERT, "bob")
    assert (await verify(client, {"token": token})).status == 401
    assert (await verify(client, {"token": token}, {"X-API-Key": KEY})).status == 200
    assert (await client.get("/encryption")).status == 401
    assert (await client.get("/encryption", headers={"X-API-Key": KEY})).status == 200


async def test_encryption(client: Any) -> None:
    seen = set()
    for _ in range(3):
        r = await client.get("/encryption")
        assert r.status == 200
        assert r.headers["Cache-Control"].startswith("private, no-cache, no-store")
        data = await r.json()
        assert set(data) == {"secret", "salt"}
        assert re.fullmatch(r"[0-9a-f]{64}", data["secret"])
        assert len(base64.b64decode(data["salt"], validate=True)) == 32
        seen.add(data["secret"])
        seen.add(data["salt"])
    assert len(seen) == 6
