"""Agora's legacy ``AccessToken.py`` (``006``): the privilege constants and
``AccessToken``, on :class:`agora_token.legacy.AccessToken006`.

As in Agora's class, ``appID``, ``appCertificate``, ``channelName``,
``uidStr``, ``salt``, ``ts`` and ``messages`` (``{privilege: absolute unix
expiry}``) are plain attributes that ``build()`` reads; ``ts`` starts at now
+ 24 h and the salt is random (from the OS CSPRNG). ``fromString`` returns
False for anything it cannot read, without printing.
"""

from __future__ import annotations

from .._salt import new_salt
from .._validate import uid_to_str
from ..constants import Legacy006Privilege as _P
from ..errors import InvalidTokenError
from ..legacy import AccessToken006, default_ts

__all__ = [
    "APP_ID_LENGTH",
    "VERSION_LENGTH",
    "AccessToken",
    "getVersion",
    "kAdministrateChannel",
    "kInvitePublishAudioStream",
    "kInvitePublishDataStream",
    "kInvitePublishVideoStream",
    "kJoinChannel",
    "kPublishAudioStream",
    "kPublishAudiocdn",
    "kPublishDataStream",
    "kPublishVideoCdn",
    "kPublishVideoStream",
    "kRequestPublishAudioStream",
    "kRequestPublishDataStream",
    "kRequestPublishVideoStream",
    "kRtmLogin",
]

kJoinChannel = int(_P.JOIN_CHANNEL)
kPublishAudioStream = int(_P.PUBLISH_AUDIO_STREAM)
kPublishVideoStream = int(_P.PUBLISH_VIDEO_STREAM)
kPublishDataStream = int(_P.PUBLISH_DATA_STREAM)
kPublishAudiocdn = int(_P.PUBLISH_AUDIO_CDN)  # Agora's spelling
kPublishVideoCdn = int(_P.PUBLISH_VIDEO_CDN)
kRequestPublishAudioStream = int(_P.REQUEST_PUBLISH_AUDIO_STREAM)
kRequestPublishVideoStream = int(_P.REQUEST_PUBLISH_VIDEO_STREAM)
kRequestPublishDataStream = int(_P.REQUEST_PUBLISH_DATA_STREAM)
kInvitePublishAudioStream = int(_P.INVITE_PUBLISH_AUDIO_STREAM)
kInvitePublishVideoStream = int(_P.INVITE_PUBLISH_VIDEO_STREAM)
kInvitePublishDataStream = int(_P.INVITE_PUBLISH_DATA_STREAM)
kAdministrateChannel = int(_P.ADMINISTRATE_CHANNEL)
kRtmLogin = int(_P.RTM_LOGIN)

VERSION_LENGTH = len(AccessToken006.version)
APP_ID_LENGTH = 32


def getVersion() -> str:
    return AccessToken006.version


class AccessToken:
    """A legacy token: ``AccessToken(appID, appCertificate, channelName, uid)``,
    ``addPrivilege(privilege, expireTimestamp)``, ``build()``; or
    ``AccessToken()`` then ``fromString(token)`` to read a token's salt, ts
    and privileges."""

    def __init__(self, appID: str = "", appCertificate: str = "", channelName: str = "",
                 uid: int | str = "") -> None:
        self.appID = appID
        self.appCertificate = appCertificate
        self.channelName = channelName
        self.ts = default_ts()
        self.salt = new_salt()
        self.messages: dict[int, int] = {}
        self.uidStr = uid_to_str(uid)  # 0 -> "" (any user), as Agora's

    def addPrivilege(self, privilege: int, expireTimestamp: int) -> None:
        self.messages[privilege] = expireTimestamp

    def build(self) -> str:
        token = AccessToken006(self.appID, self.appCertificate, self.channelName, self.uidStr, salt=self.salt,
                               ts=self.ts)
        for privilege, expire_ts in self.messages.items():
            token.add_privilege(privilege, expire_ts)
        return token.build()

    def fromString(self, originToken: str) -> bool:
        """Read ``originToken``'s salt, ts and privileges (``messages``); False
        when it is not a readable ``006`` token."""
        if not isinstance(originToken, str) or originToken[:VERSION_LENGTH] != getVersion():
            return False
        try:
            parsed = AccessToken006.parse(originToken)
        except InvalidTokenError:
            return False
        self.salt, self.ts, self.messages = parsed.salt, parsed.ts, dict(parsed.privileges)
        return True
