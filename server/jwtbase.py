"""What :mod:`server.jwtauth` (settings, verification) and :mod:`server.jwks`
(an identity provider's key set) share: the error a refused JWT raises and
the smallest RSA key accepted. Both import it at the top; neither imports
the other's internals."""

from __future__ import annotations

__all__ = ["JwtError", "MIN_RSA_BITS"]

#: the smallest RSA key accepted, for a configured key and in a JWKS
MIN_RSA_BITS = 2048


class JwtError(Exception):
    """A JWT that is not accepted; ``message`` is safe to send to the client;
    ``reason`` labels metrics (``jwks_unavailable`` becomes a 503)."""

    def __init__(self, message: str, reason: str = "invalid_jwt") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
