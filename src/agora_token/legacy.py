"""Legacy AccessToken (``006``) and its RTC / RTM builders.

New code should issue AccessToken2 (``007``) tokens; these exist for old
client SDKs. Unlike 007, privilege values here are **absolute** unix
timestamps (0 = never expires), and the token signs the channel name and uid
while carrying only their CRC-32.
"""

from __future__ import annotations

import time

from . import _backend
from . import _validate as v
from ._salt import new_salt
from .constants import Legacy006Privilege, Role
from .errors import InvalidParameterError

__all__ = ["AccessToken006", "Privileges", "RtcTokenBuilder006", "RtmTokenBuilder006", "default_ts", "verify_006"]

Privileges = Legacy006Privilege
_PUBLISHER_ROLES = frozenset((Role.ATTENDEE, Role.PUBLISHER, Role.ADMIN))


def default_ts() -> int:
    """A new 006 token's ``ts``, as in Agora's builder: now + 24 h."""
    return int(time.time()) + 86400


class AccessToken006:
    """A legacy token. ``ts`` (default now + 24 h) and ``salt`` (default a
    fresh CSPRNG value) are fixed at creation, so :meth:`build` is repeatable.

    A parsed token has ``channel_name`` and ``uid`` set to None (the token
    holds only ``crc_channel_name`` / ``crc_uid``) and no certificate.
    """

    __slots__ = (
        "_app_certificate",
        "_token",
        "app_id",
        "channel_name",
        "crc_channel_name",
        "crc_uid",
        "privileges",
        "salt",
        "signature",
        "ts",
        "uid",
    )
    version = "006"

    def __init__(self, app_id: str, app_certificate: str, channel_name: str = "",
                 uid: int | str = "", *, salt: int | None = None,
                 ts: int | None = None) -> None:
        v.check_credentials(app_id, app_certificate)
        self.app_id: str = app_id
        self._app_certificate: str | None = app_certificate
        self.channel_name: str | None = v.check_str(channel_name, "channel_name")
        self.uid: str | None = v.uid_to_str(uid)
        v.check_006_channel_uid(self.channel_name, self.uid)
        self.salt: int = new_salt() if salt is None else v.check_u32(salt, "salt")
        self.ts: int = default_ts() if ts is None else v.check_u32(ts, "ts")
        self.privileges: dict[int, int] = {}
        self.signature: bytes | None = None
        self.crc_channel_name: int | None = None
        self.crc_uid: int | None = None
        self._token: str | None = None

    def add_privilege(self, privilege: int, expire_ts: int) -> None:
        """Grant ``privilege`` until the absolute unix time ``expire_ts`` (0 = no expiry)."""
        self.privileges[v.check_u16(privilege, "privilege")] = v.check_u32(expire_ts, "expire_ts")

    addPrivilege = add_privilege  # the official sample's name

    def build(self) -> str:
        if self._app_certificate is None or self.channel_name is None or self.uid is None:
            raise InvalidParameterError("this token was parsed, not built: it cannot be rebuilt")
        if isinstance(self.channel_name, str) and isinstance(self.uid, str):
            v.check_006_channel_uid(self.channel_name, self.uid)
        return _backend.build_006(self.app_id, self._app_certificate, self.channel_name, self.uid,
                                  self.salt, self.ts, self.privileges)

    @classmethod
    def parse(cls, token: str) -> AccessToken006:
        app_id, sig, crc_channel, crc_uid, salt, ts, privs = _backend.parse_006(token)
        self = cls.__new__(cls)
        self.app_id = app_id
        self._app_certificate = None
        self.channel_name = None
        self.uid = None
        self.salt = salt
        self.ts = ts
        self.privileges = privs
        self.signature = sig
        self.crc_channel_name = crc_channel
        self.crc_uid = crc_uid
        self._token = token
        return self

    def verify(self, app_certificate: str, channel_name: str, uid: int | str) -> bool:
        """For a parsed token: signed with this certificate for this channel and uid?"""
        if self._token is None:
            raise InvalidParameterError("verify() applies to a parsed token")
        return verify_006(self._token, app_certificate, channel_name, uid)

    def __repr__(self) -> str:
        return (f"AccessToken006(app_id={self.app_id!r}, channel_name={self.channel_name!r}, "
                f"uid={self.uid!r}, salt={self.salt}, ts={self.ts}, privileges={self.privileges!r})")


def verify_006(token: str, app_certificate: str, channel_name: str, uid: int | str) -> bool:
    """Was the 006 ``token`` signed with ``app_certificate`` for this channel and uid?"""
    cert = v.check_certificate(app_certificate)
    channel = v.check_str(channel_name, "channel_name")
    uid_text = v.uid_to_str(uid)
    v.check_006_channel_uid(channel, uid_text)
    return bool(_backend.verify_006(token, cert, channel, uid_text))


def _rtc006(app_id: str, app_certificate: str, channel_name: str, uid: int | str,
            role: int, privilege_expire_ts: int) -> str:
    token = AccessToken006(app_id, app_certificate, channel_name, uid)
    token.add_privilege(Privileges.JOIN_CHANNEL, privilege_expire_ts)
    if role in _PUBLISHER_ROLES:
        token.add_privilege(Privileges.PUBLISH_AUDIO_STREAM, privilege_expire_ts)
        token.add_privilege(Privileges.PUBLISH_VIDEO_STREAM, privilege_expire_ts)
        token.add_privilege(Privileges.PUBLISH_DATA_STREAM, privilege_expire_ts)
    return token.build()


class RtcTokenBuilder006:
    """Legacy RTC builder. Roles ATTENDEE (0), PUBLISHER (1) and ADMIN (101)
    get join + publish privileges; SUBSCRIBER (2) gets join only."""

    @staticmethod
    def build_token_with_uid(app_id: str, app_certificate: str, channel_name: str, uid: int,
                             role: int, privilege_expired_ts: int) -> str:
        v.check_channel(channel_name)
        return _rtc006(app_id, app_certificate, channel_name, v.check_u32(uid, "uid"), role,
                       privilege_expired_ts)

    @staticmethod
    def build_token_with_account(app_id: str, app_certificate: str, channel_name: str,
                                 account: str, role: int, privilege_expired_ts: int) -> str:
        v.check_channel(channel_name)
        return _rtc006(app_id, app_certificate, channel_name, v.check_account(account), role,
                       privilege_expired_ts)

    buildTokenWithUid = build_token_with_uid
    buildTokenWithAccount = build_token_with_account


class RtmTokenBuilder006:
    """Legacy RTM builder: privilege RTM_LOGIN (1000) for the user account."""

    @staticmethod
    def build_token(app_id: str, app_certificate: str, user_account: str, role: int,
                    privilege_expired_ts: int) -> str:
        account = v.check_account(user_account, "user_account", required=True)
        token = AccessToken006(app_id, app_certificate, account, "")
        token.add_privilege(Privileges.RTM_LOGIN, privilege_expired_ts)
        return token.build()

    buildToken = build_token
