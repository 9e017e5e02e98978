"""Helpers for the service tests: settings and apps with the test
credentials, and checks that decode every returned token against the spec."""

from __future__ import annotations

import time
from typing import Any, Optional, Union

from agora_token import ServiceType, parse, verify
from tests.support.credentials import APP_CERTIFICATE, APP_ID, OTHER_CERTIFICATE

__all__ = ["APP_CERTIFICATE", "APP_ID", "CREDENTIALS", "NO_CACHE", "assert_no_cache", "check_chat", "check_rtc",
           "check_rtm", "make_app", "make_settings"]

#: the test credentials as environment variables
CREDENTIALS = {"APP_ID": APP_ID, "APP_CERTIFICATE": APP_CERTIFICATE}
PUB = (1, 2, 3, 4)
NO_CACHE = {
    "Cache-Control": "private, no-cache, no-store, must-revalidate",
    "Expires": "-1",
    "Pragma": "no-cache",
}
Uid = Union[int, str]


def make_settings(**env: str) -> Any:
    from agora_token_server.config import load_settings

    return load_settings({**CREDENTIALS, **env}, dotenv_path=None)


def make_app(access: Any = None, **env: str) -> Any:
    """The app built by ``create_app`` from the test credentials plus ``env``."""
    from agora_token_server.app import create_app

    return create_app(make_settings(**env), access)


def _common(token: str, expire: int) -> Any:
    assert isinstance(token, str) and token.startswith("007")
    assert verify(token, APP_CERTIFICATE), "signature does not verify with the certificate"
    assert not verify(token, OTHER_CERTIFICATE)
    t = parse(token)
    assert t.app_id == APP_ID
    assert t.expire == expire
    assert abs(t.issue_ts - time.time()) < 120
    return t


def check_rtc(token: str, channel: str, uid: str, publisher: bool, expire: int) -> None:
    """``uid`` as packed in the token: "" for uid 0, decimal text, or the account."""
    t = _common(token, expire)
    assert len(t.services) == 1
    s = t.services[0]
    assert s.type == ServiceType.RTC
    assert s.channel_name == channel
    assert s.uid == uid
    assert s.privileges == {p: expire for p in (PUB if publisher else (1,))}


def check_rtm(token: str, user: str, expire: int, channel: Optional[str] = None,
              stream_privileges: tuple[int, ...] = (1, 4)) -> None:
    t = _common(token, expire)
    types = [s.type for s in t.services]
    if channel:
        assert types == [ServiceType.RTC, ServiceType.RTM]
        rtc = t.services[0]
        assert rtc.channel_name == channel
        assert rtc.uid == user
        assert rtc.privileges == {p: expire for p in stream_privileges}
    else:
        assert types == [ServiceType.RTM]
    rtm = t.services[-1]
    assert rtm.user_id == user
    assert rtm.privileges == {1: expire}


def check_chat(token: str, user: Optional[str], expire: int) -> None:
    t = _common(token, expire)
    assert [s.type for s in t.services] == [ServiceType.CHAT]
    s = t.services[0]
    if user is None:
        assert s.user_id == ""
        assert s.privileges == {2: expire}
    else:
        assert s.user_id == user
        assert s.privileges == {1: expire}


def assert_no_cache(resp: Any) -> None:
    for k, v in NO_CACHE.items():
        assert resp.headers.get(k) == v, (k, resp.headers.get(k))
