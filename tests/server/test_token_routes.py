"""The original service's token routes (server/token_routes.py): every route
and rule of the HTTP spec (``shared/spec/http-api.md`` beside the checkout;
docs/http-api.md), in process (pytest-aiohttp). Every returned token is
decoded and verified (``check_*`` in tests/support/service.py)."""

from __future__ import annotations

import io
import json

import pytest

from tests.support import request_rules as rules_table
from tests.support.service import CREDENTIALS, assert_no_cache, check_chat, check_rtc, check_rtm, make_app

RULE_CASES = rules_table.CASES

U32 = 4294967295


@pytest.fixture
async def client(aiohttp_client):
    return await aiohttp_client(make_app())


async def post(client, body, raw=False):
    data = body if raw else json.dumps(body)
    return await client.post("/getToken", data=data, headers={"Content-Type": "application/json"})


# --------------------------------------------------------------------------- /ping

async def test_ping(client):
    r = await client.get("/ping")
    assert r.status == 200
    assert await r.json() == {"message": "pong"}
    assert r.headers["Content-Type"].startswith("application/json")
    assert_no_cache(r)


# --------------------------------------------------------------------------- POST /getToken

@pytest.mark.parametrize("uid, packed", [
    ("123", "123"), ("007", "7"), ("0", ""), ("alice", "alice"), ("-5", "-5"), (" 5", " 5"),
    ("0000000000000000000000004294967295", "4294967295"),  # leading zeros: the value counts
    ("4294967295", "4294967295"), (42, "42"), (0, ""), ("user@example.com", "user@example.com"),
])
async def test_gettoken_rtc_uids(client, uid, packed):
    r = await post(client, {"tokenType": "rtc", "channel": "ch", "role": "publisher", "uid": uid})
    assert r.status == 200
    body = await r.json()
    assert list(body) == ["token"]
    check_rtc(body["token"], "ch", packed, True, 3600)
    assert_no_cache(r)


@pytest.mark.parametrize("role, publisher", [
    ("publisher", True), ("subscriber", False), ("Publisher", False), ("", False), (None, False),
    ("admin", False),
])
async def test_gettoken_rtc_roles(client, role, publisher):
    body = {"tokenType": "rtc", "channel": "ch", "uid": "9"}
    if role is not None:
        body["role"] = role
    r = await post(client, body)
    assert r.status == 200
    check_rtc((await r.json())["token"], "ch", "9", publisher, 3600)


@pytest.mark.parametrize("expire, effective", [
    (None, 3600), (0, 3600), (1, 1), (600, 600), (86400, 86400), (U32, U32),
])
async def test_gettoken_expire(client, expire, effective):
    body = {"tokenType": "rtc", "channel": "ch", "uid": "1", "role": "publisher"}
    if expire is not None:
        body["expire"] = expire
    r = await post(client, body)
    assert r.status == 200
    check_rtc((await r.json())["token"], "ch", "1", True, effective)


@pytest.mark.parametrize("expire", [-1, U32 + 1, 2 ** 64, 1.5, 3600.0, "3600", True, [], {}])
async def test_gettoken_bad_expire(client, expire):
    r = await post(client, {"tokenType": "rtc", "channel": "ch", "uid": "1", "expire": expire})
    assert r.status == 400
    body = await r.json()
    assert "expire" in body["error"]
    assert_no_cache(r)


@pytest.mark.parametrize("uid", ["4294967296", "18446744073709551616", "9" * 30, U32 + 1, -1, 1.0, True, [], {}])
async def test_gettoken_bad_uid(client, uid):
    r = await post(client, {"tokenType": "rtc", "channel": "ch", "uid": uid})
    assert r.status == 400
    assert "uid" in (await r.json())["error"]


async def test_gettoken_rtm(client):
    r = await post(client, {"tokenType": "rtm", "uid": "alice", "expire": 120})
    assert r.status == 200
    check_rtm((await r.json())["token"], "alice", 120)


@pytest.mark.parametrize("channel", ["test", "*"])
async def test_gettoken_rtm_stream_channel(client, channel):
    r = await post(client, {"tokenType": "rtm", "uid": "alice", "channel": channel})
    assert r.status == 200
    check_rtm((await r.json())["token"], "alice", 3600, channel)


async def test_gettoken_rtm_numeric_uid_kept_as_written(client):
    r = await post(client, {"tokenType": "rtm", "uid": "007"})
    check_rtm((await r.json())["token"], "007", 3600)
    r = await post(client, {"tokenType": "rtm", "uid": 42})
    check_rtm((await r.json())["token"], "42", 3600)


async def test_gettoken_chat(client):
    r = await post(client, {"tokenType": "chat", "uid": "bob", "expire": 77})
    assert r.status == 200
    check_chat((await r.json())["token"], "bob", 77)
    r = await post(client, {"tokenType": "chat"})
    assert r.status == 200
    check_chat((await r.json())["token"], None, 3600)
    r = await post(client, {"tokenType": "chat", "uid": ""})
    check_chat((await r.json())["token"], None, 3600)


@pytest.mark.parametrize("body", [
    b"", b"not json", b"{", b"[]", b'"rtc"', b"null", b"42", b"\xff\xfe", b"[" * 3000,
    b'{"tokenType": "rtc", "channel": "ch", "uid": "1", "expire": NaN}',
])
async def test_gettoken_invalid_body(client, body):
    r = await post(client, body, raw=True)
    assert r.status == 400
    assert "error" in await r.json()
    assert_no_cache(r)


@pytest.mark.parametrize("body, word", [
    ({}, "tokenType"),
    ({"tokenType": ""}, "tokenType"),
    ({"tokenType": "video"}, "tokenType"),
    ({"tokenType": "RTC", "channel": "c", "uid": "1"}, "tokenType"),
    ({"tokenType": 1}, "tokenType"),
    ({"tokenType": "rtc", "uid": "1"}, "channel"),
    ({"tokenType": "rtc", "channel": "", "uid": "1"}, "channel"),
    ({"tokenType": "rtc", "channel": "c"}, "uid"),
    ({"tokenType": "rtc", "channel": "c", "uid": ""}, "uid"),
    ({"tokenType": "rtc", "channel": 5, "uid": "1"}, "channel"),
    ({"tokenType": "rtc", "channel": "c", "uid": "1", "role": 1}, "role"),
    ({"tokenType": "rtm"}, "uid"),
    ({"tokenType": "rtm", "uid": ""}, "uid"),
    ({"tokenType": "rtm", "uid": "a", "channel": ["x"]}, "channel"),
    ({"tokenType": "rtc", "channel": "c" * 65, "uid": "1"}, "channel"),
    ({"tokenType": "rtc", "channel": "c", "uid": "a" * 256}, "uid"),
    ({"tokenType": "rtm", "uid": "a" * 256}, "uid"),
    ({"tokenType": "rtc", "channel": "c", "uid": "\ud800"}, ""),
])
async def test_gettoken_missing_or_bad_fields(client, body, word):
    r = await post(client, body)
    assert r.status == 400
    msg = (await r.json())["error"]
    assert isinstance(msg, str) and word in msg


async def test_gettoken_extra_fields_ignored(client):
    r = await post(client, {"tokenType": "rtc", "channel": "c", "uid": "3", "role": "publisher",
                            "expire": 60, "extra": {"x": [1, 2]}})
    assert r.status == 200
    check_rtc((await r.json())["token"], "c", "3", True, 60)


async def test_gettoken_null_fields_are_defaults(client):
    r = await post(client, {"tokenType": "rtc", "channel": "c", "uid": "3", "role": None, "expire": None})
    assert r.status == 200
    check_rtc((await r.json())["token"], "c", "3", False, 3600)


async def test_gettoken_without_content_type(client):
    r = await client.post("/getToken", data=b'{"tokenType": "chat"}')
    assert r.status == 200


@pytest.mark.parametrize("size", [5000, 100_000, 1_000_000])
async def test_gettoken_body_too_large(client, size):
    body = json.dumps({"tokenType": "rtc", "channel": "c", "uid": "1", "pad": "x" * size})
    r = await post(client, body, raw=True)
    assert r.status == 413
    assert "too large" in (await r.json())["error"]
    assert_no_cache(r)


async def test_gettoken_wrong_method(client):
    r = await client.get("/getToken", allow_redirects=False)
    assert r.status == 405
    assert "error" in await r.json()


async def test_gettoken_trailing_slash_307(client):
    r = await client.post("/getToken/", data=b'{"tokenType": "chat"}', allow_redirects=False)
    assert r.status == 307
    assert r.headers["Location"] == "/getToken"
    assert_no_cache(r)


# --------------------------------------------------------------------------- GET /rtc/

@pytest.mark.parametrize("path, channel, packed, publisher", [
    ("/rtc/test/publisher/uid/123/", "test", "123", True),
    ("/rtc/test/subscriber/uid/123/", "test", "123", False),
    ("/rtc/test/Publisher/uid/123/", "test", "123", False),
    ("/rtc/test/audience/uid/123/", "test", "123", False),
    ("/rtc/test/publisher/uid/007/", "test", "7", True),
    ("/rtc/test/publisher/uid/00000000000000000000007/", "test", "7", True),
    ("/rtc/test/publisher/uid/0/", "test", "", True),
    ("/rtc/test/publisher/uid//", "test", "", True),
    ("/rtc/test/publisher/uid/4294967295/", "test", "4294967295", True),
    ("/rtc/test/publisher/userAccount/alice/", "test", "alice", True),
    ("/rtc/test/publisher/userAccount/123/", "test", "123", True),
    ("/rtc/my%20channel/publisher/userAccount/bob%40x/", "my channel", "bob@x", True),
    ("/rtc/*/subscriber/uid/5/", "*", "5", False),
])
async def test_rtc_route(client, path, channel, packed, publisher):
    r = await client.get(path)
    assert r.status == 200
    body = await r.json()
    assert list(body) == ["rtcToken"]
    check_rtc(body["rtcToken"], channel, packed, publisher, 3600)
    assert_no_cache(r)


@pytest.mark.parametrize("query, expire", [
    ("?expiry=0", 0), ("?expiry=00000000000003600", 3600), ("?expiry=60", 60), ("?expiry=4294967295", U32),
    ("?other=1", 3600),
    ("?expiry=120&expiry=5", 120),
])
async def test_rtc_route_expiry(client, query, expire):
    r = await client.get("/rtc/test/publisher/uid/1/" + query)
    assert r.status == 200
    check_rtc((await r.json())["rtcToken"], "test", "1", True, expire)


@pytest.mark.parametrize("query", ["?expiry=", "?expiry=-1", "?expiry=abc", "?expiry=4294967296",
                                   "?expiry=1e3", "?expiry=+5", "?expiry=%205", "?expiry=99999999999999999999",
                                   "?expiry=1.5"])
async def test_rtc_route_bad_expiry(client, query):
    r = await client.get("/rtc/test/publisher/uid/1/" + query)
    assert r.status == 400
    body = await r.json()
    assert body["status"] == 400 and "expiry" in body["message"]
    assert_no_cache(r)


@pytest.mark.parametrize("path", [
    "/rtc/test/publisher/uid/abc/", "/rtc/test/publisher/uid/-1/", "/rtc/test/publisher/uid/4294967296/",
    "/rtc/test/publisher/uid/1.5/", "/rtc/test/publisher/Uid/1/", "/rtc/test/publisher/account/1/",
    "/rtc/test/publisher/userAccount//", "/rtc/test/publisher//1/",
])
async def test_rtc_route_bad_params(client, path):
    r = await client.get(path)
    assert r.status == 400
    body = await r.json()
    assert set(body) == {"status", "message"} and body["status"] == 400


async def test_rtc_route_build_failure_uses_error_key(client):
    r = await client.get("/rtc/" + "c" * 65 + "/publisher/uid/1/")
    assert r.status == 400
    body = await r.json()
    assert set(body) == {"status", "error"} and body["status"] == 400
    assert "channel" in body["error"]


async def test_rtc_redirect_keeps_query(client):
    r = await client.get("/rtc/test/publisher/uid/1?expiry=60", allow_redirects=False)
    assert r.status == 301
    assert r.headers["Location"] == "/rtc/test/publisher/uid/1/?expiry=60"
    assert_no_cache(r)
    r = await client.get("/rtc/test/publisher/uid/1?expiry=60")  # followed
    assert r.status == 200
    check_rtc((await r.json())["rtcToken"], "test", "1", True, 60)


# --------------------------------------------------------------------------- GET /rtm/

async def test_rtm_route(client):
    r = await client.get("/rtm/alice/")
    assert r.status == 200
    body = await r.json()
    assert list(body) == ["rtmToken"]
    check_rtm(body["rtmToken"], "alice", 3600)
    r = await client.get("/rtm/007/?expiry=0")
    check_rtm((await r.json())["rtmToken"], "007", 0)


@pytest.mark.parametrize("path", ["/rtm/0/", "/rtm//", "/rtm/alice/?expiry=x"])
async def test_rtm_route_bad(client, path):
    r = await client.get(path)
    assert r.status == 400
    body = await r.json()
    assert body["status"] == 400 and "message" in body


async def test_rtm_route_too_long_is_build_failure(client):
    r = await client.get("/rtm/" + "a" * 256 + "/")
    assert r.status == 400
    assert set(await r.json()) == {"status", "error"}


async def test_rtm_redirect(client):
    r = await client.get("/rtm/alice", allow_redirects=False)
    assert r.status == 301
    assert r.headers["Location"] == "/rtm/alice/"


# --------------------------------------------------------------------------- GET /rte/

@pytest.mark.parametrize("path, channel, rtc_uid, rtm_user, publisher", [
    ("/rte/ch/publisher/uid/5/", "ch", "5", "5", True),
    ("/rte/ch/subscriber/uid/5/bob/", "ch", "5", "bob", False),
    ("/rte/ch/publisher/uid/007/", "ch", "7", "007", True),
    ("/rte/ch/publisher/uid//bob/", "ch", "", "bob", True),
    ("/rte/ch/publisher/uid/0/bob/", "ch", "", "bob", True),
    ("/rte/ch/publisher/userAccount/alice/", "ch", "alice", "alice", True),
    ("/rte/ch/publisher/userAccount/alice/bob/", "ch", "alice", "bob", True),
    ("/rte/ch/publisher/uid/5//", "ch", "5", "5", True),
])
async def test_rte_route(client, path, channel, rtc_uid, rtm_user, publisher):
    r = await client.get(path + "?expiry=300")
    assert r.status == 200
    body = await r.json()
    assert set(body) == {"rtcToken", "rtmToken"}
    check_rtc(body["rtcToken"], channel, rtc_uid, publisher, 300)
    # the RTM token always carries the channel's stream service, whatever the role
    check_rtm(body["rtmToken"], rtm_user, 300, channel)


@pytest.mark.parametrize("path", ["/rte/ch/publisher/uid//", "/rte/ch/publisher/uid/0/",
                                  "/rte/ch/subscriber/uid/000/", "/rte/ch/publisher/uid/x/",
                                  "/rte/ch/publisher/bad/1/", "/rte/ch/publisher/uid/1/?expiry=-3"])
async def test_rte_route_bad(client, path):
    r = await client.get(path)
    assert r.status == 400
    body = await r.json()
    assert body["status"] == 400 and "message" in body


async def test_rte_redirects(client):
    for path in ("/rte/ch/publisher/uid/5", "/rte/ch/publisher/uid/5/bob"):
        r = await client.get(path + "?expiry=9", allow_redirects=False)
        assert r.status == 301
        assert r.headers["Location"] == path + "/?expiry=9"


# --------------------------------------------------------------------------- GET /chat/

async def test_chat_routes(client):
    r = await client.get("/chat/app/")
    assert r.status == 200
    body = await r.json()
    assert list(body) == ["chatToken"]
    check_chat(body["chatToken"], None, 3600)
    r = await client.get("/chat/account/carol/?expiry=99")
    check_chat((await r.json())["chatToken"], "carol", 99)
    r = await client.get("/chat/app/?expiry=0")
    check_chat((await r.json())["chatToken"], None, 0)


async def test_chat_bad(client):
    for path in ("/chat/account//", "/chat/app/?expiry=-1", "/chat/account/x/?expiry="):
        r = await client.get(path)
        assert r.status == 400, path
        assert "message" in await r.json()


async def test_chat_redirects(client):
    r = await client.get("/chat/app", allow_redirects=False)
    assert (r.status, r.headers["Location"]) == (301, "/chat/app/")
    r = await client.get("/chat/account/carol?expiry=5", allow_redirects=False)
    assert (r.status, r.headers["Location"]) == (301, "/chat/account/carol/?expiry=5")


# --------------------------------------------------------------------------- misc

@pytest.mark.parametrize("path", ["/", "/nope", "/rtc/", "/rtc/a/b/c/", "/rtm/a/b/", "/getToken/x", "/chat/"])
async def test_unknown_paths_404(client, path):
    r = await client.get(path, allow_redirects=False)
    assert r.status == 404
    assert (await r.json()) == {"error": "not found"}
    assert_no_cache(r)


async def test_ping_trailing_slash_redirect(client):
    r = await client.get("/ping/", allow_redirects=False)
    assert (r.status, r.headers["Location"]) == (301, "/ping")


async def test_post_to_get_route_is_not_redirected(client):
    r = await client.post("/rtm/alice", allow_redirects=False)
    assert r.status == 404


async def test_head_ping(client):
    r = await client.head("/ping")
    assert r.status == 200
    assert_no_cache(r)


# --------------------------------------------------------------------------- one set of rules with the CLI

@pytest.mark.parametrize("case", RULE_CASES, ids=[c.id for c in RULE_CASES])
async def test_gettoken_and_the_cli_follow_the_same_rules(client, monkeypatch, case):
    """``POST /getToken`` and ``agora-token`` accept and refuse the same
    values, with the same message but for the value's name."""
    from agora_token.cli import main

    monkeypatch.setenv("APP_ID", CREDENTIALS["APP_ID"])
    monkeypatch.setenv("APP_CERTIFICATE", CREDENTIALS["APP_CERTIFICATE"])
    r = await post(client, rules_table.body(case))
    out, err = io.StringIO(), io.StringIO()
    code = main(rules_table.argv(case), stdout=out, stderr=err)
    expected = rules_table.message(case, "field")
    if expected is None:
        assert r.status == 200 and code == 0, (await r.text(), err.getvalue())
        assert rules_table.grants((await r.json())["token"]) == rules_table.grants(out.getvalue().strip())
    else:
        assert r.status == 400 and code == 2
        assert await r.json() == {"error": expected}
        assert err.getvalue() == f"agora-token: error: {rules_table.message(case, 'flag')}\n"


@pytest.mark.parametrize("body", [
    {"tokenType": "rtc", "channel": "c", "uid": 4294967296},
    {"tokenType": "rtc", "channel": "c", "uid": "4294967296"},
    {"tokenType": "rtc", "channel": "c", "uid": "0004294967296"},
    {"tokenType": "rtm", "uid": 4294967296},
    {"tokenType": "chat", "uid": 4294967296},
])
async def test_uid_out_of_range_has_one_message_number_or_string(client, body):
    r = await post(client, body)
    assert r.status == 400
    assert await r.json() == {"error": "uid must be in 0..4294967295, got 4294967296"}
