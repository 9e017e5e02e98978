"""CORS (server.cors, applied by server.pipeline) as docs/http-api.md
describes it: allowed origins, preflights, same-origin requests."""

from __future__ import annotations

import json

import pytest

from tests.support.service import assert_no_cache, check_rtc, make_app

A = "https://app.example"
B = "http://localhost:3000"
EVIL = "https://evil.example"
METHODS = "GET, POST, OPTIONS"
HEADERS = "Origin, Content-Type"
RTC = json.dumps({"tokenType": "rtc", "channel": "c", "uid": "1", "role": "publisher"})


def assert_cors(resp, origin):
    assert resp.headers["Access-Control-Allow-Origin"] == origin
    assert resp.headers["Access-Control-Allow-Methods"] == METHODS
    assert resp.headers["Access-Control-Allow-Headers"] == HEADERS


def assert_no_cors(resp):
    for h in ("Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers"):
        assert h not in resp.headers


@pytest.fixture
async def listed(aiohttp_client):
    return await aiohttp_client(make_app(CORS_ALLOW_ORIGIN=f"{A}, {B}/"))


@pytest.fixture
async def star(aiohttp_client):
    return await aiohttp_client(make_app(CORS_ALLOW_ORIGIN="*"))


@pytest.fixture
async def empty(aiohttp_client):
    return await aiohttp_client(make_app())


async def test_allowed_origin_gets_headers(listed):
    for origin in (A, B):
        r = await listed.post("/getToken", data=RTC, headers={"Origin": origin})
        assert r.status == 200
        assert_cors(r, origin)
        assert_no_cache(r)
        check_rtc((await r.json())["token"], "c", "1", True, 3600)
    r = await listed.get("/rtc/c/publisher/uid/1/", headers={"Origin": A})
    assert r.status == 200
    assert_cors(r, A)


async def test_disallowed_origin_403(listed):
    for path, method in (("/getToken", "POST"), ("/rtc/c/publisher/uid/1/", "GET"), ("/ping", "GET"),
                         ("/nope", "GET"), ("/getToken", "OPTIONS")):
        r = await listed.request(method, path, data=RTC if method == "POST" else None,
                                 headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"})
        assert r.status == 403, (method, path)
        assert await r.json() == {"error": "Origin not allowed"}
        assert "token" not in await r.text()
        assert_no_cors(r)
        assert_no_cache(r)


async def test_origin_match_is_exact(listed):
    for origin in (A + "/", A.upper(), "https://app.example.evil", "null", ""):
        r = await listed.get("/ping", headers={"Origin": origin})
        assert r.status == 403, origin


async def test_no_origin_is_served_with_a_list(listed):
    r = await listed.post("/getToken", data=RTC)
    assert r.status == 200
    assert_no_cors(r)
    check_rtc((await r.json())["token"], "c", "1", True, 3600)


async def test_preflight_204(listed):
    r = await listed.options("/getToken", headers={
        "Origin": A, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert r.status == 204
    assert_cors(r, A)
    assert_no_cache(r)
    assert await r.read() == b""
    r = await listed.options("/rtc/c/publisher/uid/1/", headers={
        "Origin": B, "Access-Control-Request-Method": "GET"})
    assert r.status == 204
    assert_cors(r, B)


async def test_preflight_for_unlisted_header_does_not_allow_it(listed):
    # http-api.md: a preflight from an allowed origin answers 204 with the
    # fixed lists (as the original does); the browser then refuses to send a
    # header that is not in Access-Control-Allow-Headers.
    r = await listed.options("/getToken", headers={
        "Origin": A, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-secret"})
    assert r.status == 204
    assert_cors(r, A)
    assert "x-secret" not in r.headers["Access-Control-Allow-Headers"].lower()
    assert_no_cache(r)


@pytest.mark.parametrize("extra", [{}, {"Access-Control-Request-Method": "PUT"},
                                   {"Access-Control-Request-Method": "GET"}])
@pytest.mark.parametrize("path", ["/getToken", "/rtm/alice/", "/nope"])
async def test_every_preflight_from_allowed_origin_is_204(listed, path, extra):
    r = await listed.options(path, headers={"Origin": A, **extra})
    assert r.status == 204
    assert_cors(r, A)
    assert_no_cache(r)


async def test_no_open_redirect_through_slash_redirects(listed):
    import asyncio

    for path in ("//evil.example/chat/app", "//evil.example/rtm/alice", "//evil.example/ping/"):
        # raw HTTP: client libraries read "//host/..." as an absolute URL
        reader, writer = await asyncio.open_connection("127.0.0.1", listed.server.port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        head = (await reader.read()).split(b"\r\n\r\n", 1)[0].decode().lower()
        writer.close()
        assert head.startswith("http/1.1 404"), (path, head)
        assert "\r\nlocation:" not in head, (path, head)


async def test_options_without_origin(listed):
    r = await listed.options("/getToken")
    assert r.status == 204
    assert_no_cache(r)


async def test_star_allows_every_origin(star):
    for origin in (A, EVIL, "null"):
        r = await star.post("/getToken", data=RTC, headers={"Origin": origin})
        assert r.status == 200
        assert_cors(r, origin)
    r = await star.options("/getToken", headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"})
    assert r.status == 204
    assert_cors(r, EVIL)
    r = await star.get("/ping")
    assert r.status == 200
    assert_no_cors(r)


async def test_empty_list_allows_no_browser_origin(empty):
    r = await empty.get("/ping", headers={"Origin": A})
    assert r.status == 403
    assert await r.json() == {"error": "Origin not allowed"}
    r = await empty.get("/ping")
    assert r.status == 200


async def test_errors_and_redirects_readable_by_allowed_origin(listed):
    r = await listed.get("/rtm/alice", headers={"Origin": A}, allow_redirects=False)
    assert r.status == 301
    assert_cors(r, A)
    r = await listed.get("/rtm/0/", headers={"Origin": A})
    assert r.status == 400
    assert_cors(r, A)
    r = await listed.get("/nope", headers={"Origin": A})
    assert r.status == 404
    assert_cors(r, A)


async def test_auth_headers_allowed_when_auth_is_on(aiohttp_client):
    client = await aiohttp_client(make_app(CORS_ALLOW_ORIGIN=A, AUTH_API_KEYS="cors-test-key-" + "k" * 20))
    r = await client.options("/getToken", headers={
        "Origin": A, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert r.status == 204
    assert r.headers["Access-Control-Allow-Headers"] == "Origin, Content-Type, Authorization, X-API-Key"


async def test_auth_headers_not_allowed_when_auth_is_off(listed):
    r = await listed.options("/getToken", headers={"Origin": A, "Access-Control-Request-Method": "POST"})
    assert r.headers["Access-Control-Allow-Headers"] == "Origin, Content-Type"


async def test_browser_may_read_request_id_and_retry_after(listed):
    r = await listed.post("/getToken", data=RTC, headers={"Origin": A, "Content-Type": "application/json"})
    assert r.status == 200
    exposed = {h.strip().lower() for h in r.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"x-request-id", "retry-after"} <= exposed


async def test_same_origin_requests_are_not_cross_origin(listed):
    """A page the service serves (/docs) POSTs with its own Origin: served,
    whatever CORS_ALLOW_ORIGIN lists; a look-alike origin is still refused."""
    host = f"{listed.server.host}:{listed.server.port}"
    for scheme in ("http", "https"):
        r = await listed.post("/getToken", data=RTC, headers={"Origin": f"{scheme}://{host}",
                                                               "Content-Type": "application/json"})
        assert r.status == 200
        assert "Access-Control-Allow-Origin" not in r.headers
    for origin in (f"http://{host}.evil.example", f"http://evil.example/{host}", f"ftp://{host}", host):
        r = await listed.post("/getToken", data=RTC, headers={"Origin": origin, "Content-Type": "application/json"})
        assert r.status == 403, origin
