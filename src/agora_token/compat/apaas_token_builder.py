"""Agora's ``apaas_token_builder.py``: ``ApaasTokenBuilder``, on
:class:`agora_token.ApaasTokenBuilder`. Like Agora's module it also offers
everything ``AccessToken2`` does."""

from __future__ import annotations

from .. import builders as _b
from . import AccessToken2 as _at2
from ._common import agora_build
from .AccessToken2 import *  # noqa: F403  (Agora's module star-imports AccessToken2 too)

__all__ = ["ApaasTokenBuilder", *_at2.__all__]


class ApaasTokenBuilder:
    _builder: type[_b.ApaasTokenBuilder] = _b.ApaasTokenBuilder

    @classmethod
    def build_room_user_token(cls, app_id: str, app_certificate: str, room_uuid: str, user_uuid: str,
                              role: int, expire: int) -> str:
        """APaaS room user + RTM login for ``user_uuid`` + Chat user (the MD5
        hex of ``user_uuid``), every privilege and the token = ``expire``."""
        return agora_build(cls._builder.build_room_user_token, app_id, app_certificate, room_uuid, user_uuid,
                           role, expire)

    @classmethod
    def build_user_token(cls, app_id: str, app_certificate: str, user_uuid: str, expire: int) -> str:
        return agora_build(cls._builder.build_user_token, app_id, app_certificate, user_uuid, expire)

    @classmethod
    def build_app_token(cls, app_id: str, app_certificate: str, expire: int) -> str:
        return agora_build(cls._builder.build_app_token, app_id, app_certificate, expire)
