"""agora_token: build, parse and verify Agora access tokens.

AccessToken2 (``007``) and the legacy AccessToken (``006``), byte-identical
with Agora's official builders, with a compiled core (``BACKEND == "cython"``)
and a pure-Python fallback (``"python"``; forced by
``AGORA_TOKEN_NO_EXTENSIONS=1``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from .tokens import Token, parse, verify

if TYPE_CHECKING:
    from .description import TokenDescription, describe_token

#: names imported on first use (PEP 562): describe_token's module (dataclasses,
#: datetime) is not needed to build, parse or verify a token
_LAZY = {"TokenDescription": "description", "describe_token": "description"}


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
