"""In-process tests (pytest-aiohttp) of authentication, authorisation, policy,
rate limiting, CORS with auth, /healthz and X-Request-ID on the real app."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import agora_token
from agora_token_server.app import create_app, startup_warnings
from agora_token_server.config import load_settings
from agora_token_server.policy import TokenRequest
from agora_token_server.responses import IssueDenied
from agora_token_server.state import STATE
from agora_token_server.token_routes import rtm_token
from tests.support.service import APP_CERTIFICATE as CERT
from tests.support.service import APP_ID, check_rtm

KEY = "test-api-key-" + "k" * 24
KEY2 = "other-api-key-" + "q" * 24
SECRET = "jwt-secret-" + "s" * 32

TOKEN_ROUTES = [  # (method, path, body) for every token-issuing endpoint
    ("POST", "/getToken", {"tokenType": "rtc", "channel": "room-1", "uid": "42", "role": "subscriber"}),
    ("POST", "/getToken", {"tokenType": "rtm", "uid": "42"}),
    ("POST", "/getToken", {"tokenType": "chat", "uid": "42"}),
    ("POST", "/getToken", {"tokenType": "chat"}),
    ("GET", "/rtc/room-1/subscriber/uid/42/", None),
    ("GET", "/rtm/42/", None),
    ("GET", "/rte/room-1/subscriber/uid/42/", None),
    ("GET", "/rte/room-1/subscriber/uid/42/42/", None),
    ("GET", "/chat/app/", None),
    ("GET", "/chat/account/42/", None),
    ("POST", "/verifyToken", {"token": "007x"}),
    ("GET", "/encryption", None),
]


def settings(**env: str) -> Any:
    return load_settings({"APP_ID": APP_ID, "APP_CERTIFICATE": CERT, **env}, dotenv_path=None)


@pytest.fixture
def make_client(aiohttp_client: Any) -> Any:
    async def make(**env: str) -> Any:
        return await aiohttp_client(create_app(settings(**env)))
    return make


def hs(claims: dict[str, Any], secret: str = SECRET, alg: str = "HS256") -> str:
    base = {"sub": "42", "exp": int(time.time()) + 600}
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, secret, algorithm=alg)


def forge_hs256(claims: dict[str, Any], key: str) -> str:
    """An HS256 JWT keyed with arbitrary text (PyJWT refuses PEM keys for HMAC)."""
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(key.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


async def call(client: Any, method: str, path: str, body: Any = None, headers: Any = None) -> Any:
    if method == "POST":
        return await client.post(path, data=json.dumps(body), headers={
            "Content-Type": "application/json", **(headers or {})})
    return await client.get(path, headers=headers or {})


# --------------------------------------------------------------------------- drop-in mode

async def test_no_settings_is_open_with_one_warning(make_client: Any) -> None:
    client = await make_client()
    for method, path, body in TOKEN_ROUTES:
        r = await call(client, method, path, body)
        assert r.status in (200, 400), (path, r.status)  # 400: the dummy token for /verifyToken
    warnings = startup_warnings(settings())
    assert len(warnings) == 1 and "open to anyone" in warnings[0]
    assert startup_warnings(settings(AUTH_API_KEYS=KEY)) == []


async def test_drop_in_mode_has_no_expire_cap(make_client: Any) -> None:
    client = await make_client()
    r = await call(client, "POST", "/getToken", {"tokenType": "rtm", "uid": "u", "expire": 4294967295})
    assert r.status == 200
    r = await client.get("/rtm/u/?expiry=4294967295")
    assert r.status == 200


# --------------------------------------------------------------------------- API keys

@pytest.mark.parametrize("method, path, body", TOKEN_ROUTES)
async def test_every_guarded_route_needs_a_key(make_client: Any, method: str, path: str, body: Any) -> None:
    client = await make_client(AUTH_API_KEYS=f"{KEY},{KEY2}")
    r = await call(client, method, path, body)
    assert r.status == 401
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert "error" in await r.json()
    assert r.headers["Cache-Control"].startswith("private, no-cache")
    r = await call(client, method, path, body, {"X-API-Key": "wrong-key-" + "x" * 20})
    assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    for headers in ({"X-API-Key": KEY}, {"Authorization": f"Bearer {KEY2}"}):
        r = await call(client, method, path, body, headers)
        expected = 400 if path == "/verifyToken" else 200
        assert r.status == expected, (path, await r.text())


async def test_api_key_gets_any_token(make_client: Any) -> None:
    client = await make_client(AUTH_API_KEYS=KEY)
    r = await call(client, "POST", "/getToken", {"tokenType": "rtc", "channel": "c", "uid": "0",
                                                  "role": "publisher"}, {"X-API-Key": KEY})
    assert r.status == 200
    assert agora_token.verify((await r.json())["token"], CERT)


@pytest.mark.parametrize("path", ["/ping", "/healthz", "/openapi.json"])
async def test_open_routes_stay_open(make_client: Any, path: str) -> None:
    client = await make_client(AUTH_API_KEYS=KEY, RATE_LIMIT="1/h")
    for _ in range(3):
        r = await client.get(path)
        assert r.status == 200, path


async def test_healthz(make_client: Any) -> None:
    client = await make_client()
    r = await client.get("/healthz")
    assert r.status == 200 and await r.json() == {"status": "ok", "inflight": 0}


async def test_slash_redirect_still_works_with_auth(make_client: Any) -> None:
    client = await make_client(AUTH_API_KEYS=KEY)
    r = await client.get("/rtm/alice", allow_redirects=False)
    assert r.status == 301 and r.headers["Location"] == "/rtm/alice/"


# --------------------------------------------------------------------------- JWT

async def test_jwt_hs256_allows_own_tokens(make_client: Any) -> None:
    client = await make_client(AUTH_JWT_SECRET=SECRET)
    auth = {"Authorization": f"Bearer {hs({'channels': ['room-*']})}"}
    r = await call(client, "POST", "/getToken", {"tokenType": "rtc", "channel": "room-9", "uid": "42",
                                                  "role": "publisher"}, auth)
    assert r.status == 200
    r = await client.get("/rtc/room-9/publisher/uid/042/", headers=auth)  # 042 -> uid 42
    assert r.status == 200
    r = await client.get("/rte/room-9/publisher/uid/42/", headers=auth)
    assert r.status == 200
    r = await client.get("/rtm/42/", headers=auth)
    assert r.status == 200
    r = await client.get("/chat/account/42/", headers=auth)
    assert r.status == 200
    r = await client.get("/encryption", headers=auth)
    assert r.status == 200


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/getToken", {"tokenType": "rtc", "channel": "room-1", "uid": "43"}),
    ("POST", "/getToken", {"tokenType": "rtc", "channel": "room-1", "uid": 0}),
    ("POST", "/getToken", {"tokenType": "rtc", "channel": "room-1", "uid": "alice"}),
    ("POST", "/getToken", {"tokenType": "rtm", "uid": "43"}),
    ("POST", "/getToken", {"tokenType": "chat", "uid": "43"}),
    ("POST", "/getToken", {"tokenType": "chat"}),
    ("GET", "/rtc/room-1/subscriber/uid/43/", None),
    ("GET", "/rtc/room-1/subscriber/uid//", None),
    ("GET", "/rtm/43/", None),
    ("GET", "/rte/room-1/subscriber/uid/42/bob/", None),
    ("GET", "/chat/app/", None),
    ("GET", "/chat/account/43/", None),
])
async def test_jwt_other_uid_is_403(make_client: Any, method: str, path: str, body: Any) -> None:
    client = await make_client(AUTH_JWT_SECRET=SECRET)
    r = await call(client, method, path, body, {"Authorization": f"Bearer {hs({})}"})
    assert r.status == 403, await r.text()
    data = await r.json()
    assert "error" in data and "token" not in json.dumps(data).lower().replace("tokens", "")
    if method == "GET":
        assert data["status"] == 403


async def test_jwt_channels_claim(make_client: Any) -> None:
    client = await make_client(AUTH_JWT_SECRET=SECRET)
    auth = {"Authorization": f"Bearer {hs({'channels': ['room-*', 'lobby']})}"}
    for channel, status in (("room-1", 200), ("lobby", 200), ("lobby2", 403), ("Room-1", 403)):
        r = await call(client, "POST", "/getToken", {"tokenType": "rtc", "channel": channel, "uid": "42"}, auth)
        assert r.status == status, channel
    r = await call(client, "POST", "/getToken", {"tokenType": "rtm", "uid": "42", "channel": "secret"}, auth)
    assert r.status == 403
    r = await client.get("/rtc/secret/subscriber/uid/42/", headers=auth)
    assert r.status == 403 and (await r.json())["status"] == 403


async def test_jwt_subscriber_role(make_client: Any) -> None:
    client = await make_client(AUTH_JWT_SECRET=SECRET)
    auth = {"Authorization": f"Bearer {hs({'role': 'subscriber'})}"}
    r = await call(client, "POST", "/getToken", {"tokenType": "rtc", "channel": "c", "uid": "42",
                                                  "role": "publisher"}, auth)
    assert r.status == 403 and "subscriber" in (await r.json())["error"]
    r = await call(client, "POST", "/getToken", {"tokenType": "rtc", "channel": "c", "uid": "42",
                                                  "role": "subscriber"}, auth)
    assert r.status == 200
    r = await client.get("/rtc/c/publisher/uid/42/", headers=auth)
    assert r.status == 403
    r = await client.get("/rtc/c/Publisher/uid/42/", headers=auth)  # not "publisher": a subscriber token
    assert r.status == 200


@pytest.mark.parametrize("claims, env", [
    ({"exp": int(time.time()) - 3600}, {}),
    ({"exp": None}, {}),
    ({"aud": "other"}, {"AUTH_JWT_AUDIENCE": "agora-token"}),
    ({"aud": "agora-token", "iss": "https://evil"}, {"AUTH_JWT_AUDIENCE": "agora-token",
                                                     "AUTH_JWT_ISSUER": "https://idp"}),
])
async def test_bad_jwts_are_401(make_client: Any, claims: dict[str, Any], env: dict[str, str]) -> None:
    client = await make_client(AUTH_JWT_SECRET=SECRET, **env)
    r = await call(client, "POST", "/getToken", {"tokenType": "rtm", "uid": "42"},
                   {"Authorization": f"Bearer {hs(claims)}"})
    assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")


async def test_jwt_wrong_secret_and_alg_none(make_client: Any) -> None:
    client = await make_client(AUTH_JWT_SECRET=SECRET)
    for token in (hs({}, secret="x" * 40), jwt.encode({"sub": "42", "exp": int(time.time()) + 60}, None,
                                                      algorithm="none")):
        r = await client.get("/rtm/42/", headers={"Authorization": f"Bearer {token}"})
        assert r.status == 401


@pytest.mark.parametrize("kind", ["rsa", "ec"])
async def test_jwt_public_keys(make_client: Any, kind: str) -> None:
    key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if kind == "rsa"
           else ec.generate_private_key(ec.SECP256R1()))
    alg = "RS256" if kind == "rsa" else "ES256"
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    client = await make_client(AUTH_JWT_PUBLIC_KEY=pem)
    good = jwt.encode({"sub": "42", "exp": int(time.time()) + 60}, key, algorithm=alg)
    r = await client.get("/rtm/42/", headers={"Authorization": f"Bearer {good}"})
    assert r.status == 200
    # algorithm confusion: an HS256 token keyed with the public PEM is refused
    forged = forge_hs256({"sub": "42", "exp": int(time.time()) + 60}, pem)
    r = await client.get("/rtm/42/", headers={"Authorization": f"Bearer {forged}"})
    assert r.status == 401


async def test_both_modes(make_client: Any) -> None:
    client = await make_client(AUTH_API_KEYS=KEY, AUTH_JWT_SECRET=SECRET)
    assert (await client.get("/rtm/bob/", headers={"X-API-Key": KEY})).status == 200
    assert (await client.get("/rtm/bob/", headers={"Authorization": f"Bearer {KEY}"})).status == 200
    auth = {"Authorization": f"Bearer {hs({})}"}
    assert (await client.get("/rtm/42/", headers=auth)).status == 200
    assert (await client.get("/rtm/bob/", headers=auth)).status == 403


# --------------------------------------------------------------------------- policy

async def test_max_expire(make_client: Any) -> None:
    client = await make_client(MAX_EXPIRE="600")
    r = await call(client, "POST", "/getToken", {"tokenType": "rtm", "uid": "u", "expire": 601})
    assert r.status == 400 and "600" in (await r.json())["error"]
    r = await call(client, "POST", "/getToken", {"tokenType": "rtm", "uid": "u", "expire": 600})
    assert r.status == 200
    r = await client.get("/rtm/u/?expiry=601")
    body = await r.json()
    assert r.status == 400 and body["status"] == 400 and "MAX_EXPIRE" in body["message"]
    r = await client.get("/rtm/u/")  # the 3600 default is above the limit
    assert r.status == 400 and "default" in (await r.json())["message"]
    r = await client.get("/rtm/u/?expiry=0")
    assert r.status == 200


async def test_production_mode_default_max_expire(make_client: Any) -> None:
    client = await make_client(AUTH_API_KEYS=KEY)
    r = await call(client, "POST", "/getToken", {"tokenType": "rtm", "uid": "u", "expire": 86401},
                   {"X-API-Key": KEY})
    assert r.status == 400 and "86400" in (await r.json())["error"]


async def test_channel_pattern(make_client: Any) -> None:
    client = await make_client(CHANNEL_PATTERN=r"room-[0-9]+")
    r = await call(client, "POST", "/getToken", {"tokenType": "rtc", "channel": "room-12", "uid": "1"})
    assert r.status == 200
    r = await call(client, "POST", "/getToken", {"tokenType": "rtc", "channel": "room-12x", "uid": "1"})
    assert r.status == 400 and "CHANNEL_PATTERN" in (await r.json())["error"]
    r = await client.get("/rte/lobby/publisher/uid/1/")
    assert r.status == 400 and (await r.json())["status"] == 400
    r = await call(client, "POST", "/getToken", {"tokenType": "rtm", "uid": "u", "channel": "lobby"})
    assert r.status == 400
    r = await call(client, "POST", "/getToken", {"tokenType": "rtm", "uid": "u"})  # no channel: fine
    assert r.status == 200


def test_invalid_channel_pattern_is_a_startup_error() -> None:
    from agora_token_server.config import ConfigError

    with pytest.raises(ConfigError) as info:
        settings(CHANNEL_PATTERN="room-(")
    assert info.value.variable == "CHANNEL_PATTERN"


# --------------------------------------------------------------------------- rate limit

async def limited_client(make_client: Any, **env: str) -> tuple[Any, None]:
    return await make_client(**env), None


async def test_rate_limit_per_ip(make_client: Any) -> None:
    client, _ = await limited_client(make_client, RATE_LIMIT="2/s")
    assert (await client.get("/rtm/u/")).status == 200
    assert (await call(client, "POST", "/getToken", {"tokenType": "chat"})).status == 200
    r = await client.get("/chat/app/")
    assert r.status == 429
    assert int(r.headers["Retry-After"]) >= 1 and r.headers["Retry-After"].isdigit()
    assert "rate limit" in (await r.json())["error"]
    assert (await client.get("/healthz")).status == 200  # never limited
    assert (await client.get("/ping")).status == 200
    await asyncio.sleep(1.05)  # the moving window has passed the first two
    assert (await client.get("/rtm/u/")).status == 200
    assert (await client.get("/rtm/u/")).status == 200
    assert (await client.get("/rtm/u/")).status == 429


async def test_rate_limit_per_caller(make_client: Any) -> None:
    client, _ = await limited_client(make_client, RATE_LIMIT="1/h", AUTH_API_KEYS=f"{KEY},{KEY2}",
                                     AUTH_JWT_SECRET=SECRET)
    assert (await client.get("/rtm/u/", headers={"X-API-Key": KEY})).status == 200
    r = await client.get("/rtm/u/", headers={"X-API-Key": KEY})
    assert r.status == 429 and r.headers["Retry-After"] in ("3599", "3600")
    assert (await client.get("/rtm/u/", headers={"X-API-Key": KEY2})).status == 200
    alice = {"Authorization": f"Bearer {hs({'sub': 'alice'})}"}
    assert (await client.get("/rtm/alice/", headers=alice)).status == 200
    # a fresh JWT for the same sub shares the bucket
    alice2 = {"Authorization": f"Bearer {hs({'sub': 'alice', 'exp': int(time.time()) + 900})}"}
    assert (await client.get("/rtm/alice/", headers=alice2)).status == 429


async def test_failed_auth_spends_the_ip_budget(make_client: Any) -> None:
    client, _ = await limited_client(make_client, RATE_LIMIT="3/h", AUTH_API_KEYS=KEY)
    for _ in range(3):
        assert (await client.get("/rtm/u/", headers={"X-API-Key": "guess-" + "g" * 20})).status == 401
    r = await client.get("/rtm/u/", headers={"X-API-Key": "guess-" + "h" * 20})
    assert r.status == 429 and "Retry-After" in r.headers
    # the real key has its own bucket
    assert (await client.get("/rtm/u/", headers={"X-API-Key": KEY})).status == 200


async def test_trust_proxy(make_client: Any) -> None:
    client, _ = await limited_client(make_client, RATE_LIMIT="1/h", TRUST_PROXY="1")
    a = {"X-Forwarded-For": "6.6.6.6, 1.1.1.1"}
    assert (await client.get("/rtm/u/", headers=a)).status == 200
    # a forged left-most entry does not give a new bucket
    assert (await client.get("/rtm/u/", headers={"X-Forwarded-For": "7.7.7.7, 1.1.1.1"})).status == 429
    assert (await client.get("/rtm/u/", headers={"X-Forwarded-For": "2.2.2.2"})).status == 200


async def test_forwarded_for_ignored_without_trust_proxy(make_client: Any) -> None:
    client, _ = await limited_client(make_client, RATE_LIMIT="1/h")
    assert (await client.get("/rtm/u/", headers={"X-Forwarded-For": "1.1.1.1"})).status == 200
    assert (await client.get("/rtm/u/", headers={"X-Forwarded-For": "2.2.2.2"})).status == 429


# --------------------------------------------------------------------------- CORS, request id

async def test_cors_preflight_allows_auth_headers(make_client: Any) -> None:
    client = await make_client(AUTH_API_KEYS=KEY, CORS_ALLOW_ORIGIN="https://app.example")
    r = await client.options("/getToken", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, authorization, x-api-key"})
    assert r.status == 204
    allowed = {h.strip().lower() for h in r.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "x-api-key", "content-type"} <= allowed
    # a 401 is still readable by the allowed origin
    r = await client.post("/getToken", data="{}", headers={"Origin": "https://app.example"})
    assert r.status == 401 and r.headers["Access-Control-Allow-Origin"] == "https://app.example"
    # a disallowed origin gets the CORS 403 before authentication
    r = await client.post("/getToken", data="{}", headers={"Origin": "https://evil.example"})
    assert r.status == 403 and await r.json() == {"error": "Origin not allowed"}


async def test_cors_headers_unchanged_without_auth(make_client: Any) -> None:
    client = await make_client(CORS_ALLOW_ORIGIN="*")
    r = await client.get("/ping", headers={"Origin": "https://a.example"})
    assert r.headers["Access-Control-Allow-Headers"] == "Origin, Content-Type"


async def test_request_id(make_client: Any) -> None:
    client = await make_client(AUTH_API_KEYS=KEY)
    r = await client.get("/ping", headers={"X-Request-ID": "abc-123.x"})
    assert r.headers["X-Request-ID"] == "abc-123.x"
    r = await client.get("/rtm/u/")  # 401 too
    assert len(r.headers["X-Request-ID"]) == 32
    for bad in ("x" * 200, "has space", "new\\nline", "<script>"):
        r = await client.get("/ping", headers={"X-Request-ID": bad})
        assert r.headers["X-Request-ID"] != bad and len(r.headers["X-Request-ID"]) == 32
    r = await client.get("/nope")
    assert r.status == 404 and "X-Request-ID" in r.headers


def test_unguarded_token_route_fails_closed() -> None:
    """Code that issues a token for a request the guard did not see (a route
    registered without guarded=True) gets none when authentication is on."""
    issuer = create_app(settings(AUTH_API_KEYS=KEY))[STATE].issuer
    req = TokenRequest((rtm_token("rtmToken", "bob", 60),))
    with pytest.raises(IssueDenied) as info:
        issuer.issue(None, req)
    assert info.value.status == 401
    open_issuer = create_app(settings())[STATE].issuer
    [(key, token)] = open_issuer.issue(None, req)  # auth off: nothing to enforce
    assert key == "rtmToken"
    check_rtm(token, "bob", 60)


async def test_subscriber_only_jwt_gets_no_publish_privilege_by_any_route(make_client: Any) -> None:
    """role: subscriber must not obtain publishDataStream (privilege 4) through an
    RTM token with a stream channel, by POST or by /rte/."""
    client = await make_client(AUTH_JWT_SECRET=SECRET)
    auth = {"Authorization": f"Bearer {hs({'role': 'subscriber'})}"}
    r = await call(client, "POST", "/getToken", {"tokenType": "rtm", "uid": "42", "channel": "c"}, auth)
    assert r.status == 200
    check_rtm((await r.json())["token"], "42", 3600, channel="c", stream_privileges=(1,))
    r = await client.get("/rte/c/subscriber/uid/42/", headers=auth)
    assert r.status == 200
    body = await r.json()
    check_rtm(body["rtmToken"], "42", 3600, channel="c", stream_privileges=(1,))
    # without the role limit, the stream channel carries join and publishDataStream, as in the original
    auth = {"Authorization": f"Bearer {hs({})}"}
    r = await call(client, "POST", "/getToken", {"tokenType": "rtm", "uid": "42", "channel": "c"}, auth)
    check_rtm((await r.json())["token"], "42", 3600, channel="c")


async def test_rte_refused_on_its_rtm_half_issues_nothing(make_client: Any) -> None:
    """/rte/ checks both tokens before it signs either: a refused RTM half leaves no RTC token counted."""
    from agora_token_server import metrics

    client = await make_client(AUTH_JWT_SECRET=SECRET)
    metrics.flush()
    before = dict(metrics.LOCAL.tokens)
    auth = {"Authorization": f"Bearer {hs({})}"}  # sub 42
    r = await client.get("/rte/c/subscriber/uid/42/43/", headers=auth)  # RTC uid ok, RTM user 43 not
    assert r.status == 403
    assert metrics.LOCAL.tokens == before


async def test_jwt_sub_zero_cannot_get_uid_zero(make_client: Any) -> None:
    client = await make_client(AUTH_JWT_SECRET=SECRET)
    for sub in ("0", "00", "000"):
        auth = {"Authorization": f"Bearer {hs({'sub': sub})}"}
        for path in ("/rtc/c/subscriber/uid/0/", "/rtc/c/subscriber/uid//"):
            r = await client.get(path, headers=auth)
            assert r.status == 403 and "AUTH_JWT_ALLOW_ANY_UID" in (await r.json())["error"]
        # the user account "0" is packed as the same "0" that POST /token/generate's uid "0" is: any user too
        r = await client.get("/rtc/c/subscriber/userAccount/0/", headers=auth)
        assert r.status == 403 and "AUTH_JWT_ALLOW_ANY_UID" in (await r.json())["error"]
    client = await make_client(AUTH_JWT_SECRET=SECRET, AUTH_JWT_ALLOW_ANY_UID="1")
    for path in ("/rtc/c/subscriber/uid/0/", "/rtc/c/subscriber/userAccount/0/"):
        r = await client.get(path, headers={"Authorization": f"Bearer {hs({'sub': '0'})}"})
        assert r.status == 200
    r = await client.get("/rtc/c/subscriber/uid/0/", headers={"Authorization": f"Bearer {hs({'sub': '00'})}"})
    assert r.status == 403
    r = await client.get("/rtc/c/subscriber/uid/7/", headers={"Authorization": f"Bearer {hs({'sub': '07'})}"})
    assert r.status == 403
