"""JSON logs (LOG_FORMAT=json), request ids in the access log, and the
guarantee that keys, JWTs, the certificate, tokens and encryption keys never
reach the logs."""

from __future__ import annotations

import io
import json
import logging
import time
from typing import Any, Iterator

import jwt
import pytest

import agora_token
from agora_token_server.accesslog import ACCESS_LOGGER_NAME, AccessLog, flush_all
from agora_token_server.app import create_app, startup_warnings
from agora_token_server.config import ConfigError, load_settings
from agora_token_server.logs import (
    MASKER,
    JsonFormatter,
    MaskingFilter,
    SecretMasker,
    configure_logging,
    parse_log_settings,
)
from agora_token_server.pipeline import request_id_from
from tests.support.service import APP_CERTIFICATE as CERT
from tests.support.service import APP_ID

KEY = "log-test-api-key-" + "L" * 20
SECRET = "log-test-jwt-secret-" + "J" * 30


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger's handlers replaced by a buffer (restored afterwards);
    tests install the service's handler on it with configure_logging."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    buf = io.StringIO()
    root.handlers = []
    try:
        yield buf
    finally:
        root.handlers = saved_handlers
        root.setLevel(saved_level)
        MASKER.set_secrets(())


def lines(buf: io.StringIO) -> list[dict[str, Any]]:
    out = []
    for line in buf.getvalue().splitlines():
        out.append(json.loads(line))  # every line is one JSON object
    return out


# --------------------------------------------------------------------------- units

def test_parse_log_settings() -> None:
    assert parse_log_settings({}).format == "text" and parse_log_settings({}).access_log
    assert parse_log_settings({"LOG_FORMAT": "JSON"}).format == "json"
    assert not parse_log_settings({"ACCESS_LOG": "off"}).access_log
    for env, variable in (({"LOG_FORMAT": "xml"}, "LOG_FORMAT"), ({"ACCESS_LOG": "maybe"}, "ACCESS_LOG")):
        with pytest.raises(ConfigError) as info:
            parse_log_settings(env)
        assert info.value.variable == variable


def test_json_formatter_one_line() -> None:
    """Records other than the access log's (which writes its own JSON lines:
    test_access_log_json_without_secrets)."""
    rec = logging.LogRecord("server", logging.WARNING, __file__, 1, "started on %s", ("a\nb",), None)
    out = JsonFormatter().format(rec)
    assert "\n" not in out
    data = json.loads(out)
    assert data == {"time": data["time"], "level": "WARNING", "logger": "server", "message": "started on a\nb"}
    assert data["time"].endswith("Z")


def test_json_formatter_exceptions_stay_on_one_line() -> None:
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        import sys
        rec = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    out = JsonFormatter().format(rec)
    assert "\n" not in out and "boom" in json.loads(out)["exception"]


def test_request_id_from() -> None:
    assert request_id_from({"X-Request-ID": "abc-1"}) == "abc-1"
    for bad in ("", "a" * 129, "a b", "é", "x\r\ny"):
        rid = request_id_from({"X-Request-ID": bad})
        assert rid != bad and len(rid) == 32
    assert request_id_from({}) != request_id_from({})


def test_masker() -> None:
    token = agora_token.rtc_token(APP_ID, CERT, "c", 1)
    token6 = "006" + APP_ID + "IACgf2Lx9qWxZKS8rnBOBK4b1LwFTk3x8aEXAMPLEx"
    jwt_text = jwt.encode({"sub": "x", "exp": 1}, SECRET, algorithm="HS256")
    m = SecretMasker([CERT, KEY])
    msg = f"cert={CERT} key={KEY} tok={token} old={token6} jwt={jwt_text} hdr=Bearer abc.def"
    out = m.mask(msg)
    for secret in (CERT, KEY, token, token6, jwt_text, "abc.def"):
        assert secret not in out
    assert m.mask("GET /ping 200 1.0ms") == "GET /ping 200 1.0ms"
    MASKER.set_secrets([KEY])
    rec = logging.LogRecord("x", logging.INFO, __file__, 1, "value %s", (KEY,), None)
    MaskingFilter().filter(rec)
    assert KEY not in rec.getMessage()


@pytest.mark.parametrize("count", [3, 500])  # one by one, and the prefix index for many keys
def test_masker_many_secrets(count: int) -> None:
    keys = [f"api-key-{i:05d}-" + "x" * 20 for i in range(count)]
    m = SecretMasker(keys)
    for key in (keys[0], keys[-1], keys[count // 2]):
        out = m.mask(f"GET /rtm/{key}/ 200 id={key[:5]} {key}{key}")
        assert key not in out and out.count("[redacted]") == 3
    assert m.mask("nothing to hide here") == "nothing to hide here"


def test_configure_logging_json_and_masked(captured: io.StringIO) -> None:
    configure_logging("json", [CERT, KEY], stream=captured)
    logging.getLogger("server").warning("oops %s %s", CERT, KEY)
    (line,) = lines(captured)
    assert line["level"] == "WARNING" and CERT not in json.dumps(line) and KEY not in json.dumps(line)


def test_startup_warning_is_logged_as_json(captured: io.StringIO) -> None:
    s = load_settings({"APP_ID": APP_ID, "APP_CERTIFICATE": CERT, "LOG_FORMAT": "json"}, dotenv_path=None)
    configure_logging(s.logs.format, s.secrets, stream=captured)
    for w in startup_warnings(s):
        logging.getLogger("server").warning(w)
    (line,) = lines(captured)
    assert "open to anyone" in line["message"]


# --------------------------------------------------------------------------- end to end

async def test_access_log_json_without_secrets(aiohttp_client: Any, captured: io.StringIO) -> None:
    env = {"APP_ID": APP_ID, "APP_CERTIFICATE": CERT, "AUTH_API_KEYS": KEY, "AUTH_JWT_SECRET": SECRET,
           "LOG_FORMAT": "json", "RATE_LIMIT": "1000/s"}
    s = load_settings(env, dotenv_path=None)
    access = AccessLog("json", captured)
    configure_logging(s.logs.format, s.secrets, stream=captured, before_emit=flush_all)  # as the service does
    client = await aiohttp_client(create_app(s, access))
    user_jwt = jwt.encode({"sub": "42", "exp": int(time.time()) + 600}, SECRET, algorithm="HS256")
    leaked: list[str] = [KEY, SECRET, CERT, user_jwt]

    r = await client.post("/getToken", json={"tokenType": "rtc", "channel": "c", "uid": "42"},
                          headers={"X-API-Key": KEY, "X-Request-ID": "req-one"})
    assert r.status == 200 and r.headers["X-Request-ID"] == "req-one"
    leaked.append((await r.json())["token"])
    r = await client.get("/rtm/42/?expiry=600", headers={"Authorization": f"Bearer {user_jwt}"})
    assert r.status == 200
    leaked.append((await r.json())["rtmToken"])
    r = await client.post("/verifyToken", json={"token": leaked[-1]}, headers={"Authorization": f"Bearer {KEY}"})
    assert r.status == 200
    r = await client.get("/encryption", headers={"X-API-Key": KEY})
    leaked.extend((await r.json()).values())
    r = await client.get("/rtm/42/", headers={"X-API-Key": "wrong-" + KEY})
    assert r.status == 401
    r = await client.get(f"/verifyToken/{leaked[4]}?token={leaked[4]}")  # a token in a URL
    assert r.status == 404
    await client.close()
    access.flush()

    output = captured.getvalue()
    for secret in leaked:
        assert secret not in output
    records = [rec for rec in lines(captured) if rec["logger"] == ACCESS_LOGGER_NAME]
    assert len(records) == 6
    first = records[0]
    assert first["request_id"] == "req-one" and first["method"] == "POST" and first["route"] == "/getToken"
    assert first["status"] == 200 and isinstance(first["duration_ms"], (int, float))
    assert first["caller"].startswith("key:") and len(first["caller"]) == 16
    second = records[1]
    assert second["caller"] == "jwt:42" and second["route"] == "/rtm/{rtmuid}/"
    assert "600" not in second.get("path", "")  # query values are not logged
    assert records[4]["status"] == 401 and "caller" not in records[4]
    assert all(len(rec["request_id"]) >= 7 for rec in records)
