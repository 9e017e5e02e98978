"""Property-based tests (hypothesis) of build / parse / verify."""

from __future__ import annotations

import base64
import zlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agora_token as at
from agora_token import _pack_py
from agora_token.services import service_from_tuple

try:
    from agora_token import _pack as _cpack
except ImportError:  # pure-Python install
    _cpack = None

needs_c = pytest.mark.skipif(_cpack is None, reason="compiled extension not built")

hexdigits = "0123456789abcdefABCDEF"
creds = st.text(alphabet=hexdigits, min_size=32, max_size=32)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
text = st.text(max_size=40)  # any unicode, surrogates excluded by default
privs = st.dictionaries(u16, u32, max_size=6)
uids = st.one_of(st.just(0), st.just(0xFFFFFFFF), u32, text)
perms = st.dictionaries(u16, st.dictionaries(u16, st.lists(text, max_size=4), max_size=3), max_size=3)

services = st.one_of(
    st.tuples(st.just(1), privs, text, uids).map(lambda t: (1, t[1], t[2], _uid(t[3]))),
    st.tuples(st.just(2), privs, text),
    st.tuples(st.just(3), privs, text, uids).map(lambda t: (3, t[1], t[2], _uid(t[3]))),
    st.tuples(st.just(4), privs),
    st.tuples(st.just(5), privs, text),
    st.tuples(st.just(6), privs, text, uids).map(lambda t: (6, t[1], t[2], _uid(t[3]))),
    st.tuples(st.just(7), privs, text, text, st.integers(-0x8000, 0x7FFF)),
    st.tuples(st.just(8), privs, text, perms),
)


def _uid(u: Any) -> str:
    return ("" if u == 0 else str(u)) if isinstance(u, int) else u


tokens = st.fixed_dictionaries({
    "app_id": creds, "cert": creds, "issue_ts": u32, "expire": u32,
    "salt": st.integers(1, 99999999), "services": st.lists(services, min_size=1, max_size=5),
})


def build(t: dict[str, Any]) -> str:
    tok = at.AccessToken(t["app_id"], t["cert"], expire=t["expire"], issue_ts=t["issue_ts"], salt=t["salt"])
    for s in t["services"]:
        tok.add_service(service_from_tuple(s))
    return tok.build()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tokens)
def test_build_parse_roundtrip(t: dict[str, Any]) -> None:
    token = build(t)
    parsed = at.parse(token)
    assert (parsed.app_id, parsed.issue_ts, parsed.expire, parsed.salt) == (
        t["app_id"], t["issue_ts"], t["expire"], t["salt"])
    expected = sorted(t["services"], key=lambda s: s[0])  # stable by type
    assert [s._core() for s in parsed.services] == [
        (s[0], dict(s[1]), *s[2:]) for s in expected]


@settings(max_examples=200, deadline=None)
@given(tokens, creds, st.data())
def test_verify(t: dict[str, Any], other: str, data: st.DataObject) -> None:
    token = build(t)
    assert at.verify(token, t["cert"])
    if other != t["cert"]:  # the certificate is used as text: any change matters
        assert not at.verify(token, other)
    # flip one byte of the signed payload: never verifies (or does not parse)
    payload = bytearray(zlib.decompress(base64.b64decode(token[3:])))
    i = data.draw(st.integers(2, len(payload) - 1))
    payload[i] ^= data.draw(st.integers(1, 255))
    forged = "007" + base64.b64encode(zlib.compress(bytes(payload))).decode()
    try:
        assert not at.verify(forged, t["cert"])
    except at.InvalidTokenError:
        pass


@needs_c
@settings(max_examples=300, deadline=None)
@given(tokens)
def test_backends_identical(t: dict[str, Any]) -> None:
    args = (t["app_id"], t["cert"], t["issue_ts"], t["expire"], t["salt"], t["services"])
    token = _pack_py.build_v2(*args)
    assert _cpack.build_v2(*args) == token
    assert _cpack.parse_v2(token) == _pack_py.parse_v2(token)
    assert _cpack.verify_v2(token, t["cert"]) is _pack_py.verify_v2(token, t["cert"]) is True


@needs_c
@settings(max_examples=200, deadline=None)
@given(creds, creds, text, uids, u32, u32, privs)
def test_backends_identical_006(app_id: str, cert: str, channel: str, uid: Any, salt: int, ts: int,
                                p: dict[int, int]) -> None:
    uid = _uid(uid)
    token = _pack_py.build_v1(app_id, cert, channel, uid, salt, ts, p)
    assert _cpack.build_v1(app_id, cert, channel, uid, salt, ts, p) == token
    assert _cpack.parse_v1(token) == _pack_py.parse_v1(token)
    assert _cpack.verify_v1(token, cert, channel, uid) is _pack_py.verify_v1(token, cert, channel, uid) is True


def _outcome(fn: Any, *args: Any) -> Any:
    try:
        return ("ok", fn(*args))
    except at.InvalidTokenError:
        return ("invalid",)


garbage_tokens = st.one_of(
    st.text(max_size=80).map(lambda s: "007" + s),
    st.text(max_size=80).map(lambda s: "006" + s),
    st.binary(max_size=120).map(lambda b: "007" + base64.b64encode(b).decode()),
    st.binary(max_size=160).map(lambda b: "007" + base64.b64encode(zlib.compress(b)).decode()),
    st.binary(max_size=160).map(lambda b: "006" + "a" * 32 + base64.b64encode(b).decode()),
    st.text(max_size=80),
)


@settings(max_examples=500, deadline=None)
@given(garbage_tokens)
def test_garbage_only_raises_invalid_token(token: str) -> None:
    for fn in (at.parse, lambda s: at.verify(s, "a" * 32, channel_name="c", uid=1)):
        try:
            fn(token)
        except at.InvalidTokenError:
            pass


@settings(max_examples=300, deadline=None)
@given(tokens, st.data())
def test_mutated_tokens_only_raise_invalid_token(t: dict[str, Any], data: st.DataObject) -> None:
    payload = bytearray(zlib.decompress(base64.b64decode(build(t)[3:])))
    cut = data.draw(st.integers(0, len(payload)))
    mutated = bytes(payload[:cut]) + data.draw(st.binary(max_size=8))
    token = "007" + base64.b64encode(zlib.compress(mutated)).decode()
    try:
        at.parse(token)
    except at.InvalidTokenError:
        pass
    if _cpack is not None:
        assert _outcome(_cpack.parse_v2, token) == _outcome(_pack_py.parse_v2, token)
        assert _outcome(_cpack.verify_v2, token, t["cert"]) == _outcome(_pack_py.verify_v2, token, t["cert"])


@needs_c
@settings(max_examples=500, deadline=None)
@given(garbage_tokens)
def test_backends_agree_on_garbage(token: str) -> None:
    assert _outcome(_cpack.parse_v2, token) == _outcome(_pack_py.parse_v2, token)
    assert _outcome(_cpack.parse_v1, token) == _outcome(_pack_py.parse_v1, token)
    assert _outcome(_cpack.verify_v2, token, "a" * 32) == _outcome(_pack_py.verify_v2, token, "a" * 32)
    assert _outcome(_cpack.verify_v1, token, "a" * 32, "c", "1") == _outcome(
        _pack_py.verify_v1, token, "a" * 32, "c", "1")
