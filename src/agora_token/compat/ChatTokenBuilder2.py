"""Agora's ``ChatTokenBuilder2.py``: ``ChatTokenBuilder``, on
:class:`agora_token.ChatTokenBuilder`. Like Agora's module it also offers
everything ``AccessToken2`` does."""

from __future__ import annotations

from .. import builders as _b
from . import AccessToken2 as _at2
from ._common import agora_build
from .AccessToken2 import *  # noqa: F403  (Agora's module star-imports AccessToken2 too)

__all__ = ["ChatTokenBuilder", "ChatTokenBuilder2", *_at2.__all__]


class ChatTokenBuilder:
    @staticmethod
    def build_user_token(app_id: str, app_certificate: str, user_id: str, expire: int) -> str:
        return agora_build(_b.ChatTokenBuilder.build_user_token, app_id, app_certificate, user_id, expire)

    @staticmethod
    def build_app_token(app_id: str, app_certificate: str, expire: int) -> str:
        return agora_build(_b.ChatTokenBuilder.build_app_token, app_id, app_certificate, expire)


#: agoraiotools' name for the same class
ChatTokenBuilder2 = ChatTokenBuilder
