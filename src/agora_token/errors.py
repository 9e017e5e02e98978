"""The one exception hierarchy of agora_token.

Everything the library raises on purpose derives from :class:`AgoraTokenError`.
Errors about a bad value also derive from :class:`ValueError`, so code written
against the official samples (which raise ``ValueError``/``struct.error``) keeps
catching them.
"""

from __future__ import annotations

__all__ = [
    "AgoraTokenError",
    "InvalidCredentialsError",
    "InvalidParameterError",
    "InvalidTokenError",
]


class AgoraTokenError(Exception):
    """Base class of every error raised by agora_token."""


class InvalidCredentialsError(AgoraTokenError, ValueError):
    """The app id or app certificate is not 32 hexadecimal digits."""


class InvalidParameterError(AgoraTokenError, ValueError):
    """A token input is out of range, too long, of the wrong type, or missing.

    Raised before any packing or signing is done.
    """


class InvalidTokenError(AgoraTokenError, ValueError):
    """A token string could not be parsed: wrong prefix, bad base64, bad zlib,
    truncated or trailing data, or a payload above the size cap."""
