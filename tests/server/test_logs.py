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
from server.accesslog import ACCESS_LOGGER_NAME, AccessLogger
from server.app import create_app, startup_warnings
from server.config import ConfigError, load_settings
from server.logs import (
    REDACTOR,
    JsonFormatter,
    RedactingFilter,
    apply_log_settings,
    parse_log_format,
    request_id_from,
)

APP_ID = "970CA35de60c44645bbae8a215061b33"
CERT = "5CFd2fd1755d40ecb72977518be15d3b"
KEY = "log-test-api-key-" + "L" * 20
SECRET = "log-test-jwt-secret-" + "J" * 30


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger's handlers replaced by one JSON handler on a buffer
    (restored afterwards)."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    try:
        yield buf
    finally:
        root.handlers = saved_handlers
        root.setLevel(saved_level)
        REDACTOR.set_secrets(())


def lines(buf: io.StringIO) -> list[dict[str, Any]]:
    out = []
    for line in buf.getvalue().splitlines():
        out.append(json.loads(line))  # every line is one JSON object
    return out


# --------------------------------------------------------------------------- units

def test_parse_log_format() -> None:
    assert parse_log_format({}) == "text"
    assert parse_log_format({"LOG_FORMAT": "JSON"}) == "json"
    with pytest.raises(ConfigError) as info:
        parse_log_format({"LOG_FORMAT": "xml"})
    assert info.value.variable == "LOG_FORMAT"


def test_json_formatter_one_line_with_fields() -> None:
    rec = logging.LogRecord("server.access", logging.INFO, __file__, 1, "GET %s 200", ("/ping",), None)
    rec.request_id, rec.status, rec.duration_ms, rec.caller = "r1", 200, 1.5, "key:abc"
    rec.route, rec.method = "/ping", "GET"
    out = JsonFormatter().format(rec)
    assert "\n" not in out
    data = json.loads(out)
    assert data["message"] == "GET /ping 200" and data["level"] == "INFO"
    assert data["time"].endswith("Z") and data["request_id"] == "r1" and data["caller"] == "key:abc"
    assert {"method", "route", "status", "duration_ms"} <= set(data)


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


def test_redacting_filter() -> None:
    token = agora_token.rtc_token(APP_ID, CERT, "c", 1)
    token6 = "006" + APP_ID + "IACgf2Lx9qWxZKS8rnBOBK4b1LwFTk3x8aEXAMPLEx"
    jwt_text = jwt.encode({"sub": "x", "exp": 1}, SECRET, algorithm="HS256")
    f = RedactingFilter([CERT, KEY])
    msg = f"cert={CERT} key={KEY} tok={token} old={token6} jwt={jwt_text} hdr=Bearer abc.def"
    out = f.redact(msg)
    for secret in (CERT, KEY, token, token6, jwt_text, "abc.def"):
        assert secret not in out
    assert f.redact("GET /ping 200 1.0ms") == "GET /ping 200 1.0ms"
    rec = logging.LogRecord("x", logging.INFO, __file__, 1, "value %s", (KEY,), None)
    f.filter(rec)
    assert KEY not in rec.getMessage()


def test_apply_log_settings_switches_handlers(captured: io.StringIO) -> None:
    apply_log_settings("json", {"APP_CERTIFICATE": CERT, "AUTH_API_KEYS": KEY})
    logging.getLogger("server").warning("oops %s %s", CERT, KEY)
    (line,) = lines(captured)
    assert line["level"] == "WARNING" and CERT not in json.dumps(line) and KEY not in json.dumps(line)


def test_startup_warning_is_logged_as_json(captured: io.StringIO) -> None:
    s = load_settings({"APP_ID": APP_ID, "APP_CERTIFICATE": CERT, "LOG_FORMAT": "json"}, dotenv_path=None)
    for w in startup_warnings(s):
        logging.getLogger("server").warning(w)
    (line,) = lines(captured)
    assert "open to anyone" in line["message"]


# --------------------------------------------------------------------------- end to end

async def test_access_log_json_without_secrets(aiohttp_client: Any, captured: io.StringIO) -> None:
    env = {"APP_ID": APP_ID, "APP_CERTIFICATE": CERT, "AUTH_API_KEYS": KEY, "AUTH_JWT_SECRET": SECRET,
           "LOG_FORMAT": "json", "RATE_LIMIT": "1000/s"}
    s = load_settings(env, dotenv_path=None)
    startup_warnings(s)  # what python -m server does once: applies LOG_FORMAT + redaction
    from aiohttp.test_utils import TestServer

    server = TestServer(create_app(s))  # started here: its constructor drops runner options
    await server.start_server(access_log_class=AccessLogger, access_log=logging.getLogger(ACCESS_LOGGER_NAME))
    client = await aiohttp_client(server)
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
    await client.close()  # flushes the access log

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
