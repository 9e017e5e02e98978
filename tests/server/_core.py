"""Helpers for the core service tests: an app with known credentials and
checks that decode every returned token against the spec."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional, Union

from agora_token import ServiceType, parse, verify

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "970CA35de60c44645bbae8a215061b33"
APP_CERTIFICATE = "5CFd2fd1755d40ecb72977518be15d3b"
PUB = (1, 2, 3, 4)


def make_settings(**env: str) -> Any:
    from server.config import load_settings

    base = {"APP_ID": APP_ID, "APP_CERTIFICATE": APP_CERTIFICATE}
    base.update(env)
    return load_settings(base, dotenv_path=None)


def make_app(**env: str) -> Any:
    from server.app import create_app

    return create_app(make_settings(**env))


def _common(token: str, expire: int) -> Any:
    assert isinstance(token, str) and token.startswith("007")
    assert verify(token, APP_CERTIFICATE), "signature does not verify with the certificate"
    assert not verify(token, "0" * 32)
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


def check_rtm(token: str, user: str, expire: int, channel: Optional[str] = None) -> None:
    t = _common(token, expire)
    types = [s.type for s in t.services]
    if channel:
        assert types == [ServiceType.RTC, ServiceType.RTM]
        rtc = t.services[0]
        assert rtc.channel_name == channel
        assert rtc.uid == user
        assert rtc.privileges == {1: expire, 4: expire}
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


NO_CACHE = {
    "Cache-Control": "private, no-cache, no-store, must-revalidate",
    "Expires": "-1",
    "Pragma": "no-cache",
}


def assert_no_cache(resp: Any) -> None:
    for k, v in NO_CACHE.items():
        assert resp.headers.get(k) == v, (k, resp.headers.get(k))


Uid = Union[int, str]
