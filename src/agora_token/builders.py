"""Token builders with the names and argument order of Agora's official
Python samples (``RtcTokenBuilder2.py`` and friends), so that ported code
only changes its import, plus short Pythonic functions for the common cases.

Unlike the official samples, a malformed app id or certificate raises
:class:`~agora_token.errors.InvalidCredentialsError` instead of returning "",
and out-of-range values raise :class:`~agora_token.errors.InvalidParameterError`
before any work is done.

All expire values are seconds relative to the moment of issue.
"""

from __future__ import annotations

import time

from . import _backend
from . import _validate as v
from ._aliases import lazy_aliases, union
from ._salt import new_salt
from .constants import DEFAULT_EXPIRE, MAX_CHANNEL_NAME_BYTES, U32_MAX, Role
from .errors import InvalidParameterError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any, Union

    from .services import AnyPermissions

__all__ = [
    "ApaasTokenBuilder",
    "ChatTokenBuilder",
    "EducationTokenBuilder",
    "FpaTokenBuilder",
    "Role",
    "RtcTokenBuilder",
    "RtmTokenBuilder",
    "chat_app_token",
    "chat_user_token",
    "rtc_token",
    "rtm_token",
]

if TYPE_CHECKING:
    Uid = Union[int, str]
else:  # a typing.Union, made on first use (_aliases)
    __getattr__ = lazy_aliases(globals(), ("Uid",), lambda: {"Uid": union(int, str)})
_PUBLISHER = int(Role.PUBLISHER)
_PERMISSIONS_ORDER = (
    "RtmTokenBuilder.build_token_with_permissions(app_id, app_certificate, user_id, expire, permissions) "
    "is deprecated and will be removed in the next release: pass permissions before expire, "
    "build_token_with_permissions(app_id, app_certificate, user_id, permissions, expire) (Agora's order)")


def _issue(app_id: str, app_certificate: str, expire: int, services: list[tuple[Any, ...]]) -> str:
    """Sign ``services`` now with a fresh salt (inputs already checked)."""
    v.check_credentials(app_id, app_certificate)
    return _backend.build_007(app_id, app_certificate, int(time.time()), expire, new_salt(), services)


def _rtc_uid(uid: Uid) -> str:
    if isinstance(uid, str):
        return v.check_account(uid)
    return v.uid_to_str(uid)


def _rtc_service(channel_name: str, uid: Uid, role: int, privilege_expire: int) -> tuple[Any, ...]:
    # Fast paths for the common, obviously valid values; anything else goes
    # through the full checks (same results, just slower).
    if type(channel_name) is str and len(channel_name) <= MAX_CHANNEL_NAME_BYTES and channel_name.isascii():
        channel = channel_name
    else:
        channel = v.check_channel(channel_name)
    if type(uid) is int and 0 < uid <= U32_MAX:
        account = str(uid)
    else:
        account = _rtc_uid(uid)
    if type(privilege_expire) is int and 0 <= privilege_expire <= U32_MAX:
        pe = privilege_expire
    else:
        pe = v.check_u32(privilege_expire, "privilege_expire")
    if role == _PUBLISHER:
        privs = {1: pe, 2: pe, 3: pe, 4: pe}
    else:
        privs = {1: pe}
    return (1, privs, channel, account)


def _rtc_service_explicit(channel_name: str, uid: Uid, join: int, audio: int, video: int,
                          data: int) -> tuple[Any, ...]:
    return (1, {
        1: v.check_u32(join, "join_channel_privilege_expire"),
        2: v.check_u32(audio, "pub_audio_privilege_expire"),
        3: v.check_u32(video, "pub_video_privilege_expire"),
        4: v.check_u32(data, "pub_data_stream_privilege_expire"),
    }, v.check_channel(channel_name), _rtc_uid(uid))


class RtcTokenBuilder:
    """RTC tokens (``RtcTokenBuilder2`` in the official samples).

    ``role``: :attr:`Role.PUBLISHER` (1) grants join + publish audio/video/data;
    anything else (:attr:`Role.SUBSCRIBER`, 2) grants join only.
    """

    @staticmethod
    def build_token_with_uid(app_id: str, app_certificate: str, channel_name: str, uid: Uid,
                             role: int, token_expire: int, privilege_expire: int = 0) -> str:
        svc = _rtc_service(channel_name, uid, role, privilege_expire)
        # the common case inline (no call): an int in range; else the full check
        e = token_expire if type(token_expire) is int and 0 <= token_expire <= U32_MAX else \
            v.check_u32(token_expire, "token_expire")
        return _issue(app_id, app_certificate, e, [svc])

    @staticmethod
    def build_token_with_user_account(app_id: str, app_certificate: str, channel_name: str,
                                      account: str, role: int, token_expire: int,
                                      privilege_expire: int = 0) -> str:
        svc = _rtc_service(channel_name, account, role, privilege_expire)
        e = token_expire if type(token_expire) is int and 0 <= token_expire <= U32_MAX else \
            v.check_u32(token_expire, "token_expire")
        return _issue(app_id, app_certificate, e, [svc])

    @staticmethod
    def build_token_with_uid_and_privilege(app_id: str, app_certificate: str, channel_name: str,
                                           uid: Uid, token_expire: int,
                                           join_channel_privilege_expire: int,
                                           pub_audio_privilege_expire: int,
                                           pub_video_privilege_expire: int,
                                           pub_data_stream_privilege_expire: int) -> str:
        svc = _rtc_service_explicit(channel_name, uid, join_channel_privilege_expire,
                                    pub_audio_privilege_expire, pub_video_privilege_expire,
                                    pub_data_stream_privilege_expire)
        return _issue(app_id, app_certificate, v.check_u32(token_expire, "token_expire"), [svc])

    @staticmethod
    def build_token_with_user_account_and_privilege(app_id: str, app_certificate: str,
                                                    channel_name: str, account: str,
                                                    token_expire: int,
                                                    join_channel_privilege_expire: int,
                                                    pub_audio_privilege_expire: int,
                                                    pub_video_privilege_expire: int,
                                                    pub_data_stream_privilege_expire: int) -> str:
        svc = _rtc_service_explicit(channel_name, account, join_channel_privilege_expire,
                                    pub_audio_privilege_expire, pub_video_privilege_expire,
                                    pub_data_stream_privilege_expire)
        return _issue(app_id, app_certificate, v.check_u32(token_expire, "token_expire"), [svc])

    @staticmethod
    def build_token_with_rtm(app_id: str, app_certificate: str, channel_name: str, account: Uid,
                             role: int, token_expire: int, privilege_expire: int = 0) -> str:
        """One token for RTC (channel, account, role) and RTM (account, login = token_expire)."""
        expire = v.check_u32(token_expire, "token_expire")
        rtc = _rtc_service(channel_name, account, role, privilege_expire)
        rtm = (2, {1: expire}, v.check_account(rtc[3], "account", required=True))
        return _issue(app_id, app_certificate, expire, [rtc, rtm])

    @staticmethod
    def build_token_with_rtm2(app_id: str, app_certificate: str, channel_name: str,
                              rtc_account: Uid, rtc_role: int, rtc_token_expire: int,
                              join_channel_privilege_expire: int, pub_audio_privilege_expire: int,
                              pub_video_privilege_expire: int,
                              pub_data_stream_privilege_expire: int, rtm_user_id: str,
                              rtm_token_expire: int) -> str:
        """RTC plus RTM for ``rtm_user_id``. As in the official builder, a
        :attr:`Role.PUBLISHER` gets join + publish audio/video/data with their
        own expiries; any other role gets join only (the publish values are
        then ignored)."""
        rtc = _rtc_service_explicit(channel_name, rtc_account, join_channel_privilege_expire,
                                    pub_audio_privilege_expire, pub_video_privilege_expire,
                                    pub_data_stream_privilege_expire)
        if rtc_role != _PUBLISHER:
            rtc = (1, {1: rtc[1][1]}, rtc[2], rtc[3])
        rtm = (2, {1: v.check_u32(rtm_token_expire, "rtm_token_expire")},
               v.check_account(rtm_user_id, "rtm_user_id", required=True))
        return _issue(app_id, app_certificate, v.check_u32(rtc_token_expire, "rtc_token_expire"),
                      [rtc, rtm])


class RtmTokenBuilder:
    """RTM (signaling) tokens (``RtmTokenBuilder2``)."""

    @staticmethod
    def build_token(app_id: str, app_certificate: str, user_id: str, expire: int,
                    channel_name: str = "") -> str:
        """RTM login for ``user_id``. The original Go token service's variant:
        a non-empty ``channel_name`` (``"*"`` allowed) also adds the stream
        channel's RTC service for (channel, user id) with join and publish-data
        privileges."""
        e = v.check_u32(expire, "expire")
        user = v.check_account(user_id, "user_id", required=True)
        services: list[tuple[Any, ...]] = [(2, {1: e}, user)]
        if channel_name:
            services.append((1, {1: e, 4: e}, v.check_channel(channel_name), user))
        return _issue(app_id, app_certificate, e, services)

    @staticmethod
    def build_token_with_permissions(app_id: str, app_certificate: str, user_id: str,
                                     permissions: AnyPermissions, expire: int = 0) -> str:
        """RTM2 (service type 8): login for ``user_id`` plus resource
        permissions, a ``ServiceRtm2.Permissions`` or a mapping
        ``{ResourceType: {PermissionType: [resource, ...]}}``; the token and
        the login privilege last ``expire`` seconds. Agora's argument order.

        Deprecated, for one release: the old order ``(..., user_id, expire,
        permissions)`` (an int 4th) still works, with a ``DeprecationWarning``."""
        if isinstance(permissions, int) and not isinstance(expire, int):
            import warnings
            from typing import cast

            warnings.warn(_PERMISSIONS_ORDER, DeprecationWarning, stacklevel=2)
            permissions, expire = cast("AnyPermissions", expire), cast(int, permissions)
        e = v.check_u32(expire, "expire")
        user = v.check_account(user_id, "user_id", required=True)
        return _issue(app_id, app_certificate, e, [(8, {1: e}, user, v.check_permissions(permissions))])


class ChatTokenBuilder:
    """Chat tokens (``ChatTokenBuilder2``)."""

    @staticmethod
    def build_user_token(app_id: str, app_certificate: str, user_id: str, expire: int) -> str:
        e = v.check_u32(expire, "expire")
        return _issue(app_id, app_certificate, e,
                      [(5, {1: e}, v.check_account(user_id, "user_id", required=True))])

    @staticmethod
    def build_app_token(app_id: str, app_certificate: str, expire: int) -> str:
        e = v.check_u32(expire, "expire")
        return _issue(app_id, app_certificate, e, [(5, {2: e}, "")])


class FpaTokenBuilder:
    """FPA tokens (``FpaTokenBuilder``): login privilege 0, token valid 24 h."""

    @staticmethod
    def build_token(app_id: str, app_certificate: str, expire: int = 86400) -> str:
        return _issue(app_id, app_certificate, v.check_u32(expire, "expire"), [(4, {1: 0})])


class ApaasTokenBuilder:
    """APaaS / Flexible Classroom tokens (``ApaasTokenBuilder``)."""

    @staticmethod
    def build_room_user_token(app_id: str, app_certificate: str, room_uuid: str, user_uuid: str,
                              role: int, expire: int) -> str:
        """APaaS room user + RTM login for ``user_uuid`` + Chat user whose id
        is the hex MD5 of ``user_uuid``; every privilege = ``expire``."""
        e = v.check_u32(expire, "expire")
        room = v.check_str(room_uuid, "room_uuid")
        user = v.check_account(user_uuid, "user_uuid", required=True)
        import hashlib  # here, not at import: loading OpenSSL (_hashlib) costs more than the rest of agora_token

        chat_user = hashlib.md5(user.encode("utf-8")).hexdigest()
        return _issue(app_id, app_certificate, e, [
            (7, {1: e}, room, user, v.check_i16(role, "role")),
            (2, {1: e}, user),
            (5, {1: e}, chat_user),
        ])

    @staticmethod
    def build_user_token(app_id: str, app_certificate: str, user_uuid: str, expire: int) -> str:
        e = v.check_u32(expire, "expire")
        user = v.check_account(user_uuid, "user_uuid", required=True)
        return _issue(app_id, app_certificate, e, [(7, {2: e}, "", user, -1)])

    @staticmethod
    def build_app_token(app_id: str, app_certificate: str, expire: int) -> str:
        e = v.check_u32(expire, "expire")
        return _issue(app_id, app_certificate, e, [(7, {3: e}, "", "", -1)])


class EducationTokenBuilder(ApaasTokenBuilder):
    """Education tokens (``EducationTokenBuilder2``): the same as APaaS."""


# ------------------------------------------------------------ short functions

def _role(role: str | int) -> int:
    if isinstance(role, str):
        if role == "publisher":
            return _PUBLISHER
        if role == "subscriber":
            return int(Role.SUBSCRIBER)
        raise InvalidParameterError(f"role must be 'publisher' or 'subscriber', got {role[:32]!r}")
    return v.check_int(role, "role", -(2**31), 2**31 - 1)


def rtc_token(app_id: str, app_certificate: str, channel: str, uid: Uid, *,
              role: str | int = "publisher", expire: int = DEFAULT_EXPIRE,
              privilege_expire: int | None = None) -> str:
    """An RTC token for ``channel`` and ``uid`` (int, 0 = any user, or a user
    account str). Privileges last ``privilege_expire`` seconds (default: ``expire``)."""
    r = _role(role)
    e = v.check_u32(expire, "expire")
    svc = _rtc_service(channel, uid, r, e if privilege_expire is None else privilege_expire)
    return _issue(app_id, app_certificate, e, [svc])


def rtm_token(app_id: str, app_certificate: str, user_id: str, *, expire: int = DEFAULT_EXPIRE,
              channel: str | None = None) -> str:
    """An RTM login token; with ``channel``, also the stream-channel RTC service."""
    return RtmTokenBuilder.build_token(app_id, app_certificate, user_id, expire, channel or "")


def chat_user_token(app_id: str, app_certificate: str, user_id: str, *, expire: int = DEFAULT_EXPIRE) -> str:
    """A Chat user token for ``user_id``."""
    return ChatTokenBuilder.build_user_token(app_id, app_certificate, user_id, expire)


def chat_app_token(app_id: str, app_certificate: str, *, expire: int = DEFAULT_EXPIRE) -> str:
    """A Chat app (administrator) token."""
    return ChatTokenBuilder.build_app_token(app_id, app_certificate, expire)
