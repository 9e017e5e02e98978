"""Keeps the OpenAPI document true: real responses of every endpoint, success
and error alike, are validated against it (status code documented for the
operation, content type documented, JSON body valid against the documented
schema, documented auth/limit headers present)."""

from __future__ import annotations

import gzip
import json
import time
from typing import Any, Optional

import pytest

from agora_token import RtcTokenBuilder, rtc_token
from agora_token_server.testing import holding_token_requests
from tests.support.openapi import SPEC, resolve
from tests.support.service import APP_CERTIFICATE, APP_ID, make_app

jsonschema = pytest.importorskip("jsonschema")

API_KEY = "test-key-0123456789abcdef0123"
JWT_SECRET = "jwt-secret-for-tests-0123456789abcdef"
METRICS_TOKEN = "metrics-token-0123456789"
ORIGIN = "https://app.example.com"

RTC = "/rtc/{channelName}/{role}/{tokenType}/{rtcuid}/"
RTE = "/rte/{channelName}/{role}/{tokenType}/{rtcuid}/"
RTE2 = "/rte/{channelName}/{role}/{tokenType}/{rtcuid}/{rtmuid}/"

seen: set[tuple[str, str]] = set()
statuses: dict[str, set[int]] = {}


def validate(template: str, method: str, status: int, headers: Any, body: bytes) -> None:
    op = SPEC["paths"][template][method.lower()]
    documented = op["responses"]
    assert str(status) in documented, f"{method} {template}: status {status} is not documented " \
                                      f"(documented: {sorted(documented)}); body {body[:200]!r}"
    resp = resolve(documented[str(status)])
    media = headers.get("Content-Type", "").split(";")[0].strip()
    content = resp.get("content", {})
    assert media in content, f"{method} {template} {status}: content type {media!r} not documented"
    for name in resp.get("headers", {}):
        assert name in headers, f"{method} {template} {status}: documented header {name} missing"
    if media == "application/json":
        schema = {"components": SPEC["components"], **content[media]["schema"]}
        errors = list(jsonschema.Draft202012Validator(schema).iter_errors(json.loads(body)))
        assert not errors, f"{method} {template} {status}: {errors[0].message}"
    seen.add((template, method.lower()))
    statuses.setdefault(template, set()).add(status)


async def call(client: Any, template: str, method: str, path: str, expect: int, *,
               json_body: Any = None, data: Optional[bytes] = None, headers: Optional[dict[str, str]] = None) -> Any:
    kwargs: dict[str, Any] = {"headers": headers or {}, "allow_redirects": False}
    if json_body is not None:
        kwargs["json"] = json_body
    elif data is not None:
        kwargs["data"] = data
        kwargs["headers"] = {"Content-Type": "application/json", **kwargs["headers"]}
    resp = await client.request(method, path, **kwargs)
    body = await resp.read()
    assert resp.status == expect, f"{method} {path}: {resp.status} {body[:300]!r}"
    validate(template, method, resp.status, resp.headers, body)
    return json.loads(body) if resp.content_type == "application/json" else body


async def test_open_service(aiohttp_client: Any) -> None:
    c = await aiohttp_client(make_app())
    await call(c, "/ping", "GET", "/ping", 200)
    await call(c, "/healthz", "GET", "/healthz", 200)
    assert await call(c, "/readyz", "GET", "/readyz", 200) == {"status": "ready"}
    g = "/getToken"
    for body in ({"tokenType": "rtc", "channel": "test", "role": "publisher", "uid": "123"},
                 {"tokenType": "rtc", "channel": "test", "uid": 42, "expire": 600},
                 {"tokenType": "rtm", "uid": "alice", "channel": "test"},
                 {"tokenType": "chat", "uid": "alice"}, {"tokenType": "chat"}):
        await call(c, g, "POST", g, 200, json_body=body)
    await call(c, g, "POST", g, 400, data=b"{not json")
    await call(c, g, "POST", g, 400, data=b"")
    await call(c, g, "POST", g, 400, json_body={"channel": "x"})
    await call(c, g, "POST", g, 400, json_body={"tokenType": "rtc", "uid": "1"})
    await call(c, g, "POST", g, 400, json_body={"tokenType": "rtc", "channel": "c", "uid": "4294967296"})
    await call(c, g, "POST", g, 413, data=b'{"tokenType": "' + b"x" * 200_000 + b'"}')
    for encoded in (b'{"tokenType": "chat"}', gzip.compress(b'{"tokenType": "chat"}')):  # lying or not
        await call(c, g, "POST", g, 415, data=encoded, headers={"Content-Encoding": "gzip"})
        await call(c, "/verifyToken", "POST", "/verifyToken", 415, data=encoded, headers={"Content-Encoding": "gzip"})

    await call(c, RTC, "GET", "/rtc/test/publisher/uid/123/", 200)
    await call(c, RTC, "GET", "/rtc/test/subscriber/userAccount/alice/?expiry=600", 200)
    await call(c, RTC, "GET", "/rtc/test/publisher/nope/1/", 400)
    await call(c, RTC, "GET", "/rtc/test/publisher/uid/abc/", 400)
    await call(c, RTC, "GET", "/rtc/test/publisher/uid/1/?expiry=soon", 400)
    await call(c, "/rtm/{rtmuid}/", "GET", "/rtm/alice/", 200)
    await call(c, "/rtm/{rtmuid}/", "GET", "/rtm/0/", 400)
    await call(c, RTE, "GET", "/rte/test/publisher/uid/7/", 200)
    await call(c, RTE, "GET", "/rte/test/publisher/uid//", 400)
    await call(c, RTE2, "GET", "/rte/test/publisher/uid/7/alice/", 200)
    await call(c, RTE2, "GET", "/rte/test/publisher/uid/7/alice/?expiry=-1", 400)
    await call(c, "/chat/app/", "GET", "/chat/app/", 200)
    await call(c, "/chat/app/", "GET", "/chat/app/?expiry=x", 400)
    await call(c, "/chat/account/{chatid}/", "GET", "/chat/account/alice/", 200)
    await call(c, "/chat/account/{chatid}/", "GET", "/chat/account/alice/?expiry=99999999999", 400)

    v = "/verifyToken"
    ours = rtc_token(APP_ID, APP_CERTIFICATE, "test", 123)
    doc = await call(c, v, "POST", v, 200, json_body={"token": ours})
    assert doc["valid"] is True and doc["version"] == "007"
    theirs = rtc_token(APP_ID, "0" * 32, "test", 123)
    assert (await call(c, v, "POST", v, 200, json_body={"token": theirs}))["valid"] is False
    expired = RtcTokenBuilder.build_token_with_uid(APP_ID, APP_CERTIFICATE, "c", 1, 1, 0, 0)
    assert (await call(c, v, "POST", v, 200, json_body={"token": expired}))["expired"] is True
    await call(c, v, "POST", v, 400, json_body={"token": "garbage"})
    await call(c, v, "POST", v, 400, json_body={})
    await call(c, v, "POST", v, 400, data=b"[")

    enc = await call(c, "/encryption", "GET", "/encryption", 200)
    assert enc != await call(c, "/encryption", "GET", "/encryption", 200)
    text = await call(c, "/metrics", "GET", "/metrics", 200)
    assert b"agora_token_http_requests_total" in text
    spec = await call(c, "/openapi.json", "GET", "/openapi.json", 200)
    assert spec == json.loads(json.dumps(SPEC))
    page = await call(c, "/docs", "GET", "/docs", 200)
    assert b"docs/static/swagger-ui-bundle.js" in page
    static = "/docs/static/{name}"
    for name, media in (("swagger-ui-bundle.js", b"SwaggerUIBundle"), ("swagger-ui.css", b".swagger-ui"),
                        ("docs.js", b"SwaggerUIBundle"), ("docs.css", b"body"), ("favicon-32x32.png", b"PNG")):
        assert media in await call(c, static, "GET", f"/docs/static/{name}", 200)
    for name in ("index.html", "swagger-ui.js", "..%2Fcore.py", "LICENSE"):
        assert await call(c, static, "GET", f"/docs/static/{name}", 404) == {"error": "not found"}


async def test_cors_rejections(aiohttp_client: Any) -> None:
    c = await aiohttp_client(make_app(CORS_ALLOW_ORIGIN=ORIGIN))
    bad = {"Origin": "https://evil.example"}
    for template, path in (("/ping", "/ping"), ("/healthz", "/healthz"), ("/metrics", "/metrics"),
                           ("/openapi.json", "/openapi.json"), ("/docs", "/docs"), (RTC, "/rtc/t/publisher/uid/1/"),
                           ("/docs/static/{name}", "/docs/static/docs.js"), ("/encryption", "/encryption")):
        assert (await call(c, template, "GET", path, 403, headers=bad)) == {"error": "Origin not allowed"}
    await call(c, "/getToken", "POST", "/getToken", 403, headers=bad,
               json_body={"tokenType": "rtc", "channel": "c", "uid": "1"})
    await call(c, "/getToken", "POST", "/getToken", 200, headers={"Origin": ORIGIN},
               json_body={"tokenType": "rtc", "channel": "c", "uid": "1"})


def _jwt(sub: str, **claims: Any) -> str:
    import jwt

    return jwt.encode({"sub": sub, "exp": int(time.time()) + 300, **claims}, JWT_SECRET, algorithm="HS256")


async def test_guarded_service(aiohttp_client: Any) -> None:
    c = await aiohttp_client(make_app(AUTH_API_KEYS=API_KEY, AUTH_JWT_SECRET=JWT_SECRET, RATE_LIMIT="1000/min",
                                      METRICS_TOKEN=METRICS_TOKEN, MAX_EXPIRE="3600"))
    key = {"X-API-Key": API_KEY}
    g = "/getToken"
    body = {"tokenType": "rtc", "channel": "test", "uid": "alice"}
    await call(c, g, "POST", g, 401, json_body=body)
    await call(c, g, "POST", g, 401, json_body=body, headers={"X-API-Key": "wrong"})
    await call(c, g, "POST", g, 200, json_body=body, headers=key)
    await call(c, g, "POST", g, 400, json_body={**body, "expire": 7200}, headers=key)  # MAX_EXPIRE
    await call(c, RTC, "GET", "/rtc/test/publisher/uid/1/?expiry=7200", 400, headers=key)
    await call(c, g, "POST", g, 200, json_body=body, headers={"Authorization": f"Bearer {_jwt('alice')}"})
    await call(c, g, "POST", g, 403, json_body={**body, "uid": "bob"},
               headers={"Authorization": f"Bearer {_jwt('alice')}"})
    await call(c, g, "POST", g, 401, json_body=body,
               headers={"Authorization": f"Bearer {_jwt('alice', exp=int(time.time()) - 3600)}"})
    for template, path in ((RTC, "/rtc/test/publisher/uid/1/"), ("/rtm/{rtmuid}/", "/rtm/alice/"),
                           (RTE, "/rte/test/publisher/uid/1/"), (RTE2, "/rte/test/publisher/uid/1/alice/"),
                           ("/chat/app/", "/chat/app/"), ("/chat/account/{chatid}/", "/chat/account/alice/"),
                           ("/encryption", "/encryption")):
        await call(c, template, "GET", path, 401)
        await call(c, template, "GET", path, 200, headers=key)
    await call(c, RTC, "GET", "/rtc/test/publisher/uid/2/", 403, headers={"Authorization": f"Bearer {_jwt('1')}"})
    await call(c, "/verifyToken", "POST", "/verifyToken", 401, json_body={"token": "x"})
    await call(c, "/metrics", "GET", "/metrics", 401)
    await call(c, "/metrics", "GET", "/metrics", 200, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    # never guarded
    await call(c, "/ping", "GET", "/ping", 200)
    await call(c, "/healthz", "GET", "/healthz", 200)
    await call(c, "/openapi.json", "GET", "/openapi.json", 200)
    await call(c, "/docs", "GET", "/docs", 200)


async def test_rate_limited(aiohttp_client: Any) -> None:
    c = await aiohttp_client(make_app(AUTH_API_KEYS=API_KEY, RATE_LIMIT="2/min"))
    key = {"X-API-Key": API_KEY}
    body = {"tokenType": "chat"}
    await call(c, "/getToken", "POST", "/getToken", 200, json_body=body, headers=key)
    await call(c, "/getToken", "POST", "/getToken", 200, json_body=body, headers=key)
    await call(c, "/getToken", "POST", "/getToken", 429, json_body=body, headers=key)
    await call(c, RTC, "GET", "/rtc/t/publisher/uid/1/", 429, headers=key)
    assert (await c.get("/healthz")).status == 200  # never rate limited


async def test_load_shedding(aiohttp_client: Any, tmp_path: Any) -> None:
    """503 + Retry-After on every sheddable route while MAX_INFLIGHT token requests are in progress."""
    import asyncio

    from agora_token_server.state import STATE

    hold = tmp_path / "hold"
    with holding_token_requests(hold):
        app = make_app(MAX_INFLIGHT="1")
    c = await aiohttp_client(app)
    hold.touch()
    held = asyncio.ensure_future(c.get("/chat/app/"))
    try:
        for _ in range(500):
            if app[STATE].inflight:
                break
            await asyncio.sleep(0.01)
        assert app[STATE].inflight == 1
        for template, method, path, body in (
                ("/getToken", "POST", "/getToken", {"tokenType": "chat"}),
                ("/verifyToken", "POST", "/verifyToken", {"token": "x"}),
                (RTC, "GET", "/rtc/t/publisher/uid/1/", None), ("/rtm/{rtmuid}/", "GET", "/rtm/alice/", None),
                (RTE, "GET", "/rte/t/publisher/uid/1/", None), (RTE2, "GET", "/rte/t/publisher/uid/1/a/", None),
                ("/chat/app/", "GET", "/chat/app/", None),
                ("/chat/account/{chatid}/", "GET", "/chat/account/alice/", None)):
            doc = await call(c, template, method, path, 503, json_body=body)
            assert "overloaded" in doc["error"]
        # never shed
        await call(c, "/encryption", "GET", "/encryption", 200)
        await call(c, "/healthz", "GET", "/healthz", 200)
    finally:
        hold.unlink()
    assert (await held).status == 200


async def test_unavailable_guard(aiohttp_client: Any, tmp_path: Any) -> None:
    """503 from the guard: the rate-limit storage down with RATE_LIMIT_ON_STORAGE_ERROR=deny."""
    from agora_token_server.testing import free_port

    c = await aiohttp_client(make_app(RATE_LIMIT="10/s", RATE_LIMIT_STORAGE=f"redis://127.0.0.1:{free_port()}/0",
                                      RATE_LIMIT_ON_STORAGE_ERROR="deny"))
    await call(c, "/encryption", "GET", "/encryption", 503)
    await call(c, "/getToken", "POST", "/getToken", 503, json_body={"tokenType": "chat"})
    health = await call(c, "/healthz", "GET", "/healthz", 200)
    assert health["rate_limit_storage"] == "error"
    assert (await call(c, "/readyz", "GET", "/readyz", 503))["reasons"] == ["rate_limit_storage"]


async def test_body_timeout(aiohttp_client: Any) -> None:
    """408 when a POST body does not arrive in time (validated like the others)."""
    import asyncio

    c = await aiohttp_client(make_app(HTTP_BODY_TIMEOUT="0.3"))
    for template in ("/getToken", "/verifyToken"):
        reader, writer = await asyncio.open_connection(c.server.host, c.server.port)
        writer.write(f"POST {template} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: 50\r\n\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        headers = dict(line.split(": ", 1) for line in head.decode().strip().split("\r\n")[1:])
        body = await reader.readexactly(int(headers["Content-Length"]))
        writer.close()
        assert int(head.split()[1]) == 408, head
        validate(template, "POST", 408, headers, body)


async def test_token_generate(aiohttp_client: Any, tmp_path: Any) -> None:
    """POST /token/generate: success and every error status, in its own body shape."""
    import asyncio

    from agora_token_server.state import STATE

    gen = "/token/generate"
    body = {"channelName": "test", "uid": "alice", "tokenExpireTs": 600, "serviceRtc": {"enable": True, "role": 1},
            "serviceRtm2": {"enable": True, "permissions": {"users": {"read": ["bob"]}}},
            "serviceStreaming": {"enableMixStream": True}, "serviceFcdn": {"enablePlay": True},
            "serviceApaas": {"enableRoomUser": True, "roomUuid": "r", "userUuid": "alice", "role": 1}}
    hold = tmp_path / "hold"
    with holding_token_requests(hold):
        app = make_app(AUTH_API_KEYS=API_KEY, AUTH_JWT_SECRET=JWT_SECRET, RATE_LIMIT="1000/min", MAX_EXPIRE="3600",
                       MAX_INFLIGHT="1")
    c = await aiohttp_client(app)
    key = {"X-API-Key": API_KEY}
    doc = await call(c, gen, "POST", gen, 200, json_body=body, headers=key)
    described = await call(c, "/verifyToken", "POST", "/verifyToken", 200, json_body={"token": doc["data"]["token"]},
                           headers=key)
    assert [s["type"] for s in described["services"]] == ["rtc", "streaming", "fcdn", "apaas", "rtm2"]
    for raw, code in ((b"{", -1), (b"null", -2), (b"{}", -2), (b'{"uid": 1}', -1),
                      (b'{"tokenExpireTs": 9999, "serviceFpa": {"enable": true}}', -1)):
        assert (await call(c, gen, "POST", gen, 400, data=raw, headers=key))["code"] == code
    await call(c, gen, "POST", gen, 401, json_body=body)
    await call(c, gen, "POST", gen, 403, json_body=body, headers={"Authorization": f"Bearer {_jwt('bob')}"})
    await call(c, gen, "POST", gen, 413, data=b'{"uid": "' + b"x" * 5000 + b'"}', headers=key)
    hold.touch()
    held = asyncio.ensure_future(c.post(gen, json=body, headers=key))
    try:
        for _ in range(500):
            if app[STATE].inflight:
                break
            await asyncio.sleep(0.01)
        await call(c, gen, "POST", gen, 503, json_body=body, headers=key)
    finally:
        hold.unlink()
    assert (await held).status == 200
    c = await aiohttp_client(make_app(RATE_LIMIT="1/min"))
    await call(c, gen, "POST", gen, 200, json_body=body)
    await call(c, gen, "POST", gen, 429, json_body=body)


def test_every_operation_was_validated() -> None:
    """Runs last in this file: every documented operation got at least one real response validated."""
    if not seen:
        pytest.skip("run together with the tests above")
    documented = {(p, m) for p, item in SPEC["paths"].items() for m in item}
    assert documented <= seen, f"never validated: {sorted(documented - seen)}"
    errors = {t: sorted(s for s in codes if s >= 400) for t, codes in statuses.items()}
    assert all(errors[t] for t in errors if t not in ()), errors
