"""The services an AccessToken2 (007) carries: one class per service type.

Each service has ``.type``, ``.privileges`` ({privilege: expire seconds,
relative to the token's issue time}), ``add_privilege(privilege, expire)``
and ``field_names`` (its fields in packing order, from ``_layout``).
Privilege numbers are IntEnums in :mod:`agora_token.constants` and, for code
ported from Agora's samples, the official class constants
(``ServiceRtc.kPrivilegeJoinChannel``).
"""

from __future__ import annotations

from operator import attrgetter

from . import _messages as M
from . import _validate as v
from ._aliases import lazy_aliases, union
from ._layout import I16, LAYOUTS, PERMISSIONS, UID
from .constants import (
    ApaasPrivilege,
    ChatPrivilege,
    FcdnPrivilege,
    FpaPrivilege,
    PermissionType,
    ResourceType,
    RtcPrivilege,
    Rtm2Privilege,
    RtmPrivilege,
    ServiceType,
    StreamingPrivilege,
)
from .errors import InvalidParameterError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from typing import Any, ClassVar, Union

__all__ = [
    "Rtm2Permissions",
    "Service",
    "ServiceApaas",
    "ServiceChat",
    "ServiceFcdn",
    "ServiceFpa",
    "ServiceRtc",
    "ServiceRtm",
    "ServiceRtm2",
    "ServiceStreaming",
    "service_class",
    "service_from_tuple",
]

class Rtm2Permissions:
    """RTM2 resource permissions built the way Agora's builders build them
    (``ServiceRtm2.Permissions`` there and here): ``add(resource_type,
    permission_type, resources)`` sets that pair's resource list (replacing
    it; an empty list is kept and packed), and ``details`` holds
    ``{resource_type: {permission_type: [resource, ...]}}``. Wherever a
    permissions mapping is taken, one of these is taken too; its contents are
    checked when a service is made from it or a token is built."""

    __slots__ = ("details",)
    kMessageChannels = ResourceType.MESSAGE_CHANNEL
    kStreamChannels = ResourceType.STREAM_CHANNEL
    kGroupChannels = ResourceType.GROUP_CHANNEL
    kServerGroups = ResourceType.SERVER_GROUP
    kUsers = ResourceType.USER
    kRead = PermissionType.READ
    kWrite = PermissionType.WRITE

    def __init__(self) -> None:
        self.details: dict[int, dict[int, list[str]]] = {}

    def add(self, resource_type: int, permission_type: int, resources: Iterable[str]) -> None:
        """Set the resources of (``resource_type``, ``permission_type``), in this order."""
        rt = v.check_u16(resource_type, "resource type")
        pt = v.check_u16(permission_type, "permission type")
        if isinstance(resources, (str, bytes)):  # list("abc") would be three resources
            raise InvalidParameterError(M.resources_not_iterable(rt, pt))
        try:
            items = list(resources)
        except TypeError:
            raise InvalidParameterError(M.resources_not_iterable(rt, pt)) from None
        self.details.setdefault(rt, {})[pt] = items

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rtm2Permissions):
            return NotImplemented
        return self.details == other.details

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"ServiceRtm2.Permissions(details={self.details!r})"


def _aliases() -> dict[str, Any]:
    """``PermissionMap`` and ``AnyPermissions``, made on first use (``_aliases``)."""
    from collections.abc import Mapping, Sequence

    permission_map = Mapping[int, Mapping[int, Sequence[str]]]
    return {"PermissionMap": permission_map, "AnyPermissions": union(Rtm2Permissions, permission_map)}


if TYPE_CHECKING:
    #: RTM2 permissions as a mapping: ``{resource_type: {permission_type: [resource, ...]}}``
    PermissionMap = Mapping[int, Mapping[int, Sequence[str]]]
    #: what a service, a builder and the compat layer take as RTM2 permissions
    AnyPermissions = Union[Rtm2Permissions, PermissionMap]
else:
    __getattr__ = lazy_aliases(globals(), ("PermissionMap", "AnyPermissions"), _aliases)


def _checker(kind: str, name: str) -> Callable[[Any], Any]:
    """The check applied to a constructor argument of this kind."""
    if kind == UID:
        return lambda value: v.uid_to_str(value, name)
    if kind == I16:
        return lambda value: v.check_i16(value, name)
    if kind == PERMISSIONS:
        return v.check_permissions
    return lambda value: v.check_str(value, name)


class Service:
    """Base class: a service type, its privilege map and its fields."""

    __slots__ = ("privileges",)
    type: ClassVar[int] = 0
    #: names of the type-specific fields, in packing order
    field_names: ClassVar[tuple[str, ...]] = ()
    _checks: ClassVar[tuple[Callable[[Any], Any], ...]] = ()
    _getter: ClassVar[Callable[[Any], tuple[Any, ...]]] = lambda self: ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        layout = LAYOUTS[cls.type]
        cls.field_names = layout.field_names
        cls._checks = tuple(_checker(f.kind, f.name) for f in layout.fields)
        names = cls.field_names
        if len(names) == 1:
            get_one = attrgetter(names[0])
            cls._getter = lambda self: (get_one(self),)
        elif names:
            cls._getter = attrgetter(*names)

    def __init__(self, *values: Any) -> None:
        self.privileges: dict[int, int] = {}
        for name, check, value in zip(self.field_names, self._checks, values):
            setattr(self, name, check(value))

    def add_privilege(self, privilege: int, expire: int) -> None:
        """Grant ``privilege`` for ``expire`` seconds after the token's issue time."""
        p = v.check_u16(privilege, "privilege")
        self.privileges[p] = v.check_u32(expire, "privilege expire")

    def _core(self) -> tuple[Any, ...]:
        """The core's service tuple: (type, privileges, *fields)."""
        return (self.type, self.privileges, *type(self)._getter(self))

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


class ServiceRtc(Service):
    """RTC (video/voice) for one channel and one uid or user account.

    ``uid`` may be an int (0 = any user, packed as "") or a user account str;
    ``.uid`` holds the packed string form.
    """

    type = ServiceType.RTC
    __slots__ = LAYOUTS[type].field_names
    channel_name: str
    uid: str
    kServiceType = 1
    kPrivilegeJoinChannel = RtcPrivilege.JOIN_CHANNEL
    kPrivilegePublishAudioStream = RtcPrivilege.PUBLISH_AUDIO_STREAM
    kPrivilegePublishVideoStream = RtcPrivilege.PUBLISH_VIDEO_STREAM
    kPrivilegePublishDataStream = RtcPrivilege.PUBLISH_DATA_STREAM

    def __init__(self, channel_name: str = "", uid: int | str = 0) -> None:
        super().__init__(channel_name, uid)


class ServiceRtm(Service):
    """RTM (signaling) login for one user id."""

    type = ServiceType.RTM
    __slots__ = LAYOUTS[type].field_names
    user_id: str
    kServiceType = 2
    kPrivilegeLogin = RtmPrivilege.LOGIN

    def __init__(self, user_id: str = "") -> None:
        super().__init__(user_id)


class ServiceStreaming(Service):
    """Media push/streaming for a channel and an account (int uid allowed)."""

    type = ServiceType.STREAMING
    __slots__ = LAYOUTS[type].field_names
    channel_name: str
    account: str
    kServiceType = 3
    kPrivilegePublishMixStream = StreamingPrivilege.PUBLISH_MIX_STREAM
    kPrivilegePublishRawStream = StreamingPrivilege.PUBLISH_RAW_STREAM

    def __init__(self, channel_name: str = "", account: int | str = "") -> None:
        super().__init__(channel_name, account)


class ServiceFpa(Service):
    """Fast Packet Acceleration: no fields."""

    type = ServiceType.FPA
    __slots__ = LAYOUTS[type].field_names
    kServiceType = 4
    kPrivilegeLogin = FpaPrivilege.LOGIN

    def __init__(self) -> None:
        super().__init__()


class ServiceChat(Service):
    """Chat: a user token (user id, privilege USER) or an app token (empty
    user id, privilege APP)."""

    type = ServiceType.CHAT
    __slots__ = LAYOUTS[type].field_names
    user_id: str
    kServiceType = 5
    kPrivilegeUser = ChatPrivilege.USER
    kPrivilegeApp = ChatPrivilege.APP

    def __init__(self, user_id: str = "") -> None:
        super().__init__(user_id)


class ServiceFcdn(Service):
    """Fusion CDN publish/play for a channel and an account (int uid allowed)."""

    type = ServiceType.FCDN
    __slots__ = LAYOUTS[type].field_names
    channel_name: str
    account: str
    kServiceType = 6
    kPrivilegePublish = FcdnPrivilege.PUBLISH
    kPrivilegePlay = FcdnPrivilege.PLAY

    def __init__(self, channel_name: str = "", account: int | str = "") -> None:
        super().__init__(channel_name, account)


class ServiceApaas(Service):
    """APaaS / Flexible Classroom: room uuid, user uuid and an i16 role."""

    type = ServiceType.APAAS
    __slots__ = LAYOUTS[type].field_names
    room_uuid: str
    user_uuid: str
    role: int
    kServiceType = 7
    PRIVILEGE_ROOM_USER = kPrivilegeRoomUser = ApaasPrivilege.ROOM_USER
    PRIVILEGE_USER = kPrivilegeUser = ApaasPrivilege.USER
    PRIVILEGE_APP = kPrivilegeApp = ApaasPrivilege.APP

    def __init__(self, room_uuid: str = "", user_uuid: str = "", role: int = -1) -> None:
        super().__init__(room_uuid, user_uuid, role)


class ServiceRtm2(Service):
    """RTM with resource permissions:
    ``{resource_type: {permission_type: [resource, ...]}}`` (see
    :class:`~agora_token.constants.ResourceType` / ``PermissionType``)."""

    type = ServiceType.RTM2
    __slots__ = LAYOUTS[type].field_names
    user_id: str
    permissions: dict[int, dict[int, list[str]]]
    kServiceType = 8
    kPrivilegeLogin = Rtm2Privilege.LOGIN
    #: Agora's permission builder: ``ServiceRtm2.Permissions()`` then ``.add(...)``
    Permissions = Rtm2Permissions

    def __init__(self, user_id: str = "", permissions: AnyPermissions | None = None) -> None:
        super().__init__(user_id, permissions)

    def add_permission(self, resource_type: int, permission_type: int, resource: str) -> None:
        rt = v.check_u16(resource_type, "resource type")
        pt = v.check_u16(permission_type, "permission type")
        self.permissions.setdefault(rt, {}).setdefault(pt, []).append(v.check_str(resource, "resource"))


_CLASSES: dict[int, type[Service]] = {
    c.type: c
    for c in (ServiceRtc, ServiceRtm, ServiceStreaming, ServiceFpa, ServiceChat,
              ServiceFcdn, ServiceApaas, ServiceRtm2)
}
assert set(_CLASSES) == set(LAYOUTS)


def service_class(service_type: int) -> type[Service]:
    """The service class of ``service_type`` (1..8)."""
    cls = _CLASSES.get(service_type) if type(service_type) is int else None
    if cls is None:
        cls = _CLASSES.get(v.check_u16(service_type, "service type"))
    if cls is None:
        raise InvalidParameterError(M.unknown_service(service_type))
    return cls


def service_from_tuple(data: tuple[Any, ...]) -> Service:
    """Rebuild a service object from a core tuple (as returned by parsing)."""
    cls = service_class(data[0])
    svc = cls.__new__(cls)
    svc.privileges = dict(data[1])
    for name, value in zip(cls.field_names, data[2:]):
        setattr(svc, name, value)
    return svc
