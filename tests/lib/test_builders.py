"""Each builder against a hand-checked expectation of what it packs, on both cores."""

from __future__ import annotations

import hashlib
import time
import warnings
from typing import Any

import pytest

import agora_token as at
from agora_token import (
    ApaasTokenBuilder,
    ChatTokenBuilder,
    EducationTokenBuilder,
    FpaTokenBuilder,
    Role,
    RtcTokenBuilder,
    RtmTokenBuilder,
)
from agora_token.constants import DEFAULT_EXPIRE
from tests.support.credentials import APP_CERTIFICATE as CERT
from tests.support.credentials import APP_ID

pytestmark = pytest.mark.usefixtures("core")


def shape(token: str) -> list[tuple[Any, ...]]:
    """(type, privileges, *fields) of each service of a freshly built token."""
    assert at.verify(token, CERT)
    parsed = at.parse(token)
    assert parsed.app_id == APP_ID
    assert abs(parsed.issue_ts - time.time()) < 600
    assert 1 <= parsed.salt <= 99999999
    return [s._core() for s in parsed.services]


def expire_of(token: str) -> int:
    return int(at.parse(token).expire)


def test_role_values() -> None:
    assert Role.PUBLISHER == 1 and Role.SUBSCRIBER == 2
    assert DEFAULT_EXPIRE == 3600


def test_rtc_publisher_uid() -> None:
    tok = RtcTokenBuilder.build_token_with_uid(APP_ID, CERT, "ch", 42, Role.PUBLISHER, 600, 300)
    assert shape(tok) == [(1, {1: 300, 2: 300, 3: 300, 4: 300}, "ch", "42")]
    assert expire_of(tok) == 600


def test_rtc_subscriber_uid0_is_empty() -> None:
    tok = RtcTokenBuilder.build_token_with_uid(APP_ID, CERT, "ch", 0, Role.SUBSCRIBER, 600)
    assert shape(tok) == [(1, {1: 0}, "ch", "")]


def test_rtc_other_roles_are_subscribers() -> None:
    tok = RtcTokenBuilder.build_token_with_user_account(APP_ID, CERT, "ch", "bob", 101, 60, 60)
    assert shape(tok) == [(1, {1: 60}, "ch", "bob")]


def test_rtc_with_privileges() -> None:
    tok = RtcTokenBuilder.build_token_with_uid_and_privilege(APP_ID, CERT, "c", 7, 900, 10, 20, 30, 40)
    assert shape(tok) == [(1, {1: 10, 2: 20, 3: 30, 4: 40}, "c", "7")]
    tok = RtcTokenBuilder.build_token_with_user_account_and_privilege(APP_ID, CERT, "c", "al", 900, 1, 2, 3, 4)
    assert shape(tok) == [(1, {1: 1, 2: 2, 3: 3, 4: 4}, "c", "al")]


def test_rtc_with_rtm() -> None:
    tok = RtcTokenBuilder.build_token_with_rtm(APP_ID, CERT, "c", "al", Role.PUBLISHER, 500, 400)
    assert shape(tok) == [(1, {1: 400, 2: 400, 3: 400, 4: 400}, "c", "al"), (2, {1: 500}, "al")]
    assert expire_of(tok) == 500


def test_rtc_with_rtm2() -> None:
    tok = RtcTokenBuilder.build_token_with_rtm2(APP_ID, CERT, "c", "al", Role.PUBLISHER, 500,
                                                1, 2, 3, 4, "rtm-al", 700)
    assert shape(tok) == [(1, {1: 1, 2: 2, 3: 3, 4: 4}, "c", "al"), (2, {1: 700}, "rtm-al")]


def test_rtc_with_rtm2_subscriber_gets_join_only() -> None:
    # like the official builder: the publish privileges need Role.PUBLISHER
    tok = RtcTokenBuilder.build_token_with_rtm2(APP_ID, CERT, "c", "al", Role.SUBSCRIBER, 500,
                                                1, 2, 3, 4, "rtm-al", 700)
    assert shape(tok) == [(1, {1: 1}, "c", "al"), (2, {1: 700}, "rtm-al")]


def test_official_apaas_constant_names() -> None:
    assert (at.ServiceApaas.kPrivilegeRoomUser, at.ServiceApaas.kPrivilegeUser,
            at.ServiceApaas.kPrivilegeApp) == (1, 2, 3)


def test_rtm() -> None:
    tok = RtmTokenBuilder.build_token(APP_ID, CERT, "alice", 3600)
    assert shape(tok) == [(2, {1: 3600}, "alice")]


@pytest.mark.parametrize("channel", ["stream-1", "*"])
def test_rtm_with_stream_channel(channel: str) -> None:
    tok = RtmTokenBuilder.build_token(APP_ID, CERT, "alice", 60, channel)
    assert shape(tok) == [(1, {1: 60, 4: 60}, channel, "alice"), (2, {1: 60}, "alice")]


def test_rtm_with_permissions() -> None:
    perms = {at.ResourceType.USER: {at.PermissionType.WRITE: ["u2", "u1"]}, 0: {0: ["a"]}}
    tok = RtmTokenBuilder.build_token_with_permissions(APP_ID, CERT, "alice", perms, 60)
    assert shape(tok) == [(8, {1: 60}, "alice", {0: {0: ["a"]}, 4: {1: ["u2", "u1"]}})]


def test_rtm_with_permissions_object_keeps_empty_lists() -> None:
    perms = at.ServiceRtm2.Permissions()
    perms.add(perms.kUsers, perms.kWrite, ["u2", "u1"])
    perms.add(perms.kMessageChannels, perms.kRead, [])  # kept and packed, as Agora's builder does
    perms.add(perms.kMessageChannels, perms.kWrite, ("x",))
    perms.add(perms.kMessageChannels, perms.kWrite, ["b", "a"])  # replaces the pair's list
    tok = RtmTokenBuilder.build_token_with_permissions(APP_ID, CERT, "alice", perms, expire=60)
    assert shape(tok) == [(8, {1: 60}, "alice", {0: {0: [], 1: ["b", "a"]}, 4: {1: ["u2", "u1"]}})]
    assert perms.details == {4: {1: ["u2", "u1"]}, 0: {0: [], 1: ["b", "a"]}}
    assert at.ServiceRtm2.Permissions is at.services.Rtm2Permissions
    assert at.ServiceRtm2("alice", perms).permissions == perms.details  # a service takes one too
    assert shape(RtmTokenBuilder.build_token_with_permissions(APP_ID, CERT, "al", at.ServiceRtm2.Permissions())) \
        == [(8, {1: 0}, "al", {})]  # expire defaults to 0, as Agora's


def test_rtm_with_permissions_old_order_warns() -> None:
    """The order docs/library.md showed before (expire 4th, permissions 5th) works for one release."""
    perms = {0: {0: ["a"]}}
    with pytest.warns(DeprecationWarning, match="pass permissions before expire"):
        tok = RtmTokenBuilder.build_token_with_permissions(APP_ID, CERT, "alice", 60, perms)  # type: ignore[arg-type]
    assert shape(tok) == [(8, {1: 60}, "alice", {0: {0: ["a"]}})]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new order does not warn
        RtmTokenBuilder.build_token_with_permissions(APP_ID, CERT, "alice", perms, 60)
        RtmTokenBuilder.build_token_with_permissions(APP_ID, CERT, "alice", expire=60, permissions=perms)


def test_chat() -> None:
    assert shape(ChatTokenBuilder.build_user_token(APP_ID, CERT, "bob", 99)) == [(5, {1: 99}, "bob")]
    assert shape(ChatTokenBuilder.build_app_token(APP_ID, CERT, 99)) == [(5, {2: 99}, "")]


def test_fpa() -> None:
    tok = FpaTokenBuilder.build_token(APP_ID, CERT)
    assert shape(tok) == [(4, {1: 0})]
    assert expire_of(tok) == 86400


@pytest.mark.parametrize("builder", [ApaasTokenBuilder, EducationTokenBuilder])
def test_apaas(builder: type[ApaasTokenBuilder]) -> None:
    md5 = hashlib.md5(b"stu").hexdigest()
    tok = builder.build_room_user_token(APP_ID, CERT, "room", "stu", 2, 120)
    assert shape(tok) == [(2, {1: 120}, "stu"), (5, {1: 120}, md5), (7, {1: 120}, "room", "stu", 2)]
    assert shape(builder.build_user_token(APP_ID, CERT, "stu", 5)) == [(7, {2: 5}, "", "stu", -1)]
    assert shape(builder.build_app_token(APP_ID, CERT, 5)) == [(7, {3: 5}, "", "", -1)]


def test_short_functions() -> None:
    assert shape(at.rtc_token(APP_ID, CERT, "c", 5)) == [(1, {1: 3600, 2: 3600, 3: 3600, 4: 3600}, "c", "5")]
    assert shape(at.rtc_token(APP_ID, CERT, "c", "al", role="subscriber", expire=10)) == [(1, {1: 10}, "c", "al")]
    assert shape(at.rtc_token(APP_ID, CERT, "c", 5, expire=100, privilege_expire=50))[0][1] == {
        1: 50, 2: 50, 3: 50, 4: 50}
    assert shape(at.rtm_token(APP_ID, CERT, "al", channel="*")) == [
        (1, {1: 3600, 4: 3600}, "*", "al"), (2, {1: 3600}, "al")]
    assert shape(at.chat_user_token(APP_ID, CERT, "al")) == [(5, {1: 3600}, "al")]
    assert shape(at.chat_app_token(APP_ID, CERT, expire=7)) == [(5, {2: 7}, "")]


def test_each_build_gets_a_fresh_salt() -> None:
    salts = {at.parse(at.rtc_token(APP_ID, CERT, "c", 1)).salt for _ in range(20)}
    assert len(salts) > 15
