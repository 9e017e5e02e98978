"""The one describer: the structure, its /verifyToken JSON and expire 0."""

from __future__ import annotations

from typing import Any

import pytest

import agora_token as at
from agora_token.description import PrivilegeDescription, iso
from agora_token.legacy import AccessToken006, RtcTokenBuilder006, RtmTokenBuilder006
from tests.support.credentials import APP_CERTIFICATE as CERT
from tests.support.credentials import APP_ID, OTHER_CERTIFICATE

pytestmark = pytest.mark.usefixtures("core")
T0 = 1_700_000_000


def _token(*services: at.Service, expire: int = 600) -> str:
    tok = at.AccessToken(APP_ID, CERT, expire=expire, issue_ts=T0, salt=7)
    for s in services:
        tok.add_service(s)
    return tok.build()


def _svc(cls: type[at.Service], *args: Any, **privileges: int) -> at.Service:
    svc = cls(*args)
    for p, e in privileges.items():
        svc.add_privilege(int(p[1:]), e)
    return svc


def test_007_structure_and_expire_zero() -> None:
    token = _token(_svc(at.ServiceRtc, "room", 0, p1=0, p2=300))
    d = at.describe_token(token)
    assert (d.version, d.app_id, d.issue_ts, d.expire, d.expires_at, d.salt) == ("007", APP_ID, T0, 600, T0 + 600, 7)
    (rtc,) = d.services
    assert (rtc.type, rtc.name, rtc.fields) == (1, "rtc", {"channel_name": "room", "uid": ""})
    # expire 0: no limit of its own (the token's expiry applies), not "expired at issue"
    assert rtc.privileges == (PrivilegeDescription(1, "joinChannel", 0, None),
                              PrivilegeDescription(2, "publishAudioStream", 300, T0 + 300))
    assert d.verify(CERT) is True and d.verify(OTHER_CERTIFICATE) is False


def test_007_json_is_the_verify_token_shape() -> None:
    token = _token(_svc(at.ServiceRtc, "room", 0, p1=0, p4=600), _svc(at.ServiceRtm, "bob", p1=100),
                   _svc(at.ServiceChat, "", p2=600), _svc(at.ServiceStreaming, "live", "acct", p9=5),
                   _svc(at.ServiceApaas, "r", "u", 2, p1=1), _svc(at.ServiceRtm2, "al", {0: {0: ["n"]}}, p1=1))
    body = at.describe_token(token).to_json(T0 + 10)
    assert list(body) == ["version", "appId", "issuedAt", "expiresAt", "expired", "services"]
    assert body["issuedAt"] == iso(T0) == "2023-11-14T22:13:20Z" and body["expiresAt"] == iso(T0 + 600)
    assert body["expired"] is False and at.describe_token(token).to_json(T0 + 600)["expired"] is True
    assert body["services"] == [
        {"type": "rtc", "channel": "room", "uid": "0", "privileges": {
            "joinChannel": {"expire": 0, "expiresAt": None},
            "publishDataStream": {"expire": 600, "expiresAt": iso(T0 + 600)}}},
        {"type": "rtm", "userId": "bob", "privileges": {"login": {"expire": 100, "expiresAt": iso(T0 + 100)}}},
        {"type": "streaming", "channel": "live", "account": "acct",
         "privileges": {"9": {"expire": 5, "expiresAt": iso(T0 + 5)}}},
        {"type": "chat", "userId": "", "privileges": {"app": {"expire": 600, "expiresAt": iso(T0 + 600)}}},
        {"type": "apaas", "roomUuid": "r", "userUuid": "u", "role": 2,
         "privileges": {"roomUser": {"expire": 1, "expiresAt": iso(T0 + 1)}}},
        {"type": "rtm2", "userId": "al", "permissions": {"messageChannels": {"read": ["n"]}},
         "privileges": {"login": {"expire": 1, "expiresAt": iso(T0 + 1)}}},
    ]
    detail = at.describe_token(token).to_json(T0, detail=True)
    assert detail["services"][0]["typeId"] == 1 and detail["issueTs"] == T0
    assert detail["services"][0]["privileges"]["joinChannel"] == {
        "id": 1, "expire": 0, "expiresAt": None, "expiresTs": None}
    assert detail["services"][-1]["permissions"] == {"messageChannels": {"read": ["n"]}}


def test_every_service_kind_is_described() -> None:
    """Every service type, every privilege it knows, every field: named (none
    falls back to a bare number), and RTM2 permissions with every resource and
    permission type by the names POST /token/generate takes."""
    from agora_token._layout import LAYOUTS

    perms = {r: {p: [f"{r}{p}"] for p in at.PermissionType} for r in at.ResourceType}
    made = (at.ServiceRtc("c", 5), at.ServiceRtm("u"), at.ServiceStreaming("c", "a"), at.ServiceFpa(),
            at.ServiceChat("u"), at.ServiceFcdn("c", "a"), at.ServiceApaas("r", "u", 3), at.ServiceRtm2("u", perms))
    services = []
    for svc, layout in zip(made, LAYOUTS.values()):
        assert svc.type == layout.type
        for p in layout.privileges:
            svc.add_privilege(p, 10)
        services.append(svc)
    body = at.describe_token(_token(*services)).to_json(T0)
    assert [s["type"] for s in body["services"]] == [lay.name for lay in LAYOUTS.values()]
    for entry, layout in zip(body["services"], LAYOUTS.values()):
        assert list(entry["privileges"]) == [at.description.camel(p.name) for p in layout.privileges]
        assert set(entry) == {"type", "privileges", *(f.json_name for f in layout.fields)}, entry
    assert body["services"][-1]["permissions"] == {
        "messageChannels": {"read": ["00"], "write": ["01"]}, "streamChannels": {"read": ["10"], "write": ["11"]},
        "groupChannels": {"read": ["20"], "write": ["21"]}, "serverGroups": {"read": ["30"], "write": ["31"]},
        "users": {"read": ["40"], "write": ["41"]}}


def test_006_rtc_json_with_and_without_channel_and_uid(vectors006: list[dict[str, Any]]) -> None:
    token = RtcTokenBuilder006.build_token_with_uid(APP_ID, CERT, "room", 42, 1, T0 + 60)
    d = at.describe_token(token)
    assert d.verify(CERT) is None  # 006 signs channel and uid: cannot tell without them
    body = d.to_json(T0)
    assert body["issuedAt"] is None and body["expiresAt"] == iso(T0 + 60) and body["expired"] is False
    assert body["services"] == [{"type": "rtc", "privileges": {
        name: {"expire": T0 + 60, "expiresAt": iso(T0 + 60)}
        for name in ("joinChannel", "publishAudioStream", "publishVideoStream", "publishDataStream")}}]
    d = at.describe_token(token, channel="room", uid=42)
    assert d.verify(CERT) is True and d.verify(OTHER_CERTIFICATE) is False
    assert d.to_json(T0)["services"][0]["channel"] == "room" and d.to_json(T0)["services"][0]["uid"] == "42"
    assert at.describe_token(token, channel="room", uid="43").verify(CERT) is False


def test_006_privilege_zero_never_expires() -> None:
    tok = AccessToken006(APP_ID, CERT, "room", 0, salt=1, ts=T0)
    tok.add_privilege(1, 0)
    d = at.describe_token(tok.build(), channel="room", uid="0")
    assert d.expires_at is None and not d.expired(2**40)
    body = d.to_json(T0)
    assert body["expiresAt"] is None and body["expired"] is False
    assert body["services"] == [{"type": "rtc", "channel": "room", "uid": "0", "privileges": {
        "joinChannel": {"expire": 0, "expiresAt": None}}}]
    assert d.verify(CERT) is True


def test_006_rtm_token_verifies_with_the_account_alone() -> None:
    token = RtmTokenBuilder006.build_token(APP_ID, CERT, "bob", 1, T0 + 60)
    d = at.describe_token(token, uid="bob")
    assert d.verify(CERT) is True
    assert d.to_json(T0)["services"] == [{"type": "rtm", "userId": "bob", "privileges": {
        "login": {"expire": T0 + 60, "expiresAt": iso(T0 + 60)}}}]
    assert at.describe_token(token).to_json(T0)["services"] == [
        {"type": "rtm", "privileges": {"login": {"expire": T0 + 60, "expiresAt": iso(T0 + 60)}}}]


def test_malformed_token_raises_invalid_token() -> None:
    with pytest.raises(at.InvalidTokenError):
        at.describe_token("007garbage")
