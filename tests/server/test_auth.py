"""Unit tests for authentication and authorisation: settings parsing, API
keys, JWTs (HS256, RS256, ES256), claims and authorisation decisions."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Mapping

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from agora_token_server.auth import (
    Authenticator,
    AuthError,
    Caller,
    authorize,
    jwt_caller_id,
    key_fingerprint,
    parse_auth_settings,
)
from agora_token_server.env import ConfigError
from agora_token_server.policy import TokenRequest
from agora_token_server.token_routes import chat_token, rtc_request, rtc_token, rtm_token

KEY1 = "k1-" + "a" * 30
KEY2 = "k2-" + "b" * 30
SECRET = "s" * 40


def _pem_public(key: Any) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _pem_private(key: Any) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture(scope="module")
def rsa_key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> Any:
    return ec.generate_private_key(ec.SECP256R1())


def claims(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"sub": "42", "exp": int(time.time()) + 600}
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def auth_for(env: dict[str, str]) -> Authenticator:
    return Authenticator(parse_auth_settings(env))


def authenticate(a: Authenticator, headers: Mapping[str, str]) -> Caller:
    return asyncio.run(a.authenticate(headers))


# --------------------------------------------------------------------------- settings

def test_no_settings_means_auth_off() -> None:
    s = parse_auth_settings({})
    assert not s.enabled and s.describe() == "off"
    caller = authenticate(Authenticator(s), {})
    assert caller.kind == "anonymous" and not caller.restricted


def test_api_keys_inline_and_describe_hides_them() -> None:
    s = parse_auth_settings({"AUTH_API_KEYS": f" {KEY1} , {KEY2},,"})
    assert s.enabled and len(s.api_key_digests) == 2
    assert KEY1 not in repr(s) and KEY1 not in s.describe()
    assert s.describe() == "2 API keys"


def test_api_keys_file(tmp_path: Any) -> None:
    f = tmp_path / "keys"
    f.write_text(f"# production keys\n\n{KEY1}\n   # indented comment\n{KEY2}\n")
    s = parse_auth_settings({"AUTH_API_KEYS_FILE": str(f)})
    assert len(s.api_key_digests) == 2


@pytest.mark.parametrize("env, variable", [
    ({"AUTH_API_KEYS": "tiny-k3y"}, "AUTH_API_KEYS"),
    ({"AUTH_API_KEYS": " , "}, "AUTH_API_KEYS"),
    ({"AUTH_API_KEYS": KEY1 + "\u00e9" * 3}, "AUTH_API_KEYS"),
    ({"AUTH_API_KEYS": KEY1, "AUTH_API_KEYS_FILE": "/x"}, "AUTH_API_KEYS_FILE"),
    ({"AUTH_API_KEYS_FILE": "/nonexistent/keys"}, "AUTH_API_KEYS_FILE"),
    ({"AUTH_JWT_SECRET": "too-short"}, "AUTH_JWT_SECRET"),
    ({"AUTH_JWT_SECRET": SECRET, "AUTH_JWT_PUBLIC_KEY": "x"}, "AUTH_JWT_PUBLIC_KEY"),
    ({"AUTH_JWT_PUBLIC_KEY": "not a pem"}, "AUTH_JWT_PUBLIC_KEY"),
    ({"AUTH_JWT_PUBLIC_KEY_FILE": "/nonexistent/pem"}, "AUTH_JWT_PUBLIC_KEY_FILE"),
    ({"AUTH_JWT_AUDIENCE": "svc"}, "AUTH_JWT_AUDIENCE"),
    ({"AUTH_JWT_SECRET": SECRET, "AUTH_JWT_LEEWAY": "soon"}, "AUTH_JWT_LEEWAY"),
])
def test_bad_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_auth_settings(env)
    assert info.value.variable == variable
    assert str(info.value).startswith(variable + ":")
    for secret in (KEY1, SECRET, "too-short", "tiny-k3y"):
        if secret in env.values():
            assert secret not in str(info.value)


def test_short_key_error_does_not_echo_key() -> None:
    with pytest.raises(ConfigError) as info:
        parse_auth_settings({"AUTH_API_KEYS": f"{KEY1},tinykey"})
    assert "tinykey" not in str(info.value) and "#2" in str(info.value)


def test_private_key_refused_without_echo(rsa_key: Any) -> None:
    pem = _pem_private(rsa_key)
    with pytest.raises(ConfigError) as info:
        parse_auth_settings({"AUTH_JWT_PUBLIC_KEY": pem})
    assert "PUBLIC" in str(info.value) and pem[40:80] not in str(info.value)


def test_small_rsa_key_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ConfigError, match="2048"):
        parse_auth_settings({"AUTH_JWT_PUBLIC_KEY": _pem_public(small)})


def test_public_key_algorithms(rsa_key: Any, ec_key: Any, tmp_path: Any) -> None:
    assert parse_auth_settings({"AUTH_JWT_PUBLIC_KEY": _pem_public(rsa_key)}).jwt.algorithm == "RS256"
    assert parse_auth_settings({"AUTH_JWT_PUBLIC_KEY": _pem_public(ec_key)}).jwt.algorithm == "ES256"
    p384 = ec.generate_private_key(ec.SECP384R1())
    assert parse_auth_settings({"AUTH_JWT_PUBLIC_KEY": _pem_public(p384)}).jwt.algorithm == "ES384"
    f = tmp_path / "pub.pem"
    f.write_text(_pem_public(ec_key))
    assert parse_auth_settings({"AUTH_JWT_PUBLIC_KEY_FILE": str(f)}).jwt.algorithm == "ES256"
    # a PEM squeezed into one env line with literal \n
    one_line = _pem_public(rsa_key).strip().replace("\n", "\\n")
    assert parse_auth_settings({"AUTH_JWT_PUBLIC_KEY": one_line}).jwt.algorithm == "RS256"


# --------------------------------------------------------------------------- API keys

@pytest.mark.parametrize("headers", [
    {"Authorization": f"Bearer {KEY2}"},
    {"Authorization": f"bearer   {KEY2}"},
    {"X-API-Key": KEY2},
])
def test_api_key_accepted(headers: dict[str, str]) -> None:
    caller = authenticate(auth_for({"AUTH_API_KEYS": f"{KEY1},{KEY2}"}), headers)
    assert caller.kind == "key" and not caller.restricted
    assert caller.id == key_fingerprint(KEY2)
    assert caller.id.startswith("key:") and len(caller.id) == 16
    assert KEY2 not in caller.id and KEY2 not in repr(caller)


def test_fingerprints_differ_per_key() -> None:
    assert key_fingerprint(KEY1) != key_fingerprint(KEY2)


@pytest.mark.parametrize("headers, missing", [
    ({}, True),
    ({"Authorization": "Bearer wrong-key-0123456789"}, False),
    ({"X-API-Key": "wrong-key-0123456789"}, False),
    ({"X-API-Key": KEY1[:-1]}, False),
    ({"X-API-Key": KEY1 + "x"}, False),
    ({"Authorization": f"Basic {KEY1}"}, False),
    ({"Authorization": "Bearer "}, False),
    ({"Authorization": f"Bearer {KEY1}", "X-API-Key": KEY1}, False),
    ({"X-API-Key": "x" * 100_000}, False),
])
def test_api_key_rejected(headers: dict[str, str], missing: bool) -> None:
    with pytest.raises(AuthError) as info:
        authenticate(auth_for({"AUTH_API_KEYS": KEY1}), headers)
    err = info.value
    assert err.status == 401
    assert err.www_authenticate.startswith("Bearer")
    assert (err.www_authenticate == "Bearer") is missing
    assert KEY1 not in err.message and "wrong-key" not in err.message


def test_every_key_is_compared(monkeypatch: pytest.MonkeyPatch) -> None:
    import agora_token_server.auth as mod

    calls: list[int] = []
    real = mod.hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(mod.hmac, "compare_digest", counting)
    keys = [f"key-{i:02d}-" + "z" * 20 for i in range(5)]
    a = auth_for({"AUTH_API_KEYS": ",".join(keys)})
    authenticate(a, {"X-API-Key": keys[0]})  # first key matches: still compares all 5
    assert len(calls) == 5


# --------------------------------------------------------------------------- JWT

def test_hs256_jwt_accepted_with_claims() -> None:
    token = jwt.encode(claims(channels=["room-*", "lobby"], role="subscriber"), SECRET, algorithm="HS256")
    caller = authenticate(auth_for({"AUTH_JWT_SECRET": SECRET}), bearer(token))
    assert caller == Caller(id="jwt:42", kind="jwt", sub="42", channels=("room-*", "lobby"),
                            subscriber_only=True)
    assert caller.restricted


def test_rs256_and_es256_jwt_accepted(rsa_key: Any, ec_key: Any) -> None:
    for key, alg in ((rsa_key, "RS256"), (ec_key, "ES256")):
        a = auth_for({"AUTH_JWT_PUBLIC_KEY": _pem_public(key)})
        token = jwt.encode(claims(sub="alice"), key, algorithm=alg)
        assert authenticate(a, bearer(token)).id == "jwt:alice"


def test_audience_and_issuer() -> None:
    env = {"AUTH_JWT_SECRET": SECRET, "AUTH_JWT_AUDIENCE": "agora-token", "AUTH_JWT_ISSUER": "https://idp"}
    a = auth_for(env)
    good = jwt.encode(claims(aud="agora-token", iss="https://idp"), SECRET, algorithm="HS256")
    assert authenticate(a, bearer(good)).sub == "42"
    for bad, fragment in (
        (claims(aud="other", iss="https://idp"), "audience"),
        (claims(iss="https://idp"), "aud"),
        (claims(aud="agora-token", iss="https://evil"), "issuer"),
        (claims(aud="agora-token"), "iss"),
    ):
        with pytest.raises(AuthError, match=fragment):
            authenticate(a, bearer(jwt.encode(bad, SECRET, algorithm="HS256")))


def test_token_with_audience_refused_when_none_configured() -> None:
    token = jwt.encode(claims(aud="someone-else"), SECRET, algorithm="HS256")
    with pytest.raises(AuthError):
        authenticate(auth_for({"AUTH_JWT_SECRET": SECRET}), bearer(token))


def test_expired_and_leeway() -> None:
    a = auth_for({"AUTH_JWT_SECRET": SECRET})
    now = int(time.time())
    with pytest.raises(AuthError, match="expired"):
        authenticate(a, bearer(jwt.encode(claims(exp=now - 120), SECRET, algorithm="HS256")))
    # within the 30 s leeway (with a wide margin so the test is not timing-sensitive)
    assert authenticate(a, bearer(jwt.encode(claims(exp=now - 5), SECRET, algorithm="HS256"))).sub == "42"
    with pytest.raises(AuthError, match="not valid yet"):
        authenticate(a, bearer(jwt.encode(claims(nbf=now + 600), SECRET, algorithm="HS256")))


@pytest.mark.parametrize("missing", ["exp", "sub"])
def test_required_claims(missing: str) -> None:
    c = claims()
    del c[missing]
    with pytest.raises(AuthError, match=missing):
        authenticate(auth_for({"AUTH_JWT_SECRET": SECRET}), bearer(jwt.encode(c, SECRET, algorithm="HS256")))


def test_wrong_secret_rejected() -> None:
    token = jwt.encode(claims(), "t" * 40, algorithm="HS256")
    with pytest.raises(AuthError, match="signature"):
        authenticate(auth_for({"AUTH_JWT_SECRET": SECRET}), bearer(token))


def test_alg_none_rejected(rsa_key: Any) -> None:
    token = jwt.encode(claims(), None, algorithm="none")
    for env in ({"AUTH_JWT_SECRET": SECRET}, {"AUTH_JWT_PUBLIC_KEY": _pem_public(rsa_key)}):
        with pytest.raises(AuthError):
            authenticate(auth_for(env), bearer(token))


def test_hs256_token_signed_with_public_key_rejected(rsa_key: Any) -> None:
    """Algorithm confusion: an HS256 token whose secret is the server's public PEM."""
    import base64
    import hashlib
    import hmac
    import json

    pem = _pem_public(rsa_key)

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims()).encode())
    sig = hmac.new(pem.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    token = f"{header}.{payload}.{b64(sig)}"
    with pytest.raises(AuthError, match="algorithm"):
        authenticate(auth_for({"AUTH_JWT_PUBLIC_KEY": pem}), bearer(token))


def test_rs256_token_against_other_key_and_es_against_rs(rsa_key: Any, ec_key: Any) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    a = auth_for({"AUTH_JWT_PUBLIC_KEY": _pem_public(rsa_key)})
    with pytest.raises(AuthError, match="signature"):
        authenticate(a, bearer(jwt.encode(claims(), other, algorithm="RS256")))
    with pytest.raises(AuthError, match="algorithm"):
        authenticate(a, bearer(jwt.encode(claims(), ec_key, algorithm="ES256")))


@pytest.mark.parametrize("garbage", [
    "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.", "not-a-jwt-at-all-0123456789", "....",
    "eyJhbGciOiJIUzI1NiJ9.!!!.x",
])
def test_garbage_bearer_is_401(garbage: str) -> None:
    with pytest.raises(AuthError):
        authenticate(auth_for({"AUTH_JWT_SECRET": SECRET}), bearer(garbage))


@pytest.mark.parametrize("bad", [
    {"sub": ""}, {"sub": 42}, {"sub": "x" * 300}, {"channels": "room"}, {"channels": [1]},
    {"channels": [""]}, {"role": "admin"},
])
def test_bad_claim_shapes(bad: dict[str, Any]) -> None:
    token = jwt.encode(claims(**bad), SECRET, algorithm="HS256")
    with pytest.raises(AuthError):
        authenticate(auth_for({"AUTH_JWT_SECRET": SECRET}), bearer(token))


def test_unprintable_sub_gets_a_printable_id() -> None:
    token = jwt.encode(claims(sub="bob smith\n"), SECRET, algorithm="HS256")
    caller = authenticate(auth_for({"AUTH_JWT_SECRET": SECRET}), bearer(token))
    assert caller.sub == "bob smith\n" and caller.id == "jwt:bob%20smith%0A"


@pytest.mark.parametrize("a, b", [
    ("~0123456789abcdef", "bob\n"),  # the old hashed form could collide with a plain sub
    ("bob%0A", "bob\n"), ("a b", "a%20b"), ("x\"y", "x%22y"), ("é", "%C3%A9"), ("a\\b", "a%5Cb"),
])
def test_caller_ids_never_collide(a: str, b: str) -> None:
    assert jwt_caller_id(a) != jwt_caller_id(b)
    for sub in (a, b):
        assert jwt_caller_id(sub).isprintable() and " " not in jwt_caller_id(sub)


from hypothesis import given  # noqa: E402
from hypothesis import settings as hsettings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@hsettings(max_examples=500, deadline=None)
@given(a=st.text(max_size=40), b=st.text(max_size=40))
def test_caller_id_is_injective(a: str, b: str) -> None:
    if a != b:
        assert jwt_caller_id(a) != jwt_caller_id(b)


def test_both_modes_either_accepted() -> None:
    a = auth_for({"AUTH_API_KEYS": KEY1, "AUTH_JWT_SECRET": SECRET})
    assert authenticate(a, bearer(KEY1)).kind == "key"
    assert authenticate(a, {"X-API-Key": KEY1}).kind == "key"
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    assert authenticate(a, bearer(token)).kind == "jwt"
    with pytest.raises(AuthError):  # X-API-Key never carries a JWT
        authenticate(a, {"X-API-Key": token})
    with pytest.raises(AuthError, match="neither"):
        authenticate(a, bearer("no-such-key-0123456789"))


def test_api_keys_only_does_not_accept_jwt() -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    with pytest.raises(AuthError, match="API key"):
        authenticate(auth_for({"AUTH_API_KEYS": KEY1}), bearer(token))


# --------------------------------------------------------------------------- authorisation

JWT_CALLER = Caller(id="jwt:42", kind="jwt", sub="42", channels=("room-*", "lobby"), subscriber_only=True)
KEY_CALLER = Caller(id="key:abc", kind="key")


def rtc(channel: str, uid: Any, publisher: bool = False) -> TokenRequest:
    return rtc_request("token", channel, uid, publisher, 60)


def rtm(user: str, channel: str = "") -> TokenRequest:
    return TokenRequest((rtm_token("token", user, 3600, channel),))


def chat(user: str = "") -> TokenRequest:
    return TokenRequest((chat_token("token", user, 3600),))


def rte(channel: str, uid: int, user: str) -> TokenRequest:
    return TokenRequest((rtc_token("rtcToken", channel, uid, False, 3600), rtm_token("rtmToken", user, 3600, channel)))


@pytest.mark.parametrize("req", [
    rtc("room-1", 42),
    rtc("lobby", 42),
    rtm("42"),
    rtm("42", "room-9"),
    chat("42"),
    rte("room-x", 42, "42"),
])
def test_jwt_caller_allowed(req: TokenRequest) -> None:
    assert authorize(JWT_CALLER, req) is None


@pytest.mark.parametrize("req, fragment", [
    (rtc("room-1", 43), "uid"),
    (rtc("room-1", 0), "uid"),
    (rtc("room-1", "42x"), "uid"),
    (rtc("Room-1", 42), "channel"),
    (rtc("lobby2", 42), "channel"),
    (rtc("room-1", 42, True), "subscriber"),
    (rtm("43"), "user"),
    (rtm("042"), "user"),
    (rtm("42", "other"), "channel"),
    (chat("alice"), "user"),
    (chat(), "app"),
    (rte("room-x", 42, "43"), "user"),
])
def test_jwt_caller_forbidden(req: TokenRequest, fragment: str) -> None:
    v = authorize(JWT_CALLER, req)
    assert v is not None and v.status == 403 and fragment in v.message
    assert authorize(KEY_CALLER, req) is None  # API keys are trusted


def test_only_the_canonical_sub_matches_a_numeric_uid() -> None:
    seven = Caller(id="jwt:7", kind="jwt", sub="7")
    assert authorize(seven, rtc("x", 7, True)) is None
    for sub in ("07", "007", "7.0", " 7", "+7"):
        c = Caller(id=jwt_caller_id(sub), kind="jwt", sub=sub)
        v = authorize(c, rtc("x", 7, True))
        assert v is not None and v.status == 403 and "uid" in v.message
    acct = Caller(id="jwt:alice", kind="jwt", sub="alice")
    assert authorize(acct, rtc("x", "alice", True)) is None
    # no channels claim: any channel; no role claim: publisher allowed
    assert authorize(acct, rtc("anything", "alice", True)) is None


@pytest.mark.parametrize("sub", ["0", "00", "000", "alice"])
def test_a_sub_never_yields_uid_0_by_default(sub: str) -> None:
    c = Caller(id=jwt_caller_id(sub), kind="jwt", sub=sub)
    v = authorize(c, rtc("x", 0))
    assert v is not None and v.status == 403 and "AUTH_JWT_ALLOW_ANY_UID" in v.message


def test_allow_any_uid_lets_sub_0_and_only_it_have_uid_0() -> None:
    zero = Caller(id="jwt:0", kind="jwt", sub="0")
    assert authorize(zero, rtc("x", 0), allow_any_uid=True) is None
    for sub in ("00", "000", "alice"):
        c = Caller(id=jwt_caller_id(sub), kind="jwt", sub=sub)
        assert authorize(c, rtc("x", 0), allow_any_uid=True) is not None


def test_allow_any_uid_setting() -> None:
    s = parse_auth_settings({"AUTH_JWT_SECRET": SECRET, "AUTH_JWT_ALLOW_ANY_UID": "1"})
    assert s.jwt is not None and s.jwt.allow_any_uid
    with pytest.raises(ConfigError, match="AUTH_JWT_ALLOW_ANY_UID"):
        parse_auth_settings({"AUTH_JWT_ALLOW_ANY_UID": "1"})  # without a JWT key it means nothing


# --------------------------------------------------------------------------- robustness

_BOTH = Authenticator(parse_auth_settings({"AUTH_API_KEYS": KEY1, "AUTH_JWT_SECRET": SECRET}))
_header_text = st.one_of(
    st.text(max_size=200),
    st.builds(lambda s: "Bearer " + s, st.text(max_size=200)),
    st.builds(lambda a, b, c: f"Bearer {a}.{b}.{c}", *(st.from_regex(r"[A-Za-z0-9_-]{0,40}", fullmatch=True),) * 3),
    st.just(f"Bearer {KEY1}"),
)


@hsettings(max_examples=300, deadline=None)
@given(authorization=st.none() | _header_text, api_key=st.none() | st.text(max_size=100))
def test_any_headers_give_a_caller_or_a_401(authorization: Any, api_key: Any) -> None:
    headers = {}
    if authorization is not None:
        headers["Authorization"] = authorization
    if api_key is not None:
        headers["X-API-Key"] = api_key
    try:
        caller = authenticate(_BOTH, headers)
    except AuthError as err:
        assert err.status == 401 and KEY1 not in err.message and SECRET not in err.message
    else:
        assert caller.kind in ("key", "jwt")
