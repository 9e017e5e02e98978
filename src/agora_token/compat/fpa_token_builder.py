"""Agora's ``fpa_token_builder.py``: ``FpaTokenBuilder``, on
:class:`agora_token.FpaTokenBuilder` (login privilege 0, token valid 24 h).
Like Agora's module it also offers everything ``AccessToken2`` does."""

from __future__ import annotations

from .. import builders as _b
from . import AccessToken2 as _at2
from ._common import agora_build
from .AccessToken2 import *  # noqa: F403  (Agora's module star-imports AccessToken2 too)

__all__ = ["FpaTokenBuilder", *_at2.__all__]


class FpaTokenBuilder:
    @staticmethod
    def build_token(app_id: str, app_certificate: str) -> str:
        """The FPA token, or ``""`` for an app id or certificate that is not 32
        hexadecimal digits (as Agora's)."""
        return agora_build(_b.FpaTokenBuilder.build_token, app_id, app_certificate)
