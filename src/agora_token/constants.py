"""Service types, privileges and limits of Agora tokens, as readable names."""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "DEFAULT_EXPIRE",
    "FPA_EXPIRE",
    "I16_MAX",
    "I16_MIN",
    "MAX_006_CHANNEL_UID_BYTES",
    "MAX_ACCOUNT_BYTES",
    "MAX_CHANNEL_NAME_BYTES",
    "MAX_PAYLOAD_BYTES",
    "MAX_STRING_BYTES",
    "MAX_TOKEN_LENGTH",
    "SALT_MAX",
    "U16_MAX",
    "U32_MAX",
    "ApaasPrivilege",
    "ChatPrivilege",
    "FcdnPrivilege",
    "FpaPrivilege",
    "Legacy006Privilege",
    "PermissionType",
    "ResourceType",
    "Role",
    "RtcPrivilege",
    "Rtm2Privilege",
    "RtmPrivilege",
    "ServiceType",
    "StreamingPrivilege",
]

U16_MAX = 0xFFFF
U32_MAX = 0xFFFFFFFF
I16_MIN = -0x8000
I16_MAX = 0x7FFF
SALT_MAX = 99999999

#: A packed string is a u16 length plus bytes.
MAX_STRING_BYTES = U16_MAX
#: Largest token string ``parse``/``verify`` will look at (characters).
MAX_TOKEN_LENGTH = 65536
#: Largest decompressed 007 payload (and largest payload ``build`` produces).
MAX_PAYLOAD_BYTES = 65536

#: Agora's documented limits, enforced by the builders (not by the raw format).
MAX_CHANNEL_NAME_BYTES = 64
MAX_ACCOUNT_BYTES = 255

#: A 006 token signs its channel name and uid (it carries only their CRC-32):
#: together they may be at most this many bytes (UTF-8), checked alike by
#: ``AccessToken006`` and ``verify`` whichever core is active.
MAX_006_CHANNEL_UID_BYTES = 65535

#: Default token (and privilege) lifetime in seconds of the short builders.
DEFAULT_EXPIRE = 3600
#: Lifetime in seconds of an FPA token from Agora's ``FpaTokenBuilder``: 24 hours.
FPA_EXPIRE = 86400


class ServiceType(IntEnum):
    RTC = 1
    RTM = 2
    STREAMING = 3
    FPA = 4
    CHAT = 5
    FCDN = 6
    APAAS = 7
    RTM2 = 8


class RtcPrivilege(IntEnum):
    JOIN_CHANNEL = 1
    PUBLISH_AUDIO_STREAM = 2
    PUBLISH_VIDEO_STREAM = 3
    PUBLISH_DATA_STREAM = 4


class RtmPrivilege(IntEnum):
    LOGIN = 1


class StreamingPrivilege(IntEnum):
    PUBLISH_MIX_STREAM = 1
    PUBLISH_RAW_STREAM = 2


class FpaPrivilege(IntEnum):
    LOGIN = 1


class ChatPrivilege(IntEnum):
    USER = 1
    APP = 2


class FcdnPrivilege(IntEnum):
    PUBLISH = 1
    PLAY = 2


class ApaasPrivilege(IntEnum):
    ROOM_USER = 1
    USER = 2
    APP = 3


class Rtm2Privilege(IntEnum):
    LOGIN = 1


class ResourceType(IntEnum):
    """RTM2 resource types (permission map keys)."""

    MESSAGE_CHANNEL = 0
    STREAM_CHANNEL = 1
    GROUP_CHANNEL = 2
    SERVER_GROUP = 3
    USER = 4


class PermissionType(IntEnum):
    READ = 0
    WRITE = 1


class Legacy006Privilege(IntEnum):
    """Privileges of the legacy 006 token (values are absolute unix times)."""

    JOIN_CHANNEL = 1
    PUBLISH_AUDIO_STREAM = 2
    PUBLISH_VIDEO_STREAM = 3
    PUBLISH_DATA_STREAM = 4
    PUBLISH_AUDIO_CDN = 5
    PUBLISH_VIDEO_CDN = 6
    REQUEST_PUBLISH_AUDIO_STREAM = 7
    REQUEST_PUBLISH_VIDEO_STREAM = 8
    REQUEST_PUBLISH_DATA_STREAM = 9
    INVITE_PUBLISH_AUDIO_STREAM = 10
    INVITE_PUBLISH_VIDEO_STREAM = 11
    INVITE_PUBLISH_DATA_STREAM = 12
    ADMINISTRATE_CHANNEL = 101
    RTM_LOGIN = 1000


class Role(IntEnum):
    """RTC roles, numbered as in Agora's official builders."""

    ATTENDEE = 0  # legacy 006 only: treated like a publisher there
    PUBLISHER = 1
    SUBSCRIBER = 2
    ADMIN = 101  # legacy 006 only: treated like a publisher there
