"""Agora's ``education_token_builder.py``: ``EducationTokenBuilder``, on
:class:`agora_token.EducationTokenBuilder` (the same tokens as APaaS). Like
Agora's module it also offers everything ``AccessToken2`` does."""

from __future__ import annotations

from .. import builders as _b
from . import AccessToken2 as _at2
from .AccessToken2 import *  # noqa: F403  (Agora's module star-imports AccessToken2 too)
from .apaas_token_builder import ApaasTokenBuilder as _Apaas

__all__ = ["EducationTokenBuilder", *_at2.__all__]


class EducationTokenBuilder(_Apaas):
    """``build_room_user_token(app_id, app_certificate, room_uuid, user_uuid,
    role, expire)``, ``build_user_token(app_id, app_certificate, user_uuid,
    expire)``, ``build_app_token(app_id, app_certificate, expire)``."""

    _builder = _b.EducationTokenBuilder
