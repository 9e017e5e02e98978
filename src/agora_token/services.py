"""The services an AccessToken2 (007) carries: one class per service type.

Each service has ``.type``, ``.privileges`` ({privilege: expire seconds,
relative to the token's issue time}) and ``add_privilege(privilege, expire)``.
Privilege numbers are available both as IntEnums in
:mod:`agora_token.constants` and, for code ported from Agora's official
samples, as the official class constants (``ServiceRtc.kPrivilegeJoinChannel``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Sequence, Union

from . import _validate as v
from .constants import (
    ApaasPrivilege,
    ChatPrivilege,
    FcdnPrivilege,
    FpaPrivilege,
    Rtm2Privilege,
    RtcPrivilege,
    RtmPrivilege,
    ServiceType,
    StreamingPrivilege,
)
from .errors import InvalidParameterError

__all__ = [
    "Service",
    "ServiceApaas",
    "ServiceChat",
    "ServiceFcdn",
    "ServiceFpa",
    "ServiceRtc",
    "ServiceRtm",
    "ServiceRtm2",
    "ServiceStreaming",
    "service_from_tuple",
]

Permissions = Mapping[int, Mapping[int, Sequence[str]]]


class Service:
    """Base class: a service type and its privilege map."""

    __slots__ = ("privileges",)
    type: ClassVar[int] = 0
    #: names of the type-specific fields, in packing order
    field_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self.privileges: dict[int, int] = {}

    def add_privilege(self, privilege: int, expire: int) -> None:
        """Grant ``privilege`` for ``expire`` seconds after the token's issue time."""
        p = v.check_u16(privilege, "privilege")
        self.privileges[p] = v.check_u32(expire, "privilege expire")

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, n) for n in self.field_names)

    def _core(self) -> tuple[Any, ...]:
        return (self.type, self.privileges, *self._fields())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Service):
            return NotImplemented
        return self._core() == other._core()

    def __hash__(self) -> int:  # services are mutable
        raise TypeError(f"unhashable type: {type(self).__name__!r}")

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.field_names)
        sep = ", " if fields else ""
        return f"{type(self).__name__}({fields}{sep}privileges={self.privileges!r})"


class _UserService(Service):
    """A service for one user id (RTM, Chat)."""

    __slots__ = ("user_id",)
    field_names = ("user_id",)

    def __init__(self, user_id: str = "") -> None:
        super().__init__()
        self.user_id = v.check_str(user_id, "user_id")

    def _fields(self) -> tuple[Any, ...]:
        return (self.user_id,)


class _ChannelAccountService(Service):
    """A service for a channel and an account, an int uid allowed (Streaming, FCDN)."""

    __slots__ = ("channel_name", "account")
    field_names = ("channel_name", "account")

    def __init__(self, channel_name: str = "", account: Union[int, str] = "") -> None:
        super().__init__()
        self.channel_name = v.check_str(channel_name, "channel_name")
        self.account = v.uid_to_str(account, "account")

    def _fields(self) -> tuple[Any, ...]:
        return (self.channel_name, self.account)


class ServiceRtc(Service):
    """RTC (video/voice) for one channel and one uid or user account.

    ``uid`` may be an int (0 = any user, packed as "") or a user account str;
    ``.uid`` holds the packed string form.
    """

    __slots__ = ("channel_name", "uid")
    field_names = ("channel_name", "uid")
    type = ServiceType.RTC
    kServiceType = 1
    kPrivilegeJoinChannel = RtcPrivilege.JOIN_CHANNEL
    kPrivilegePublishAudioStream = RtcPrivilege.PUBLISH_AUDIO_STREAM
    kPrivilegePublishVideoStream = RtcPrivilege.PUBLISH_VIDEO_STREAM
    kPrivilegePublishDataStream = RtcPrivilege.PUBLISH_DATA_STREAM

    def __init__(self, channel_name: str = "", uid: Union[int, str] = 0) -> None:
        super().__init__()
        self.channel_name = v.check_str(channel_name, "channel_name")
        self.uid = v.uid_to_str(uid)

    def _fields(self) -> tuple[Any, ...]:
        return (self.channel_name, self.uid)


class ServiceRtm(_UserService):
    """RTM (signaling) login for one user id."""

    __slots__ = ()
    type = ServiceType.RTM
    kServiceType = 2
    kPrivilegeLogin = RtmPrivilege.LOGIN


class ServiceStreaming(_ChannelAccountService):
    """Media push/streaming for a channel and an account (int uid allowed)."""

    __slots__ = ()
    type = ServiceType.STREAMING
    kServiceType = 3
    kPrivilegePublishMixStream = StreamingPrivilege.PUBLISH_MIX_STREAM
    kPrivilegePublishRawStream = StreamingPrivilege.PUBLISH_RAW_STREAM


class ServiceFpa(Service):
    """Fast Packet Acceleration: no fields."""

    __slots__ = ()
    type = ServiceType.FPA
    kServiceType = 4
    kPrivilegeLogin = FpaPrivilege.LOGIN


class ServiceChat(_UserService):
    """Chat: a user token (user id, privilege USER) or an app token (empty
    user id, privilege APP)."""

    __slots__ = ()
    type = ServiceType.CHAT
    kServiceType = 5
    kPrivilegeUser = ChatPrivilege.USER
    kPrivilegeApp = ChatPrivilege.APP


class ServiceFcdn(_ChannelAccountService):
    """Fusion CDN publish/play for a channel and an account (int uid allowed)."""

    __slots__ = ()
    type = ServiceType.FCDN
    kServiceType = 6
    kPrivilegePublish = FcdnPrivilege.PUBLISH
    kPrivilegePlay = FcdnPrivilege.PLAY


class ServiceApaas(Service):
    """APaaS / Flexible Classroom: room uuid, user uuid and an i16 role."""

    __slots__ = ("room_uuid", "user_uuid", "role")
    field_names = ("room_uuid", "user_uuid", "role")
    type = ServiceType.APAAS
    kServiceType = 7
    PRIVILEGE_ROOM_USER = kPrivilegeRoomUser = ApaasPrivilege.ROOM_USER
    PRIVILEGE_USER = kPrivilegeUser = ApaasPrivilege.USER
    PRIVILEGE_APP = kPrivilegeApp = ApaasPrivilege.APP

    def __init__(self, room_uuid: str = "", user_uuid: str = "", role: int = -1) -> None:
        super().__init__()
        self.room_uuid = v.check_str(room_uuid, "room_uuid")
        self.user_uuid = v.check_str(user_uuid, "user_uuid")
        self.role = v.check_i16(role, "role")

    def _fields(self) -> tuple[Any, ...]:
        return (self.room_uuid, self.user_uuid, self.role)


class ServiceRtm2(Service):
    """RTM with resource permissions:
    ``{resource_type: {permission_type: [resource, ...]}}`` (see
    :class:`~agora_token.constants.ResourceType` / ``PermissionType``)."""

    __slots__ = ("user_id", "permissions")
    field_names = ("user_id", "permissions")
    type = ServiceType.RTM2
    kServiceType = 8
    kPrivilegeLogin = Rtm2Privilege.LOGIN

    def __init__(self, user_id: str = "", permissions: Permissions | None = None) -> None:
        super().__init__()
        self.user_id = v.check_str(user_id, "user_id")
        self.permissions = v.check_permissions(permissions)

    def add_permission(self, resource_type: int, permission_type: int, resource: str) -> None:
        rt = v.check_u16(resource_type, "resource type")
        pt = v.check_u16(permission_type, "permission type")
        self.permissions.setdefault(rt, {}).setdefault(pt, []).append(v.check_str(resource, "resource"))

    def _fields(self) -> tuple[Any, ...]:
        return (self.user_id, self.permissions)


_CLASSES: dict[int, type[Service]] = {
    c.type: c
    for c in (ServiceRtc, ServiceRtm, ServiceStreaming, ServiceFpa, ServiceChat,
              ServiceFcdn, ServiceApaas, ServiceRtm2)
}


def service_from_tuple(data: tuple[Any, ...]) -> Service:
    """Rebuild a service object from a core tuple (as returned by parsing)."""
    cls = _CLASSES.get(data[0])
    if cls is None:
        raise InvalidParameterError(f"unknown service type {data[0]}")
    svc = cls.__new__(cls)
    svc.privileges = dict(data[1])
    for name, value in zip(cls.field_names, data[2:]):
        setattr(svc, name, value)
    return svc
