"""Settings (server.config and the settings modules it gathers): loading,
validation, messages; and the access log's settings."""

from __future__ import annotations

import asyncio
import io

import pytest

from agora_token_server.config import ConfigError, load_settings, read_environment
from tests.support.service import APP_CERTIFICATE, APP_ID, make_app

CREDS = {"APP_ID": APP_ID, "APP_CERTIFICATE": APP_CERTIFICATE}


def test_defaults():
    s = load_settings(dict(CREDS), dotenv_path=None)
    assert (s.app_id, s.app_certificate, s.port, s.host) == (APP_ID, APP_CERTIFICATE, 8080, "0.0.0.0")
    assert not s.cors_allow_all and s.cors_origins == ()
    assert APP_CERTIFICATE not in repr(s)


@pytest.mark.parametrize("env, port", [
    ({"SERVER_PORT": "9000", "PORT": "9100"}, 9000),
    ({"PORT": "9100"}, 9100),
    ({"SERVER_PORT": "", "PORT": "9100"}, 9100),
    ({}, 8080),
])
def test_port_precedence(env, port):
    assert load_settings({**CREDS, **env}, dotenv_path=None).port == port


@pytest.mark.parametrize("name, value", [("SERVER_PORT", "http"), ("PORT", "70000"), ("SERVER_PORT", "-1")])
def test_bad_port(name, value):
    with pytest.raises(ConfigError) as ei:
        load_settings({**CREDS, name: value}, dotenv_path=None)
    assert str(ei.value).startswith(f"{name}: must be a whole number in 0..65535, got ")


@pytest.mark.parametrize("missing", ["APP_ID", "APP_CERTIFICATE"])
def test_missing_credentials(missing):
    env = dict(CREDS)
    del env[missing]
    with pytest.raises(ConfigError) as ei:
        load_settings(env, dotenv_path=None)
    assert missing in str(ei.value)
    assert "\n" not in str(ei.value)


@pytest.mark.parametrize("bad", ["xyz", "5CFd2fd1755d40ecb72977518be15d3", "5CFd2fd1755d40ecb72977518be15d3bZ",
                                 "g" * 32, "5CFd2fd1755d40ecb72977518be15d3b5CFd2fd1755d40ecb72977518be15d3b"])
def test_malformed_certificate_never_echoed(bad):
    with pytest.raises(ConfigError) as ei:
        load_settings({"APP_ID": APP_ID, "APP_CERTIFICATE": bad}, dotenv_path=None)
    msg = str(ei.value)
    assert "APP_CERTIFICATE" in msg
    assert bad not in msg and bad[:8] not in msg


def test_malformed_app_id():
    with pytest.raises(ConfigError) as ei:
        load_settings({"APP_ID": "nothex", "APP_CERTIFICATE": APP_CERTIFICATE}, dotenv_path=None)
    assert "APP_ID" in str(ei.value)


def test_cors_parsing():
    s = load_settings({**CREDS, "CORS_ALLOW_ORIGIN": " https://a.example/ , http://b.example:3000,,"},
                      dotenv_path=None)
    assert s.cors_origins == ("https://a.example", "http://b.example:3000")
    assert load_settings({**CREDS, "CORS_ALLOW_ORIGIN": "*"}, dotenv_path=None).cors_allow_all
    assert load_settings({**CREDS, "CORS_ALLOW_ORIGIN": "https://a.example,*"}, dotenv_path=None).cors_allow_all


def test_dotenv_and_real_env_wins(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"APP_ID={APP_ID}\nAPP_CERTIFICATE={APP_CERTIFICATE}\nSERVER_PORT=7000\nHOST=127.0.0.1\n")
    s = load_settings({"SERVER_PORT": "7001"}, dotenv_path=str(dotenv))
    assert (s.app_id, s.port, s.host) == (APP_ID, 7001, "127.0.0.1")
    assert read_environment({"SERVER_PORT": "7001"}, str(dotenv))["HOST"] == "127.0.0.1"


def test_missing_dotenv_is_fine(tmp_path):
    with pytest.raises(ConfigError):
        load_settings({}, dotenv_path=str(tmp_path / "nope.env"))


async def test_access_log_line(aiohttp_client):
    from agora_token_server.accesslog import AccessLog

    out = io.StringIO()
    client = await aiohttp_client(make_app(AccessLog("text", out)))
    r = await client.get("/rtc/ch/publisher/uid/1/?expiry=98765&secret=hunter2")
    token = (await r.json())["rtcToken"]
    r = await client.post("/getToken", data=b'{"tokenType": "chat"}')
    chat = (await r.json())["token"]
    await client.get("/rtm/alice", allow_redirects=False)
    await asyncio.sleep(0.1)  # lines are written in batches, at most 50 ms after their request
    lines = [line.split(" server.access: ", 1)[1] for line in out.getvalue().splitlines()]
    assert len(lines) == 3
    # only the query names the API defines are shown; other names are "_"
    assert lines[0].startswith("GET /rtc/ch/publisher/uid/1/?expiry&_ 200 ")
    assert " id=" in lines[0] and " remote=127.0.0.1" in lines[0]
    assert lines[1].startswith("POST /getToken 200 ")
    assert lines[2].startswith("GET /rtm/alice 301 ")
    text = out.getvalue()
    for secret in ("hunter2", "secret", "98765", APP_CERTIFICATE, token, chat, token[:40]):
        assert secret not in text
