"""JWT keys from a JWKS endpoint (AUTH_JWKS_URL), against a real JWKS server
on loopback (aiohttp): current keys, rotation without a restart, bounded
refetches on unknown ``kid`` floods, algorithm confusion, outages."""

from __future__ import annotations

import ast
import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from agora_token_server import jwks as jwks_module
from agora_token_server.env import ConfigError
from agora_token_server.jwks import MAX_BACKOFF, JwksKeys, check_jwks_url
from agora_token_server.state import STATE
from tests.support.service import make_app, make_settings


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {"k1": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "k2": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "e1": ec.generate_private_key(ec.SECP256R1()),
            "small": rsa.generate_private_key(public_exponent=65537, key_size=1024)}


def jwk(kid: str, key: Any, **extra: Any) -> dict[str, Any]:
    algo = RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else ECAlgorithm
    data: dict[str, Any] = algo.to_jwk(key.public_key(), as_dict=True)
    data.update(kid=kid, use="sig", **extra)
    return data


class Provider:
    """A JWKS endpoint whose document the test changes; counts fetches."""

    def __init__(self) -> None:
        self.document: Any = {"keys": []}
        self.status = 200
        self.fetches = 0

    async def handler(self, request: web.Request) -> web.Response:
        self.fetches += 1
        return web.json_response(self.document, status=self.status)


@pytest.fixture
async def provider(aiohttp_server: Any) -> Any:
    p = Provider()
    app = web.Application()
    app.router.add_get("/.well-known/jwks.json", p.handler)
    server = await aiohttp_server(app)
    p.url = str(server.make_url("/.well-known/jwks.json"))  # type: ignore[attr-defined]
    return p


def token(key: Any, kid: str | None, alg: str = "RS256", **claims: Any) -> str:
    body = {"sub": "42", "exp": int(time.time()) + 600, **claims}
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid} if kid else None)


async def client_for(aiohttp_client: Any, provider: Provider, **env: str) -> Any:
    return await aiohttp_client(make_app(AUTH_JWKS_URL=provider.url, AUTH_JWKS_MIN_REFRESH="0.2", **env))


async def get(client: Any, tok: str, path: str = "/rtm/42/") -> Any:
    return await client.get(path, headers={"Authorization": f"Bearer {tok}"})


async def test_current_keys_pass(aiohttp_client: Any, provider: Provider, keys: dict[str, Any]) -> None:
    provider.document = {"keys": [jwk("k1", keys["k1"]), jwk("e1", keys["e1"])]}
    client = await client_for(aiohttp_client, provider)
    assert (await get(client, token(keys["k1"], "k1"))).status == 200
    assert (await get(client, token(keys["e1"], "e1", "ES256"))).status == 200
    r = await get(client, token(keys["k1"], "k1", sub="43"))  # the claims still rule
    assert r.status == 403
    assert provider.fetches == 1  # cached
    assert (await client.get("/healthz")).status == 200
    assert (await (await client.get("/healthz")).json())["jwks"] == "ok"


async def test_rotation_without_restart(aiohttp_client: Any, provider: Provider, keys: dict[str, Any]) -> None:
    provider.document = {"keys": [jwk("k1", keys["k1"])]}
    client = await client_for(aiohttp_client, provider)
    assert (await get(client, token(keys["k1"], "k1"))).status == 200
    provider.document = {"keys": [jwk("k2", keys["k2"])]}  # the provider rotates
    await asyncio.sleep(0.25)
    assert (await get(client, token(keys["k2"], "k2"))).status == 200  # unknown kid: one refetch
    assert provider.fetches == 2
    await asyncio.sleep(0.25)
    r = await get(client, token(keys["k1"], "k1"))  # the retired key no longer works
    assert r.status == 401 and "kid" in (await r.json())["error"]


async def test_unknown_kid_flood_is_bounded(aiohttp_client: Any, provider: Provider,
                                            keys: dict[str, Any]) -> None:
    provider.document = {"keys": [jwk("k1", keys["k1"])]}
    client = await aiohttp_client(make_app(AUTH_JWKS_URL=provider.url))  # default: 30 s between refetches
    assert (await get(client, token(keys["k1"], "k1"))).status == 200
    results = await asyncio.gather(*(get(client, token(keys["k1"], uuid.uuid4().hex)) for _ in range(100)))
    assert {r.status for r in results} == {401}
    assert provider.fetches <= 2  # the first fetch, then at most one refetch in the interval


async def test_concurrent_unknown_kids_share_one_fetch(aiohttp_client: Any, provider: Provider,
                                                       keys: dict[str, Any]) -> None:
    provider.document = {"keys": [jwk("k1", keys["k1"])]}
    client = await client_for(aiohttp_client, provider)
    results = await asyncio.gather(*(get(client, token(keys["k1"], "k1")) for _ in range(20)))
    assert {r.status for r in results} == {200}
    assert provider.fetches == 1


def _forge_hs256(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = b64(json.dumps(claims).encode())
    return f"{head}.{body}.{b64(hmac.new(secret, f'{head}.{body}'.encode(), hashlib.sha256).digest())}"


@pytest.mark.filterwarnings("ignore:The RSA key is 1024 bits")  # the point of that key
async def test_algorithm_confusion_fails(aiohttp_client: Any, provider: Provider, keys: dict[str, Any]) -> None:
    secret = b"an-hmac-secret-of-32-bytes-at-least!"
    provider.document = {"keys": [
        jwk("k1", keys["k1"]), jwk("e1", keys["e1"]), jwk("small", keys["small"]),
        {"kty": "oct", "kid": "sym", "k": base64.urlsafe_b64encode(secret).rstrip(b"=").decode()},
        {**jwk("k2", keys["k2"]), "alg": "HS256"},  # an RSA key labelled HS256: refused
    ]}
    client = await client_for(aiohttp_client, provider)
    claims = {"sub": "42", "exp": int(time.time()) + 600}
    pem = keys["k1"].public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    attempts = [
        _forge_hs256(claims, pem, "k1"),  # HS256 keyed with the RSA public key
        _forge_hs256(claims, secret, "sym"),  # a symmetric key in the set is never used
        jwt.encode(claims, None, algorithm="none", headers={"kid": "k1"}),  # alg none
        token(keys["e1"], "k1", "ES256"),  # an EC signature for the RSA key's kid
        token(keys["k1"], "k1", "PS256"),  # another RSA algorithm than the key's
        token(keys["small"], "small"),  # RSA below 2048 bits: not kept
        token(keys["k2"], "k2"),  # the key labelled HS256
    ]
    for attempt in attempts:
        r = await get(client, attempt)
        assert r.status == 401, attempt
    assert (await get(client, token(keys["k1"], "k1"))).status == 200


async def test_provider_down(aiohttp_client: Any, provider: Provider, keys: dict[str, Any]) -> None:
    provider.status = 500
    client = await client_for(aiohttp_client, provider)
    r = await get(client, token(keys["k1"], "k1"))
    assert r.status == 503 and r.headers["Retry-After"] and "keys" in (await r.json())["error"]
    assert (await (await client.get("/healthz")).json())["jwks"] == "unavailable"
    provider.status = 200
    provider.document = {"keys": [jwk("k1", keys["k1"])]}
    assert (await get(client, token(keys["k1"], "k1"))).status == 503  # backing off: no fetch yet
    assert provider.fetches == 1
    for _ in range(30):  # recovers by itself once the backoff (1 s after one failure) is over
        await asyncio.sleep(0.1)
        r = await get(client, token(keys["k1"], "k1"))
        if r.status == 200:
            break
    assert r.status == 200 and provider.fetches == 2


async def test_stale_keys_are_used_while_refreshing(aiohttp_client: Any, provider: Provider,
                                                    keys: dict[str, Any]) -> None:
    provider.document = {"keys": [jwk("k1", keys["k1"])]}
    client = await client_for(aiohttp_client, provider, AUTH_JWKS_CACHE_TTL="1")
    assert (await get(client, token(keys["k1"], "k1"))).status == 200
    provider.status = 503
    await asyncio.sleep(1.1)
    assert (await get(client, token(keys["k1"], "k1"))).status == 200  # the expired set still works
    await asyncio.sleep(0.1)
    assert (await (await client.get("/healthz")).json())["jwks"] == "stale"


def test_jwks_url_rules() -> None:
    assert check_jwks_url("https://idp.example/.well-known/jwks.json")
    assert check_jwks_url("http://127.0.0.1:8080/jwks")
    assert check_jwks_url("http://[::1]:8080/jwks")
    for bad in ("http://idp.example/jwks", "ftp://x/y", "idp.example/jwks", "https://"):
        with pytest.raises(ConfigError) as info:
            check_jwks_url(bad)
        assert info.value.variable == "AUTH_JWKS_URL"
    with pytest.raises(ConfigError) as info:
        make_settings(AUTH_JWKS_URL="https://idp.example/jwks", AUTH_JWT_SECRET="s" * 40)
    assert "only one" in str(info.value)
    with pytest.raises(ConfigError) as info:
        make_settings(AUTH_JWKS_CACHE_TTL="60")  # without a JWKS URL
    assert info.value.variable == "AUTH_JWKS_CACHE_TTL"


async def outage_traffic(client: Any, keys: dict[str, Any], rounds: int = 30, per_round: int = 20) -> list[int]:
    """``rounds * per_round`` requests over about ``rounds / 10`` seconds: half
    valid, half forged (a wrong key under a known kid, random kids, HS256 and
    ``none`` tokens that fail the basic checks)."""
    forger = ec.generate_private_key(ec.SECP256R1())
    claims = {"sub": "42", "exp": int(time.time()) + 600}
    forged = [
        lambda: token(keys["k2"], "k1"),  # a wrong key under the known kid
        lambda: token(keys["k2"], uuid.uuid4().hex),  # a random kid: the unknown-kid path
        lambda: token(forger, uuid.uuid4().hex, "ES256"),
        lambda: _forge_hs256(claims, b"x" * 32, uuid.uuid4().hex),  # fails the basic checks
        lambda: jwt.encode(claims, None, algorithm="none", headers={"kid": uuid.uuid4().hex}),
    ]
    good = token(keys["k1"], "k1")
    statuses: list[int] = []
    for i in range(rounds):
        batch = [good if j % 2 else forged[(i + j) % len(forged)]() for j in range(per_round)]
        statuses += [r.status for r in await asyncio.gather(*(get(client, t) for t in batch))]
        await asyncio.sleep(0.1)
    return statuses


@pytest.mark.slow
async def test_failing_provider_is_not_hammered(aiohttp_client: Any, provider: Provider,
                                                keys: dict[str, Any]) -> None:
    """Issue 18 item 6: after the TTL, with the provider answering 500, 600
    requests (half forged) over ~3 s caused 274 fetches; now a handful."""
    provider.document = {"keys": [jwk("k1", keys["k1"])]}
    client = await aiohttp_client(make_app(AUTH_JWKS_URL=provider.url, AUTH_JWKS_CACHE_TTL="1",
                                           AUTH_JWKS_MIN_REFRESH="1"))
    assert (await get(client, token(keys["k1"], "k1"))).status == 200
    provider.status = 500
    await asyncio.sleep(1.1)  # the cache has expired
    before = provider.fetches
    statuses = await outage_traffic(client, keys)
    fetched = provider.fetches - before
    print(f"JWKS fetches during the outage: {fetched}")
    assert len(statuses) == 600
    assert statuses.count(200) == 300  # the last good keys keep serving
    assert set(statuses) == {200, 401}
    assert fetched <= 4, fetched  # MIN_REFRESH 1 s, then backoff: never more than one a second


async def test_tokens_failing_basic_checks_never_fetch(aiohttp_client: Any, provider: Provider,
                                                      keys: dict[str, Any]) -> None:
    provider.status = 500  # no keys: any fetch would be visible
    client = await client_for(aiohttp_client, provider)
    claims = {"sub": "42", "exp": int(time.time()) + 600}
    junk = [
        "a.b.c",  # a header that does not parse
        _forge_hs256(claims, b"x" * 32, "k1"),  # a symmetric algorithm
        jwt.encode(claims, None, algorithm="none", headers={"kid": "k1"}),  # alg none, no signature
        token(keys["k1"], "k" * 300),  # an over-long kid
        token(keys["k1"], "k1").rpartition(".")[0] + ".",  # the signature cut off
        token(keys["k1"], "k1").replace(token(keys["k1"], "k1").split(".")[0],
                                        base64.urlsafe_b64encode(b'{"alg": ["RS256"], "kid": "k1"}').decode()
                                        .rstrip("=")),  # an alg that is not a string
    ]
    for attempt in junk * 20:
        r = await get(client, attempt)
        assert r.status == 401, attempt
    assert provider.fetches == 0
    assert (await get(client, token(keys["k1"], "k1"))).status == 503  # a plausible token: one fetch
    assert provider.fetches == 1


async def test_unknown_kids_and_expired_cache_share_one_bounded_refetch(
        aiohttp_client: Any, provider: Provider, keys: dict[str, Any]) -> None:
    provider.document = {"keys": [jwk("k1", keys["k1"])]}
    client = await aiohttp_client(make_app(AUTH_JWKS_URL=provider.url, AUTH_JWKS_CACHE_TTL="1",
                                           AUTH_JWKS_MIN_REFRESH="30"))
    assert (await get(client, token(keys["k1"], "k1"))).status == 200
    await asyncio.sleep(1.05)  # expired, but MIN_REFRESH (30 s) has not passed since the last fetch
    tokens = [token(keys["k1"], "k1"), *(token(keys["k2"], uuid.uuid4().hex) for _ in range(50))]
    results = await asyncio.gather(*(get(client, t) for t in tokens))
    assert [r.status for r in results] == [200] + [401] * 50
    assert provider.fetches == 1


@pytest.mark.slow
async def test_keys_serve_until_max_stale_then_503(aiohttp_client: Any, provider: Provider,
                                                   keys: dict[str, Any]) -> None:
    provider.document = {"keys": [jwk("k1", keys["k1"])]}
    client = await aiohttp_client(make_app(AUTH_JWKS_URL=provider.url, AUTH_JWKS_CACHE_TTL="1",
                                           AUTH_JWKS_MAX_STALE="2", AUTH_JWKS_MIN_REFRESH="0.1"))
    assert (await get(client, token(keys["k1"], "k1"))).status == 200
    provider.status = 500
    await asyncio.sleep(1.1)
    assert (await get(client, token(keys["k1"], "k1"))).status == 200  # stale, still serving
    await asyncio.sleep(1.0)
    r = await get(client, token(keys["k1"], "k1"))
    body = await r.json()
    assert r.status == 503 and r.headers["Retry-After"] and "AUTH_JWKS_MAX_STALE" in body["error"]
    assert client.app[STATE].jwks.state() == "unavailable"  # what /readyz reports
    assert (await (await client.get("/healthz")).json())["jwks"] == "unavailable"
    provider.status = 200
    for _ in range(40):  # no JWT traffic: the health checks alone bring the keys back after the backoff
        await asyncio.sleep(0.1)
        if (await (await client.get("/healthz")).json())["jwks"] == "ok":
            break
    assert (await get(client, token(keys["k1"], "k1"))).status == 200


async def test_keys_are_fetched_without_jwt_traffic(aiohttp_client: Any, provider: Provider,
                                                    keys: dict[str, Any]) -> None:
    """A replica is not sent traffic until it is ready: the readiness check
    itself must bring the first key set."""
    provider.document = {"keys": [jwk("k1", keys["k1"])]}
    client = await client_for(aiohttp_client, provider)
    states = []
    for _ in range(20):
        states.append(client.app[STATE].jwks.state())
        if states[-1] == "ok":
            break
        await asyncio.sleep(0.05)
    assert states[0] == "unavailable" and states[-1] == "ok" and provider.fetches == 1
    for _ in range(20):  # polling does not fetch again while the set is fresh
        client.app[STATE].jwks.state()
    assert provider.fetches == 1


def test_backoff_grows_is_capped_jittered_and_never_below_min_refresh() -> None:
    keys = JwksKeys("http://127.0.0.1:1/jwks", min_refresh=0.2)
    waits = []
    for failures in range(1, 15):
        keys.failures = failures
        ceiling = min(MAX_BACKOFF, 2.0 ** (failures - 1))
        draws = [keys.backoff() for _ in range(50)]
        assert all(max(0.2, ceiling / 2) <= w <= ceiling for w in draws), (failures, draws)
        waits.append(max(draws))
    assert waits[-1] <= MAX_BACKOFF and waits[-1] > MAX_BACKOFF / 2
    assert len({round(w, 6) for w in draws}) > 1  # jittered
    slow = JwksKeys("http://127.0.0.1:1/jwks", min_refresh=600)
    slow.failures = 20
    assert slow.backoff() == 600  # MIN_REFRESH longer than the cap wins


def test_max_stale_setting() -> None:
    url = "https://idp.example/jwks"
    assert make_settings(AUTH_JWKS_URL=url).auth.jwt.jwks_max_stale == 86400
    assert make_settings(AUTH_JWKS_URL=url, AUTH_JWKS_MAX_STALE="3600").auth.jwt.jwks_max_stale == 3600
    for env in ({"AUTH_JWKS_URL": url, "AUTH_JWKS_CACHE_TTL": "600", "AUTH_JWKS_MAX_STALE": "60"},
                {"AUTH_JWKS_URL": url, "AUTH_JWKS_MAX_STALE": "0"}, {"AUTH_JWKS_MAX_STALE": "60"}):
        with pytest.raises(ConfigError) as info:
            make_settings(**env)
        assert info.value.variable == "AUTH_JWKS_MAX_STALE"


def test_no_import_loop_between_jwks_and_jwtauth() -> None:
    """jwks.py and jwtauth.py share their names through jwtbase.py: every
    import between them is at the top of the module, and jwks.py never
    imports jwtauth.py."""
    server = Path(jwks_module.__file__).parent
    for name in ("jwks.py", "jwtauth.py"):
        tree = ast.parse((server / name).read_text())
        top = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                assert id(node) in top, f"{name}:{node.lineno} imports .{node.module} inside a function"
                assert not (name == "jwks.py" and node.module == "jwtauth"), "jwks.py imports jwtauth.py"
