"""``parse`` and ``verify`` for a token of either format (``007`` or ``006``)."""

from __future__ import annotations

from typing import Union

from . import _backend
from . import _messages as M
from . import _validate as v
from .access_token import AccessToken
from .errors import InvalidParameterError, InvalidTokenError
from .legacy import AccessToken006, verify_006

__all__ = ["Token", "parse", "verify"]

#: what :func:`parse` returns
Token = Union[AccessToken, AccessToken006]


def parse(token: str) -> Token:
    """``007`` -> :class:`AccessToken`, ``006`` -> :class:`AccessToken006`.
    Anything malformed raises :class:`InvalidTokenError` (and nothing else)."""
    if type(token) is not str:
        raise InvalidTokenError(M.token_not_str(token))
    if token.startswith("006"):
        return AccessToken006.parse(token)
    return AccessToken.parse(token)


def verify(token: str, app_certificate: str, *, channel_name: str | None = None,
           uid: int | str | None = None) -> bool:
    """True when ``token`` was signed with ``app_certificate`` (constant-time
    comparison). A malformed token raises :class:`InvalidTokenError`, a
    malformed certificate :class:`InvalidCredentialsError`.

    ``006`` tokens sign the channel name and uid but carry only their CRC-32:
    pass ``channel_name=`` and ``uid=`` for them.
    """
    if type(token) is not str:
        raise InvalidTokenError(M.token_not_str(token))
    cert = v.check_certificate(app_certificate)
    if token.startswith("006"):
        if channel_name is None or uid is None:
            raise InvalidParameterError(
                "006 tokens sign the channel name and uid: pass channel_name= and uid= to verify()")
        return verify_006(token, cert, channel_name, uid)
    return bool(_backend.verify_007(token, cert))
