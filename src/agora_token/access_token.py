"""AccessToken2 (``007``): build, parse and verify; plus format-agnostic
:func:`parse` and :func:`verify` that also accept legacy ``006`` tokens."""

from __future__ import annotations

import os
import struct
import time
from typing import Any, Iterator, Optional, Union

from . import _backend
from . import _validate as v
from .constants import SALT_MAX
from .errors import InvalidParameterError, InvalidTokenError
from .services import Service, service_from_tuple

__all__ = ["AccessToken", "new_salt", "parse", "verify"]


# Salts come from os.urandom in batches: one syscall per 1024 salts instead of
# one per token. next() on the iterator is a single C call, so threads never
# share a value; a fork discards the parent's batch so children never repeat
# the parent's salts.
_SALT_LIMIT = (1 << 32) // SALT_MAX * SALT_MAX  # reject above this: no modulo bias
_salt_iter: Iterator[tuple[int]] = iter(())


def _refill() -> Iterator[tuple[int]]:
    global _salt_iter
    _salt_iter = struct.iter_unpack("<I", os.urandom(4096))
    return _salt_iter


def _forget_salts() -> None:
    global _salt_iter
    _salt_iter = iter(())


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_salts)


def new_salt() -> int:
    """A fresh salt from the OS CSPRNG, uniform in 1..99999999 like the official builders."""
    while True:
        item = next(_salt_iter, None)
        if item is None:
            item = next(_refill())
        if item[0] < _SALT_LIMIT:
            return item[0] % SALT_MAX + 1


class AccessToken:
    """An AccessToken2 under construction (or as parsed from a token string).

    ``expire`` is the token lifetime in seconds from ``issue_ts``;
    ``issue_ts=None`` means now and ``salt=None`` a fresh CSPRNG salt, fixed
    when the object is created so that :meth:`build` gives the same token
    every time it is called.
    """

    __slots__ = ("app_id", "_app_certificate", "issue_ts", "expire", "salt", "services", "signature", "_token")
    version = "007"

    def __init__(self, app_id: str, app_certificate: str, *, expire: int = 900,
                 issue_ts: Optional[int] = None, salt: Optional[int] = None) -> None:
        v.check_credentials(app_id, app_certificate)
        self.app_id: str = app_id
        self._app_certificate: Optional[str] = app_certificate
        self.expire: int = v.check_u32(expire, "expire")
        self.issue_ts: int = int(time.time()) if issue_ts is None else v.check_u32(issue_ts, "issue_ts")
        self.salt: int = new_salt() if salt is None else v.check_u32(salt, "salt")
        self.services: list[Service] = []
        #: the signature read from a parsed token (None for one being built)
        self.signature: Optional[bytes] = None
        self._token: Optional[str] = None

    def add_service(self, service: Service) -> "AccessToken":
        if not isinstance(service, Service):
            raise InvalidParameterError(f"add_service() takes a Service, got {type(service).__name__}")
        if len(self.services) >= 0xFFFF:
            raise InvalidParameterError("a token holds at most 65535 services")
        self.services.append(service)
        return self

    def build(self) -> str:
        """Sign, compress and encode: the ``007...`` token string."""
        if self._app_certificate is None:
            raise InvalidParameterError("this token was parsed, not built: it has no app certificate to sign with")
        if not self.services:
            raise InvalidParameterError("a token needs at least one service (add_service)")
        return _backend.build_v2(self.app_id, self._app_certificate, self.issue_ts, self.expire,
                                 self.salt, [s._core() for s in self.services])

    @property
    def expires_at(self) -> int:
        """Unix time at which the token expires (issue_ts + expire)."""
        return self.issue_ts + self.expire

    def verify(self, app_certificate: str) -> bool:
        """For a parsed token: was it signed with ``app_certificate``?"""
        if self._token is None:
            raise InvalidParameterError("verify() applies to a parsed token; use agora_token.verify(token, cert)")
        return verify(self._token, app_certificate)

    @classmethod
    def parse(cls, token: str) -> "AccessToken":
        """Parse a ``007`` token (raises :class:`InvalidTokenError`)."""
        sig, app_id, issue_ts, expire, salt, services = _backend.parse_v2(token)
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


def parse(token: str) -> Any:
    """Parse a token of either format: ``007`` -> :class:`AccessToken`,
    ``006`` -> :class:`agora_token.legacy.AccessToken006`. Anything malformed
    raises :class:`InvalidTokenError` (and nothing else)."""
    if type(token) is not str:
        raise InvalidTokenError(f"token must be a str, got {type(token).__name__}")
    if token.startswith("006"):
        from .legacy import AccessToken006

        return AccessToken006.parse(token)
    return AccessToken.parse(token)


def verify(token: str, app_certificate: str, *, channel_name: Optional[str] = None,
           uid: Union[int, str, None] = None) -> bool:
    """True when ``token`` was signed with ``app_certificate`` (constant-time
    comparison). Malformed tokens raise :class:`InvalidTokenError`; a
    malformed certificate raises :class:`InvalidCredentialsError`.

    Legacy ``006`` tokens sign the channel name and uid but carry only their
    CRC-32, so for them pass ``channel_name=`` and ``uid=`` too.
    """
    if type(token) is not str:
        raise InvalidTokenError(f"token must be a str, got {type(token).__name__}")
    cert = v.check_certificate(app_certificate)
    if token.startswith("006"):
        if channel_name is None or uid is None:
            raise InvalidParameterError(
                "006 tokens sign the channel name and uid: pass channel_name= and uid= to verify()")
        return bool(_backend.verify_v1(token, cert, v.check_str(channel_name, "channel_name"),
                                       v.uid_to_str(uid)))
    return bool(_backend.verify_v2(token, cert))

