"""Agora's legacy ``RtcTokenBuilder.py`` (``006``): the roles and
``RtcTokenBuilder``, on :mod:`agora_token.legacy`. Privilege expiries are
absolute unix times (0 = never). Like Agora's module it also offers
everything ``AccessToken`` (006) does."""

from __future__ import annotations

from ..constants import Role
from ..legacy import RtcTokenBuilder006 as _Rtc006
from . import AccessToken as _at
from .AccessToken import *  # noqa: F403  (Agora's module star-imports AccessToken too)

__all__ = ["Role_Admin", "Role_Attendee", "Role_Publisher", "Role_Subscriber", "RtcTokenBuilder", *_at.__all__]

Role_Attendee = int(Role.ATTENDEE)
Role_Publisher = int(Role.PUBLISHER)
Role_Subscriber = int(Role.SUBSCRIBER)
Role_Admin = int(Role.ADMIN)


class RtcTokenBuilder:
    """Roles Attendee, Publisher and Admin get join + publish audio/video/data;
    Subscriber (and any other role) gets join only."""

    @staticmethod
    def buildTokenWithUid(appId: str, appCertificate: str, channelName: str, uid: int | str, role: int,
                          privilegeExpiredTs: int) -> str:
        if isinstance(uid, str):  # Agora's takes either: str(uid) is packed
            return _Rtc006.build_token_with_account(appId, appCertificate, channelName, uid, role,
                                                    privilegeExpiredTs)
        return _Rtc006.build_token_with_uid(appId, appCertificate, channelName, uid, role, privilegeExpiredTs)

    @staticmethod
    def buildTokenWithAccount(appId: str, appCertificate: str, channelName: str, account: int | str, role: int,
                              privilegeExpiredTs: int) -> str:
        return RtcTokenBuilder.buildTokenWithUid(appId, appCertificate, channelName, account, role,
                                                 privilegeExpiredTs)

    @staticmethod
    def buildTokenWithUidAndPrivilege(appId: str, appCertificate: str, channelName: str, uid: int | str,
                                      joinChannelPrivilegeExpiredTs: int, pubAudioPrivilegeExpiredTs: int,
                                      pubVideoPrivilegeExpiredTs: int, pubDataStreamPrivilegeExpiredTs: int) -> str:
        token = _at.AccessToken(appId, appCertificate, channelName, uid)
        token.addPrivilege(_at.kJoinChannel, joinChannelPrivilegeExpiredTs)
        token.addPrivilege(_at.kPublishAudioStream, pubAudioPrivilegeExpiredTs)
        token.addPrivilege(_at.kPublishVideoStream, pubVideoPrivilegeExpiredTs)
        token.addPrivilege(_at.kPublishDataStream, pubDataStreamPrivilegeExpiredTs)
        return token.build()

    buildTokenWithUserAccountAndPrivilege = buildTokenWithUidAndPrivilege
