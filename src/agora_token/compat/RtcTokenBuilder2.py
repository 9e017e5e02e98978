"""Agora's ``RtcTokenBuilder2.py``: ``Role_Publisher``, ``Role_Subscriber`` and
``RtcTokenBuilder``, on :class:`agora_token.RtcTokenBuilder`. Like Agora's
module it also offers everything ``AccessToken2`` does."""

from __future__ import annotations

from .. import builders as _b
from ..constants import Role
from . import AccessToken2 as _at2
from ._common import agora_build
from .AccessToken2 import *  # noqa: F403  (Agora's module star-imports AccessToken2 too)

__all__ = ["Role_Publisher", "Role_Subscriber", "RtcTokenBuilder", "RtcTokenBuilder2", *_at2.__all__]

Role_Publisher = int(Role.PUBLISHER)
Role_Subscriber = int(Role.SUBSCRIBER)


class RtcTokenBuilder:
    @staticmethod
    def build_token_with_uid(app_id: str, app_certificate: str, channel_name: str, uid: _b.Uid, role: int,
                             token_expire: int, privilege_expire: int = 0) -> str:
        return agora_build(_b.RtcTokenBuilder.build_token_with_uid, app_id, app_certificate, channel_name, uid,
                           role, token_expire, privilege_expire)

    @staticmethod
    def build_token_with_user_account(app_id: str, app_certificate: str, channel_name: str, account: _b.Uid,
                                      role: int, token_expire: int, privilege_expire: int = 0) -> str:
        return agora_build(_b.RtcTokenBuilder.build_token_with_user_account, app_id, app_certificate,
                           channel_name, account, role, token_expire, privilege_expire)

    @staticmethod
    def build_token_with_uid_and_privilege(app_id: str, app_certificate: str, channel_name: str, uid: _b.Uid,
                                           token_expire: int, join_channel_privilege_expire: int,
                                           pub_audio_privilege_expire: int, pub_video_privilege_expire: int,
                                           pub_data_stream_privilege_expire: int) -> str:
        return agora_build(_b.RtcTokenBuilder.build_token_with_uid_and_privilege, app_id, app_certificate,
                           channel_name, uid, token_expire, join_channel_privilege_expire,
                           pub_audio_privilege_expire, pub_video_privilege_expire,
                           pub_data_stream_privilege_expire)

    @staticmethod
    def build_token_with_user_account_and_privilege(app_id: str, app_certificate: str, channel_name: str,
                                                    account: _b.Uid, token_expire: int,
                                                    join_channel_privilege_expire: int,
                                                    pub_audio_privilege_expire: int,
                                                    pub_video_privilege_expire: int,
                                                    pub_data_stream_privilege_expire: int) -> str:
        return agora_build(_b.RtcTokenBuilder.build_token_with_user_account_and_privilege, app_id,
                           app_certificate, channel_name, account, token_expire, join_channel_privilege_expire,
                           pub_audio_privilege_expire, pub_video_privilege_expire,
                           pub_data_stream_privilege_expire)

    @staticmethod
    def build_token_with_rtm(app_id: str, app_certificate: str, channel_name: str, account: _b.Uid, role: int,
                             token_expire: int, privilege_expire: int = 0) -> str:
        return agora_build(_b.RtcTokenBuilder.build_token_with_rtm, app_id, app_certificate, channel_name,
                           account, role, token_expire, privilege_expire)

    @staticmethod
    def build_token_with_rtm2(app_id: str, app_certificate: str, channel_name: str, rtc_account: _b.Uid,
                              rtc_role: int, rtc_token_expire: int, join_channel_privilege_expire: int,
                              pub_audio_privilege_expire: int, pub_video_privilege_expire: int,
                              pub_data_stream_privilege_expire: int, rtm_user_id: str,
                              rtm_token_expire: int) -> str:
        return agora_build(_b.RtcTokenBuilder.build_token_with_rtm2, app_id, app_certificate, channel_name,
                           rtc_account, rtc_role, rtc_token_expire, join_channel_privilege_expire,
                           pub_audio_privilege_expire, pub_video_privilege_expire,
                           pub_data_stream_privilege_expire, rtm_user_id, rtm_token_expire)


#: agoraiotools' name for the same class
RtcTokenBuilder2 = RtcTokenBuilder
