"""Every official vector, built through the public low-level API, byte for byte, on both cores."""

from __future__ import annotations

import base64
import zlib
from typing import Any

import pytest

import agora_token as at
from agora_token.legacy import AccessToken006
from agora_token.services import (
    Service,
    ServiceApaas,
    ServiceChat,
    ServiceFcdn,
    ServiceFpa,
    ServiceRtc,
    ServiceRtm,
    ServiceRtm2,
    ServiceStreaming,
)
from tests.support.vectors import FILE_006, FILE_007, VECTOR_DIRS

pytestmark = pytest.mark.usefixtures("core")


def make_service(spec: dict[str, Any]) -> Service:
    t = spec["type"]
    svc: Service
    if t == 1:
        svc = ServiceRtc(spec["channel_name"], spec["uid"])
    elif t == 2:
        svc = ServiceRtm(spec["user_id"])
    elif t == 3:
        svc = ServiceStreaming(spec["channel_name"], spec["account"])
    elif t == 4:
        svc = ServiceFpa()
    elif t == 5:
        svc = ServiceChat(spec["user_id"])
    elif t == 6:
        svc = ServiceFcdn(spec["channel_name"], spec["account"])
    elif t == 7:
        svc = ServiceApaas(spec["room_uuid"], spec["user_uuid"], spec["role"])
    else:
        perms = {int(r): {int(p): list(v) for p, v in inner.items()}
                 for r, inner in spec["permissions"].items()}
        svc = ServiceRtm2(spec["user_id"], perms)
    for k, v in spec["privileges"].items():
        svc.add_privilege(int(k), v)
    return svc


def build_vector(v: dict[str, Any]) -> str:
    token = at.AccessToken(v["app_id"], v["app_certificate"], expire=v["expire"],
                           issue_ts=v["issue_ts"], salt=v["salt"])
    for spec in v["services"]:
        token.add_service(make_service(spec))
    return token.build()


def same_zlib(meta: dict[str, Any]) -> bool:
    return meta.get("zlib_version") == zlib.ZLIB_RUNTIME_VERSION


def test_vector_files_are_complete(vectors007: list[dict[str, Any]], vectors006: list[dict[str, Any]]) -> None:
    assert len(vectors007) >= 40
    assert len(vectors006) >= 10
    assert {s["type"] for v in vectors007 for s in v["services"]} == set(range(1, 9))


def test_007_vectors(vectors007: list[dict[str, Any]], vectors007_meta: dict[str, Any]) -> None:
    for v in vectors007:
        token = build_vector(v)
        assert token.startswith("007")
        payload = zlib.decompress(base64.b64decode(token[3:]))
        assert payload.hex() == v["payload_hex"], v["name"]
        if same_zlib(vectors007_meta):
            assert token == v["token"], v["name"]
        assert token == build_vector(v), "build() must be repeatable"


@pytest.mark.parametrize("field", ["app_id", "issue_ts", "expire", "salt"])
def test_007_vectors_parse(vectors007: list[dict[str, Any]], field: str) -> None:
    for v in vectors007:
        parsed = at.parse(v["token"])
        assert isinstance(parsed, at.AccessToken)
        assert getattr(parsed, field) == v[field], v["name"]


def test_007_vectors_parse_services(vectors007: list[dict[str, Any]]) -> None:
    for v in vectors007:
        parsed = at.parse(v["token"])
        expected = sorted((make_service(s) for s in v["services"]), key=lambda s: s.type)
        assert parsed.services == expected, v["name"]
        assert parsed.expires_at == v["issue_ts"] + v["expire"]


def test_007_vectors_verify(vectors007: list[dict[str, Any]]) -> None:
    for v in vectors007:
        assert at.verify(v["token"], v["app_certificate"]), v["name"]
        assert at.parse(v["token"]).verify(v["app_certificate"])
        other = ("0" if v["app_certificate"][0] != "0" else "1") + v["app_certificate"][1:]
        assert not at.verify(v["token"], other), v["name"]


def build006(v: dict[str, Any]) -> str:
    token = AccessToken006(v["app_id"], v["app_certificate"], v["channel_name"], v["uid"],
                           salt=v["salt"], ts=v["ts"])
    for k, e in v["privileges"].items():
        token.add_privilege(int(k), e)
    return token.build()


def test_006_vectors(vectors006: list[dict[str, Any]]) -> None:
    for v in vectors006:
        token = build006(v)
        assert token == v["token"], v["name"]
        assert base64.b64decode(token[35:]).hex() == v["content_hex"], v["name"]


def test_006_vectors_parse_and_verify(vectors006: list[dict[str, Any]]) -> None:
    for v in vectors006:
        parsed = at.parse(v["token"])
        assert isinstance(parsed, AccessToken006)
        assert parsed.app_id == v["app_id"]
        assert (parsed.salt, parsed.ts) == (v["salt"], v["ts"])
        assert parsed.privileges == {int(k): e for k, e in v["privileges"].items()}
        assert parsed.crc_channel_name == zlib.crc32(v["channel_name"].encode())
        assert parsed.crc_uid == zlib.crc32(v["uid"].encode())
        assert at.verify(v["token"], v["app_certificate"], channel_name=v["channel_name"], uid=v["uid"])
        assert parsed.verify(v["app_certificate"], v["channel_name"], v["uid"])
        assert not at.verify(v["token"], v["app_certificate"], channel_name=v["channel_name"] + "x",
                             uid=v["uid"])
        assert not at.verify(v["token"], "F" * 32, channel_name=v["channel_name"], uid=v["uid"])


def test_006_verify_needs_channel_and_uid(vectors006: list[dict[str, Any]]) -> None:
    with pytest.raises(at.InvalidParameterError, match="channel_name"):
        at.verify(vectors006[0]["token"], vectors006[0]["app_certificate"])


def test_006_legacy_builders_match_vectors(vectors006: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """The legacy builders, with time and salt pinned to the vector's."""
    from agora_token import legacy

    checked = 0
    for v in vectors006:
        monkeypatch.setattr(legacy, "new_salt", lambda v=v: v["salt"])
        monkeypatch.setattr(legacy.time, "time", lambda v=v: v["ts"] - 86400)
        b = v["builder"]
        if b == "RtcTokenBuilder.buildTokenWithUid":
            tok = legacy.RtcTokenBuilder006.build_token_with_uid(
                v["app_id"], v["app_certificate"], v["channel_name"], int(v["uid"] or 0), v["role"],
                v["privilege_expire_ts"])
        elif b == "RtcTokenBuilder.buildTokenWithAccount":
            tok = legacy.RtcTokenBuilder006.buildTokenWithAccount(
                v["app_id"], v["app_certificate"], v["channel_name"], v["uid"], v["role"],
                v["privilege_expire_ts"])
        elif b == "RtmTokenBuilder.buildToken":
            tok = legacy.RtmTokenBuilder006.build_token(
                v["app_id"], v["app_certificate"], v["channel_name"], v["role"], v["privilege_expire_ts"])
        else:
            continue
        assert tok == v["token"], v["name"]
        checked += 1
    assert checked >= 8


def test_vendored_vector_copy_matches_shared() -> None:
    """tests/vectors/ (for GitHub and wheel builds) must equal ../shared/vectors/."""
    shared, copy = VECTOR_DIRS
    if not shared.is_dir():
        pytest.skip("../shared/vectors not present (GitHub checkout or wheel test)")
    for name in (FILE_007, FILE_006):
        assert (copy / name).read_bytes() == (shared / name).read_bytes(), f"run scripts/sync_vectors.sh ({name})"
