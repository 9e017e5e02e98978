"""Property-based tests (hypothesis): build / parse / verify round trips on
each core, and the two cores against each other: the same token, or the same
exception with the same message, for random valid, malformed and odd input."""

from __future__ import annotations

import base64
import zlib
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agora_token as at
from agora_token import _pack_py
from agora_token._layout import I16, LAYOUTS, PERMISSIONS, STR, UID
from agora_token.services import service_from_tuple
from tests.support.cores import load_core, outcome
from tests.support.credentials import APP_CERTIFICATE, APP_ID
from tests.support.odd_inputs import Index, ItemsReturns

_cpack = load_core("cython")
needs_c = pytest.mark.skipif(_cpack is None, reason="compiled core (agora_token._pack) not built")

hexdigits = "0123456789abcdefABCDEF"
creds = st.text(alphabet=hexdigits, min_size=32, max_size=32)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
text = st.text(max_size=40)  # any unicode, surrogates excluded by default
privs = st.dictionaries(u16, u32, max_size=6)
uids = st.one_of(st.just(0), st.just(0xFFFFFFFF), u32, text)
perms = st.dictionaries(u16, st.dictionaries(u16, st.lists(text, max_size=4), max_size=3), max_size=3)


def _uid(u: Any) -> str:
    return ("" if u == 0 else str(u)) if isinstance(u, int) else u


# one strategy per field kind; the services come from the layout table
_KIND_STRATEGY = {STR: text, UID: uids.map(_uid), I16: st.integers(-0x8000, 0x7FFF), PERMISSIONS: perms}
services = st.one_of(*[
    st.tuples(st.just(t), privs, *[_KIND_STRATEGY[f.kind] for f in layout.fields])
    for t, layout in LAYOUTS.items()
])

tokens = st.fixed_dictionaries({
    "app_id": creds, "cert": creds, "issue_ts": u32, "expire": u32,
    "salt": st.integers(1, 99999999), "services": st.lists(services, min_size=1, max_size=5),
})


def build(t: dict[str, Any]) -> str:
    tok = at.AccessToken(t["app_id"], t["cert"], expire=t["expire"], issue_ts=t["issue_ts"], salt=t["salt"])
    for s in t["services"]:
        tok.add_service(service_from_tuple(s))
    return tok.build()


@pytest.mark.usefixtures("core")
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tokens)
def test_build_parse_roundtrip(t: dict[str, Any]) -> None:
    token = build(t)
    parsed = at.parse(token)
    assert isinstance(parsed, at.AccessToken)
    assert (parsed.app_id, parsed.issue_ts, parsed.expire, parsed.salt) == (
        t["app_id"], t["issue_ts"], t["expire"], t["salt"])
    expected = sorted(t["services"], key=lambda s: s[0])  # stable by type
    assert [s._core() for s in parsed.services] == [
        (s[0], dict(s[1]), *s[2:]) for s in expected]


@pytest.mark.usefixtures("core")
@settings(max_examples=100, deadline=None)
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
    token = _pack_py.build_007(*args)
    assert _cpack.build_007(*args) == token
    assert _cpack.parse_007(token) == _pack_py.parse_007(token)
    assert _cpack.verify_007(token, t["cert"]) is _pack_py.verify_007(token, t["cert"]) is True


@needs_c
@settings(max_examples=200, deadline=None)
@given(creds, creds, text, uids, u32, u32, privs)
def test_backends_identical_006(app_id: str, cert: str, channel: str, uid: Any, salt: int, ts: int,
                                p: dict[int, int]) -> None:
    uid = _uid(uid)
    token = _pack_py.build_006(app_id, cert, channel, uid, salt, ts, p)
    assert _cpack.build_006(app_id, cert, channel, uid, salt, ts, p) == token
    assert _cpack.parse_006(token) == _pack_py.parse_006(token)
    assert _cpack.verify_006(token, cert, channel, uid) is _pack_py.verify_006(token, cert, channel, uid) is True


garbage_tokens = st.one_of(
    st.text(max_size=80).map(lambda s: "007" + s),
    st.text(max_size=80).map(lambda s: "006" + s),
    st.binary(max_size=120).map(lambda b: "007" + base64.b64encode(b).decode()),
    st.binary(max_size=160).map(lambda b: "007" + base64.b64encode(zlib.compress(b)).decode()),
    st.binary(max_size=160).map(lambda b: "006" + "a" * 32 + base64.b64encode(b).decode()),
    st.text(max_size=80),
)


@pytest.mark.usefixtures("core")
@settings(max_examples=300, deadline=None)
@given(garbage_tokens)
def test_garbage_only_raises_invalid_token(token: str) -> None:
    for fn in (at.parse, lambda s: at.verify(s, "a" * 32, channel_name="c", uid=1)):
        try:
            fn(token)
        except at.InvalidTokenError:
            pass


@needs_c
@settings(max_examples=300, deadline=None)
@given(tokens, st.data())
def test_backends_agree_on_mutated_tokens(t: dict[str, Any], data: st.DataObject) -> None:
    """Structured garbage: a real payload cut and extended, re-wrapped."""
    payload = bytearray(zlib.decompress(base64.b64decode(build(t)[3:])))
    cut = data.draw(st.integers(0, len(payload)))
    mutated = bytes(payload[:cut]) + data.draw(st.binary(max_size=8))
    token = "007" + base64.b64encode(zlib.compress(mutated)).decode()
    assert outcome(_cpack.parse_007, token) == outcome(_pack_py.parse_007, token)
    assert outcome(_cpack.verify_007, token, t["cert"]) == outcome(_pack_py.verify_007, token, t["cert"])
    kind = outcome(_pack_py.parse_007, token)[0]
    assert kind in ("ok", "InvalidTokenError")


@needs_c
@settings(max_examples=400, deadline=None)
@given(garbage_tokens)
def test_backends_agree_on_garbage(token: str) -> None:
    assert outcome(_cpack.parse_007, token) == outcome(_pack_py.parse_007, token)
    assert outcome(_cpack.parse_006, token) == outcome(_pack_py.parse_006, token)
    assert outcome(_cpack.verify_007, token, "a" * 32) == outcome(_pack_py.verify_007, token, "a" * 32)
    assert outcome(_cpack.verify_006, token, "a" * 32, "c", "1") == outcome(
        _pack_py.verify_006, token, "a" * 32, "c", "1")


# --- odd values in service tuples: what a caller can put in public attributes

_scalars = st.one_of(
    st.integers(-(2**70), 2**70), st.integers(-3, 0x10002), st.floats(allow_nan=False), st.none(),
    st.booleans(), st.text(max_size=6), st.binary(max_size=4), st.just(Decimal(3)),
    st.integers(0, 9).map(Index),
)
_odd_maps = st.one_of(
    st.dictionaries(_scalars.filter(lambda x: not isinstance(x, float)), _scalars, max_size=4),
    st.lists(st.one_of(st.tuples(_scalars, _scalars), st.lists(_scalars, max_size=3), _scalars),
             max_size=4).map(ItemsReturns),
    _scalars,
)
_odd_fields = st.one_of(_scalars, st.text(max_size=8), _odd_maps,
                        st.dictionaries(st.integers(0, 3), st.dictionaries(st.integers(0, 3), st.one_of(
                            st.lists(st.one_of(st.text(max_size=3), _scalars), max_size=3), _scalars),
                            max_size=2), max_size=2))
_odd_services = st.one_of(
    services,
    st.tuples(st.one_of(st.integers(0, 9), _scalars), _odd_maps),
    st.builds(lambda t, p, f: (t, p, *f), st.integers(1, 8), st.one_of(privs, _odd_maps),
              st.lists(_odd_fields, max_size=4)),
    st.lists(_scalars, max_size=3),
)


@needs_c
@settings(max_examples=400, deadline=None)
@given(st.lists(_odd_services, max_size=4), st.one_of(u32, _scalars))
def test_backends_agree_on_odd_services(svcs: list[Any], expire: Any) -> None:
    args = (APP_ID, APP_CERTIFICATE, 1_700_000_000, expire, 7, svcs)
    py = outcome(_pack_py.build_007, *args)
    assert outcome(_cpack.build_007, *args) == py
    assert py[0] in ("ok", "InvalidParameterError"), py


@needs_c
@settings(max_examples=200, deadline=None)
@given(st.one_of(privs, _odd_maps), st.one_of(text, _scalars), st.one_of(text, _scalars))
def test_backends_agree_on_odd_006(p: Any, channel: Any, uid: Any) -> None:
    args = (APP_ID, APP_CERTIFICATE, channel, uid, 1, 2, p)
    py = outcome(_pack_py.build_006, *args)
    assert outcome(_cpack.build_006, *args) == py
    assert py[0] in ("ok", "InvalidParameterError"), py
