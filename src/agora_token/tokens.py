"""``parse`` and ``verify`` for a token of either format (``007`` or ``006``)."""

from __future__ import annotations

from . import _backend
from . import _messages as M
from . import _validate as v
from ._aliases import lazy_aliases, union
from .access_token import AccessToken
from .errors import InvalidParameterError, InvalidTokenError

__all__ = ["Token", "parse", "verify"]

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any, Union

    from .legacy import AccessToken006

    #: what :func:`parse` returns
    Token = Union[AccessToken, AccessToken006]

# The legacy 006 format (.legacy) is loaded when a 006 token first comes by.


def _aliases() -> dict[str, Any]:
    """``Token``, a typing.Union, made on first use (``_aliases``)."""
    from .legacy import AccessToken006

    return {"Token": union(AccessToken, AccessToken006)}


if not TYPE_CHECKING:
    __getattr__ = lazy_aliases(globals(), ("Token",), _aliases)


def parse(token: str) -> Token:
    """``007`` -> :class:`AccessToken`, ``006`` -> :class:`AccessToken006`.
    Anything malformed raises :class:`InvalidTokenError` (and nothing else)."""
    if type(token) is not str:
        raise InvalidTokenError(M.token_not_str(token))
    if token.startswith("006"):
        from .legacy import AccessToken006

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
        from .legacy import verify_006

        return verify_006(token, cert, channel_name, uid)
    return bool(_backend.verify_007(token, cert))
