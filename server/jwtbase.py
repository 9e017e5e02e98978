"""What :mod:`server.jwtauth` (settings, verification) and :mod:`server.jwks`
(an identity provider's key set) share: the error a refused JWT raises
(:class:`server.errors.JwtError`, an ``AuthError``) and the smallest RSA key
accepted. Both import it at the top; neither imports the other's internals."""

from __future__ import annotations

from .errors import JwtError

__all__ = ["JwtError", "MIN_RSA_BITS"]

#: the smallest RSA key accepted, for a configured key and in a JWKS
MIN_RSA_BITS = 2048

