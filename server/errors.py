"""The refusals of the service, one tree under :class:`ServiceError` (as
PyJWT's ``exceptions.py`` has one root):

* :class:`ServiceError`: ``status``, ``message`` (safe to send to the
  client), ``reason`` (the label of metrics and the audit trail) and
  ``headers`` (sent with the answer);
* :class:`AuthError`: no valid credential (``401``; ``503`` while the
  identity provider's keys are unavailable);

  * :class:`JwtError`: a JWT that is not accepted;

* :class:`IssueDenied`: a token the policy or the caller's claims refuse;
* :class:`StorageUnavailable`: the rate-limit storage failed, with
  ``RATE_LIMIT_ON_STORAGE_ERROR=deny`` (``503``).

Each is raised where it is decided and answered in the body shape of the
route family that raised it by one function,
:func:`server.responses.error_response`. A malformed setting is a
:class:`server.env.ConfigError`, outside this tree: it stops the service at
start-up and is never an answer to a request.

The classes are also importable from the modules that raise them
(``server.auth.AuthError``, ``server.jwtbase.JwtError``,
``server.responses.IssueDenied``, ``server.ratelimit.StorageUnavailable``).
This module imports nothing of the service.
"""

from __future__ import annotations

from typing import Mapping, Optional

__all__ = ["AuthError", "IssueDenied", "JwtError", "ServiceError", "StorageUnavailable"]

#: the answer while the rate-limit storage is down and the setting says deny
STORAGE_DENIED = "the rate-limit storage is unavailable (RATE_LIMIT_ON_STORAGE_ERROR=deny): retry later"


class ServiceError(Exception):
    """A request the service refuses: answered ``status`` with ``message``
    and ``headers``; ``reason`` labels metrics and the audit trail."""

    def __init__(self, status: int, message: str, headers: Optional[Mapping[str, str]] = None,
                 reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.reason = reason


class AuthError(ServiceError):
    """No valid credential: ``401`` with ``WWW-Authenticate``, or ``503``
    with ``Retry-After`` when the identity provider's keys are unavailable
    (``reason`` ``jwks_unavailable``)."""

    def __init__(self, message: str, *, invalid_token: bool = True, reason: str = "") -> None:
        reason = reason or ("invalid_api_key" if invalid_token else "missing_credentials")
        #: the challenge of a 401
        self.www_authenticate = 'Bearer error="invalid_token"' if invalid_token else "Bearer"
        if reason == "jwks_unavailable":
            super().__init__(503, message, {"Retry-After": "5"}, reason)
        else:
            super().__init__(401, message, {"WWW-Authenticate": self.www_authenticate}, reason)


class JwtError(AuthError):
    """A JWT that is not accepted (``jwks_unavailable``: no key set to check it with)."""

    def __init__(self, message: str, reason: str = "invalid_jwt") -> None:
        super().__init__(message, reason=reason)


class IssueDenied(ServiceError):
    """A token the policy or the caller's claims refuse (``400``, ``403``, or
    ``401`` when a JWT is needed); ``headers`` (e.g. ``WWW-Authenticate``)
    go with the answer."""

    def __init__(self, status: int, message: str, headers: Optional[Mapping[str, str]] = None,
                 reason: str = "policy") -> None:
        super().__init__(status, message, headers, reason)


class StorageUnavailable(ServiceError):
    """The rate-limit storage failed and ``RATE_LIMIT_ON_STORAGE_ERROR=deny``: ``503``."""

    def __init__(self, message: str = STORAGE_DENIED) -> None:
        super().__init__(503, message, {"Retry-After": "1"}, "storage_unavailable")
