"""agora_token: build, parse and verify Agora access tokens.

AccessToken2 (``007``) and the legacy AccessToken (``006``), byte-identical
with Agora's official builders, with a compiled core (``BACKEND == "cython"``)
and a pure-Python fallback (``"python"``; forced by
``AGORA_TOKEN_NO_EXTENSIONS=1``).
"""

from __future__ import annotations

__version__ = "0.1.0"  # the one place: pyproject.toml reads it

from ._backend import BACKEND
from ._validate import is_app_certificate, is_app_id, parse_uid
from .access_token import AccessToken
from .builders import (
    ApaasTokenBuilder,
    ChatTokenBuilder,
    EducationTokenBuilder,
    FpaTokenBuilder,
    RtcTokenBuilder,
    RtmTokenBuilder,
    chat_app_token,
    chat_user_token,
    rtc_token,
    rtm_token,
)
from .constants import (
    ApaasPrivilege,
    ChatPrivilege,
    FcdnPrivilege,
    FpaPrivilege,
    PermissionType,
    ResourceType,
    Role,
    RtcPrivilege,
    Rtm2Privilege,
    RtmPrivilege,
    ServiceType,
    StreamingPrivilege,
)
from .errors import (
    AgoraTokenError,
    InvalidCredentialsError,
    InvalidParameterError,
    InvalidTokenError,
)
from .services import (
    Service,
    ServiceApaas,
    ServiceChat,
    ServiceFcdn,
    ServiceFpa,
    ServiceRtc,
    ServiceRtm,
    ServiceRtm2,
    ServiceStreaming,
)
from .tokens import parse, verify

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see _LAZY below)
if TYPE_CHECKING:
    from typing import Any

    from .description import TokenDescription, describe_token
    from .tokens import Token

#: names imported on first use (PEP 562): describe_token's module (dataclasses,
#: datetime) is not needed to build, parse or verify a token, nor ``typing``
#: (``Token`` is a ``typing.Union``, made on first use): ``import agora_token``
#: loads neither (tests/lib/test_import_cost.py)
_LAZY = {"TokenDescription": "description", "describe_token": "description", "Token": "tokens"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value

__all__ = [
    "BACKEND",
    "AccessToken",
    "AgoraTokenError",
    "ApaasPrivilege",
    "ApaasTokenBuilder",
    "ChatPrivilege",
    "ChatTokenBuilder",
    "EducationTokenBuilder",
    "FcdnPrivilege",
    "FpaPrivilege",
    "FpaTokenBuilder",
    "InvalidCredentialsError",
    "InvalidParameterError",
    "InvalidTokenError",
    "PermissionType",
    "ResourceType",
    "Role",
    "RtcPrivilege",
    "RtcTokenBuilder",
    "Rtm2Privilege",
    "RtmPrivilege",
    "RtmTokenBuilder",
    "Service",
    "ServiceApaas",
    "ServiceChat",
    "ServiceFcdn",
    "ServiceFpa",
    "ServiceRtc",
    "ServiceRtm",
    "ServiceRtm2",
    "ServiceStreaming",
    "ServiceType",
    "StreamingPrivilege",
    "Token",
    "TokenDescription",
    "__version__",
    "chat_app_token",
    "chat_user_token",
    "describe_token",
    "is_app_certificate",
    "is_app_id",
    "parse",
    "parse_uid",
    "rtc_token",
    "rtm_token",
    "verify",
]
