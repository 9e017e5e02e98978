"""The layout of each AccessToken2 service type, written once.

A service is packed as ``u16 type, privileges map, *fields``; this table
says which fields follow the privileges, in packing order, and of which
kind. The pure-Python core packs and parses from it, ``Service`` subclasses
take their ``field_names`` and checks from it, the describer its names, and
the tests their strategies. The compiled core fills its C arrays from
:data:`PACK_KINDS` when it loads (read back as ``_pack.LAYOUT``, which a test
compares with it).
"""

from __future__ import annotations

from .constants import (
    ApaasPrivilege,
    ChatPrivilege,
    FcdnPrivilege,
    FpaPrivilege,
    RtcPrivilege,
    Rtm2Privilege,
    RtmPrivilege,
    ServiceType,
    StreamingPrivilege,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (import agora_token stays lean)
if TYPE_CHECKING:
    import builtins
    from enum import IntEnum
    from typing import Any, Final

__all__ = ["LAYOUTS", "PACK_KINDS", "Field", "ServiceLayout"]

#: Field kinds. ``uid`` is packed as a string; a service's constructor also
#: takes an int uid there (0 -> "", any user).
STR: Final = "str"
UID: Final = "uid"
I16: Final = "i16"
PERMISSIONS: Final = "permissions"


class _Record:
    """A read-only record compared by value: what ``@dataclass(frozen=True)``
    gave these two classes, without importing dataclasses (and inspect) with
    ``agora_token``."""

    __slots__: tuple[str, ...] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


class Field(_Record):
    __slots__ = ("name", "kind", "json_name")
    name: str       # attribute name on the Service object
    kind: str       # STR, UID, I16 or PERMISSIONS
    json_name: str  # camelCase name in JSON descriptions

    def __init__(self, name: str, kind: str, json_name: str) -> None:
        for slot, value in zip(self.__slots__, (name, kind, json_name)):
            object.__setattr__(self, slot, value)


class ServiceLayout(_Record):
    __slots__ = ("type", "name", "fields", "privileges")
    type: ServiceType
    name: str                        # "rtc", "rtm", ... (JSON and CLI)
    fields: tuple[Field, ...]
    privileges: builtins.type[IntEnum]  # privilege ids of this service, for readable names

    def __init__(self, type: ServiceType, name: str, fields: tuple[Field, ...],
                 privileges: builtins.type[IntEnum]) -> None:
        for slot, value in zip(self.__slots__, (type, name, fields, privileges)):
            object.__setattr__(self, slot, value)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


_CHANNEL = Field("channel_name", STR, "channel")
_USER_ID = Field("user_id", STR, "userId")

LAYOUTS: Final[dict[int, ServiceLayout]] = {
    lay.type: lay for lay in (
        ServiceLayout(ServiceType.RTC, "rtc", (_CHANNEL, Field("uid", UID, "uid")), RtcPrivilege),
        ServiceLayout(ServiceType.RTM, "rtm", (_USER_ID,), RtmPrivilege),
        ServiceLayout(ServiceType.STREAMING, "streaming", (_CHANNEL, Field("account", UID, "account")),
                      StreamingPrivilege),
        ServiceLayout(ServiceType.FPA, "fpa", (), FpaPrivilege),
        ServiceLayout(ServiceType.CHAT, "chat", (_USER_ID,), ChatPrivilege),
        ServiceLayout(ServiceType.FCDN, "fcdn", (_CHANNEL, Field("account", UID, "account")), FcdnPrivilege),
        ServiceLayout(ServiceType.APAAS, "apaas", (Field("room_uuid", STR, "roomUuid"),
                                                   Field("user_uuid", STR, "userUuid"),
                                                   Field("role", I16, "role")), ApaasPrivilege),
        ServiceLayout(ServiceType.RTM2, "rtm2", (_USER_ID, Field("permissions", PERMISSIONS, "permissions")),
                      Rtm2Privilege),
    )
}

#: type -> the kinds the core packs, in order (``uid`` is packed as ``str``).
PACK_KINDS: Final[dict[int, tuple[str, ...]]] = {
    t: tuple(STR if f.kind == UID else f.kind for f in lay.fields) for t, lay in LAYOUTS.items()
}
