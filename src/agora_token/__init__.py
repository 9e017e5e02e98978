"""agora_token: build, parse and verify Agora access tokens.

AccessToken2 (``007``) and the legacy AccessToken (``006``), byte-identical
with Agora's official builders, with a compiled core (``BACKEND == "cython"``)
and a pure-Python fallback (``"python"``; forced by
``AGORA_TOKEN_NO_EXTENSIONS=1``).
"""

from __future__ import annotations

from ._backend import BACKEND
from .access_token import AccessToken, parse, verify
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
    Rtm2Privilege,
    RtcPrivilege,
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

__version__ = "0.1.0"

__all__ = [
    "AccessToken",
    "AgoraTokenError",
    "ApaasPrivilege",
    "ApaasTokenBuilder",
    "BACKEND",
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
    "Rtm2Privilege",
    "RtcPrivilege",
    "RtcTokenBuilder",
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
    "__version__",
    "chat_app_token",
    "chat_user_token",
    "parse",
    "rtc_token",
    "rtm_token",
    "verify",
]
