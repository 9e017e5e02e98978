"""Agora's ``AccessToken2.py`` (AccessToken2, ``007``): ``AccessToken``, the
service classes and their constants, on agora_token's services and cores.

``from src.AccessToken2 import ...`` -> ``from agora_token.compat.AccessToken2 import ...``.
As in Agora's module: ``issue_ts=0`` means now; the salt is random (from the OS
CSPRNG); ``add_service`` appends (services of the same type are all kept);
``build()`` returns ``""`` when the app id or certificate is not 32
hexadecimal digits or no service was added; ``from_string`` returns False for
a token without the ``007`` prefix. Unlike Agora's, ``from_string`` raises a
``ValueError`` (:class:`~agora_token.errors.InvalidTokenError`) that says
what is wrong with any other malformed token, and never prints.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from .. import _messages as M
from .. import services as _s
from .._salt import new_salt
from .._validate import check_permissions, is_app_certificate
from ..access_token import AccessToken as _Token
from ..errors import InvalidParameterError, InvalidTokenError
from ..services import AnyPermissions, Rtm2Permissions
from ._common import agora_build

__all__ = [
    "VERSION_LENGTH",
    "AccessToken",
    "AccessToken2",
    "Service",
    "ServiceApaas",
    "ServiceChat",
    "ServiceFCdn",
    "ServiceFpa",
    "ServiceRtc",
    "ServiceRtm",
    "ServiceRtm2",
    "ServiceStreaming",
    "get_version",
]

VERSION_LENGTH = len(_Token.version)


def get_version() -> str:
    return _Token.version


class Service:
    """Agora's service base class, and the mark of every service here.
    ``Service(service_type)`` is a service of that type with empty fields.
    Each subclass below is also the library's own class for its type
    (``ServiceRtc`` is an :class:`agora_token.ServiceRtc`: same fields,
    checks and constants), with Agora's ``service_type()``."""

    kServiceType: ClassVar[int]

    def __init__(self, service_type: int) -> None:
        self._service: _s.Service = _s.service_class(service_type)()

    def add_privilege(self, privilege: int, expire: int) -> None:
        self._native().add_privilege(privilege, expire)

    def service_type(self) -> int:
        return int(self._native().type)

    def _native(self) -> _s.Service:
        """The library's service that packs this one."""
        return self if isinstance(self, _s.Service) else self._service

    def __repr__(self) -> str:
        return f"Service({self._service!r})"


class ServiceRtc(_s.ServiceRtc, Service):
    pass


class ServiceRtm(_s.ServiceRtm, Service):
    pass


class ServiceStreaming(_s.ServiceStreaming, Service):
    pass


class ServiceFpa(_s.ServiceFpa, Service):
    pass


class ServiceChat(_s.ServiceChat, Service):
    pass


class ServiceFCdn(_s.ServiceFcdn, Service):
    pass


class ServiceApaas(_s.ServiceApaas, Service):
    pass


class ServiceRtm2(_s.ServiceRtm2, Service):
    """RTM login with resource permissions. As in Agora's class, a
    ``Permissions`` object passed in is kept, not copied: what it holds when
    the token is built is what the token carries."""

    def __init__(self, user_id: str = "", permissions: AnyPermissions | None = None) -> None:
        super().__init__(user_id, permissions)  # checks both now
        if isinstance(permissions, Rtm2Permissions):
            self._permissions = permissions
        else:  # None or a mapping: its checked copy, as a Permissions
            self._permissions = Rtm2Permissions()
            self._permissions.details = self.permissions

    def get_user_id(self) -> str:
        return self.user_id

    def get_permissions(self) -> Rtm2Permissions:
        return self._permissions

    def _core(self) -> tuple[Any, ...]:
        self.permissions = check_permissions(self._permissions)  # as they are now
        return super()._core()


_COMPAT: dict[int, type[Service]] = {
    c.kServiceType: c
    for c in (ServiceRtc, ServiceRtm, ServiceStreaming, ServiceFpa, ServiceChat, ServiceFCdn, ServiceApaas,
              ServiceRtm2)
}


def _from_native(service: _s.Service) -> Service:
    """The compat service of a parsed library service."""
    _, privileges, *fields = service._core()
    compat: Any = _COMPAT[service.type](*fields)
    compat.privileges = privileges
    return compat  # type: ignore[no-any-return]


class AccessToken:
    """An AccessToken2 to build (``AccessToken(app_id, app_certificate,
    issue_ts=0, expire=900)``, then ``add_service`` and ``build``) or to read
    (``AccessToken()``, then ``from_string``, ``verify_signature``,
    ``get_services``)."""

    kServices: ClassVar[dict[int, type[Service]]] = _COMPAT

    def __init__(self, app_id: str = "", app_certificate: str = "", issue_ts: int = 0,
                 expire: int = 900) -> None:
        self.__app_id = app_id
        self.__app_cert = app_certificate
        self.__issue_ts = issue_ts if issue_ts != 0 else int(time.time())
        self.__expire = expire
        self.__salt = new_salt()
        self.services: list[Service] = []
        self.__parsed: _Token | None = None

    def add_service(self, service: Service) -> None:
        if not isinstance(service, Service):
            raise InvalidParameterError(M.not_a_service_object(service))
        self.services.append(service)

    def get_services(self, service_type: int) -> list[Service]:
        """The services of ``service_type``, in the order added (or in the token)."""
        return [s for s in self.services if s.service_type() == service_type]

    def build(self) -> str:
        """The ``007...`` token, or ``""`` when the app id or certificate is
        not 32 hexadecimal digits or there is no service (as Agora's)."""
        if not self.services:
            return ""
        return agora_build(self.__build, self.__app_id, self.__app_cert)

    def __build(self, app_id: str, app_certificate: str) -> str:
        token = _Token(app_id, app_certificate, expire=self.__expire, issue_ts=self.__issue_ts, salt=self.__salt)
        for service in self.services:
            token.add_service(service._native())
        return token.build()

    def from_string(self, origin_token: str) -> bool:
        """Read ``origin_token``: False when it does not start with ``007``;
        a ``ValueError`` (``InvalidTokenError``) when it does but is malformed."""
        self.__app_id = ""
        self.__issue_ts = self.__expire = self.__salt = 0
        self.services = []
        self.__parsed = None
        if not isinstance(origin_token, str):
            raise InvalidTokenError(M.token_not_str(origin_token))
        if origin_token[:VERSION_LENGTH] != get_version():
            return False
        parsed = _Token.parse(origin_token)
        self.__app_id = parsed.app_id
        self.__issue_ts, self.__expire, self.__salt = parsed.issue_ts, parsed.expire, parsed.salt
        self.services = [_from_native(s) for s in parsed.services]
        self.__parsed = parsed
        return True

    def verify_signature(self, app_certificate: str) -> bool:
        """For a token read by :meth:`from_string`: was it signed with
        ``app_certificate``? (False before a successful ``from_string``, or
        for a certificate that is not 32 hexadecimal digits.)"""
        if self.__parsed is None or not is_app_certificate(app_certificate):
            return False
        return self.__parsed.verify(app_certificate)


#: agoraiotools' name for the same class
AccessToken2 = AccessToken
