"""Agora's ``RtmTokenBuilder2.py``: ``RtmTokenBuilder``, on
:class:`agora_token.RtmTokenBuilder`. Like Agora's module it also offers
everything ``AccessToken2`` does (``ServiceRtm2.Permissions`` among them)."""

from __future__ import annotations

from .. import builders as _b
from ..services import AnyPermissions
from . import AccessToken2 as _at2
from ._common import agora_build
from .AccessToken2 import *  # noqa: F403  (Agora's module star-imports AccessToken2 too)

__all__ = ["RtmTokenBuilder", "RtmTokenBuilder2", *_at2.__all__]


class RtmTokenBuilder:
    @staticmethod
    def build_token(app_id: str, app_certificate: str, user_id: str, expire: int) -> str:
        """RTM login for ``user_id``; token and privilege last ``expire`` seconds."""
        return agora_build(_b.RtmTokenBuilder.build_token, app_id, app_certificate, user_id, expire)

    @staticmethod
    def build_token_with_permissions(app_id: str, app_certificate: str, user_id: str,
                                     permissions: AnyPermissions, expire: int = 0) -> str:
        """RTM2: login plus the resource permissions of a ``ServiceRtm2.Permissions``."""
        return agora_build(_b.RtmTokenBuilder.build_token_with_permissions, app_id, app_certificate, user_id,
                           permissions, expire)


#: agoraiotools' name for the same class
RtmTokenBuilder2 = RtmTokenBuilder
