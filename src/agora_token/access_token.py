"""AccessToken2 (``007``): :class:`AccessToken` builds, parses and verifies one."""

from __future__ import annotations

import time

from . import _backend
from . import _messages as M
from . import _validate as v
from ._salt import new_salt
from .constants import U16_MAX
from .errors import InvalidParameterError
from .services import Service, service_from_tuple

__all__ = ["AccessToken"]


class AccessToken:
    """An AccessToken2 under construction (or as parsed from a token string).

    ``expire`` is the token lifetime in seconds from ``issue_ts``;
    ``issue_ts=None`` means now and ``salt=None`` a fresh CSPRNG salt, fixed
    when the object is created so that :meth:`build` gives the same token
    every time it is called.
    """

    __slots__ = ("_app_certificate", "_token", "app_id", "expire", "issue_ts", "salt", "services", "signature")
    version = "007"

    def __init__(self, app_id: str, app_certificate: str, *, expire: int = 900,
                 issue_ts: int | None = None, salt: int | None = None) -> None:
        v.check_credentials(app_id, app_certificate)
        self.app_id: str = app_id
        self._app_certificate: str | None = app_certificate
        self.expire: int = v.check_u32(expire, "expire")
        self.issue_ts: int = int(time.time()) if issue_ts is None else v.check_u32(issue_ts, "issue_ts")
        self.salt: int = new_salt() if salt is None else v.check_u32(salt, "salt")
        self.services: list[Service] = []
        #: the signature read from a parsed token (None for one being built)
        self.signature: bytes | None = None
        self._token: str | None = None

    def add_service(self, service: Service) -> AccessToken:
        if not isinstance(service, Service):
            raise InvalidParameterError(M.not_a_service_object(service))
        if len(self.services) >= U16_MAX:
            raise InvalidParameterError(M.TOO_MANY_SERVICES)
        self.services.append(service)
        return self

    def build(self) -> str:
        """Sign, compress and encode: the ``007...`` token string."""
        if self._app_certificate is None:
            raise InvalidParameterError("this token was parsed, not built: it has no app certificate to sign with")
        if not self.services:
            raise InvalidParameterError("a token needs at least one service (add_service)")
        return _backend.build_007(self.app_id, self._app_certificate, self.issue_ts, self.expire,
                                  self.salt, [s._core() for s in self.services])

    @property
    def expires_at(self) -> int:
        """Unix time at which the token expires (issue_ts + expire)."""
        return self.issue_ts + self.expire

    def verify(self, app_certificate: str) -> bool:
        """For a parsed token: was it signed with ``app_certificate``?"""
        if self._token is None:
            raise InvalidParameterError("verify() applies to a parsed token; use agora_token.verify(token, cert)")
        return bool(_backend.verify_007(self._token, v.check_certificate(app_certificate)))

    @classmethod
    def parse(cls, token: str) -> AccessToken:
        """Parse a ``007`` token (raises :class:`InvalidTokenError`)."""
        sig, app_id, issue_ts, expire, salt, services = _backend.parse_007(token)
        self = cls.__new__(cls)
        self.app_id = app_id
        self._app_certificate = None
        self.issue_ts = issue_ts
        self.expire = expire
        self.salt = salt
        self.services = [service_from_tuple(s) for s in services]
        self.signature = sig
        self._token = token
        return self

    def __repr__(self) -> str:
        return (f"AccessToken(app_id={self.app_id!r}, issue_ts={self.issue_ts}, expire={self.expire}, "
                f"salt={self.salt}, services={self.services!r})")
