"""Agora's legacy ``RtmTokenBuilder.py`` (``006``): ``Role_Rtm_User`` and
``RtmTokenBuilder``, on :class:`agora_token.legacy.RtmTokenBuilder006`. Like
Agora's module it also offers everything ``AccessToken`` (006) does."""

from __future__ import annotations

from ..legacy import RtmTokenBuilder006 as _Rtm006
from . import AccessToken as _at
from .AccessToken import *  # noqa: F403  (Agora's module star-imports AccessToken too)

__all__ = ["RtmTokenBuilder", "Role_Rtm_User", *_at.__all__]

Role_Rtm_User = 1


class RtmTokenBuilder:
    @staticmethod
    def buildToken(appId: str, appCertificate: str, userAccount: str, role: int, privilegeExpiredTs: int) -> str:
        """RTM login (privilege ``kRtmLogin``) for ``userAccount`` until the
        absolute unix time ``privilegeExpiredTs`` (0 = never); ``role`` is not
        used (Agora's ``Role_Rtm_User``)."""
        return _Rtm006.build_token(appId, appCertificate, userAccount, role, privilegeExpiredTs)
