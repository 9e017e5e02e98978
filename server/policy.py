"""Token policy: upper bound on lifetimes (``MAX_EXPIRE``) and an optional
allowed channel-name pattern (``CHANNEL_PATTERN``).

Also home of the pieces the other request-path modules share: :class:`ConfigError`
(a bad setting, naming the variable but never echoing a secret) and
:class:`TokenRequest` (what a token-issuing request asks for, extracted from a
``POST /getToken`` body or a deprecated GET route, so that authorisation and
policy are decided on exactly the values the handler will use).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Union

from agora_token.errors import InvalidParameterError
from agora_token._validate import parse_uid_text

__all__ = [
    "ConfigError",
    "DEFAULT_MAX_EXPIRE",
    "PolicySettings",
    "PolicyViolation",
    "TokenRequest",
    "check_policy",
    "parse_policy_settings",
    "token_request_from_body",
    "token_request_from_route",
]

U32_MAX = 0xFFFFFFFF
DEFAULT_MAX_EXPIRE = 86400
DEFAULT_EXPIRE = 3600
MAX_PATTERN_LENGTH = 1024


class ConfigError(ValueError):
    """A malformed setting. ``str(err)`` is one line that names the variable;
    it never contains the value of a secret."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable
        self.message = message


def env_str(env: Mapping[str, str], name: str) -> str:
    """The stripped value of ``name`` ('' when unset)."""
    value = env.get(name)
    return value.strip() if value else ""


def env_flag(env: Mapping[str, str], name: str) -> bool:
    raw = env_str(env, name).lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(name, "must be 1/0, true/false, yes/no or on/off")


# --------------------------------------------------------------------------- settings

@dataclass(frozen=True)
class PolicySettings:
    """``max_expire``: the largest token lifetime (seconds) the service issues.
    ``channel_pattern``: compiled regex every channel name must fully match
    (None: any channel the library accepts)."""

    max_expire: int = DEFAULT_MAX_EXPIRE
    channel_pattern: Optional["re.Pattern[str]"] = None


def parse_policy_settings(env: Mapping[str, str]) -> PolicySettings:
    """Read ``MAX_EXPIRE`` and ``CHANNEL_PATTERN`` (raises :class:`ConfigError`)."""
    raw = env_str(env, "MAX_EXPIRE")
    max_expire = DEFAULT_MAX_EXPIRE
    if raw:
        if not raw.isascii() or not raw.isdigit():
            raise ConfigError("MAX_EXPIRE", "must be a whole number of seconds (1..4294967295)")
        max_expire = int(raw)
        if not 1 <= max_expire <= U32_MAX:
            raise ConfigError("MAX_EXPIRE", "must be between 1 and 4294967295 seconds")
    pattern: Optional[re.Pattern[str]] = None
    text = env.get("CHANNEL_PATTERN") or ""
    if text.strip():
        if len(text) > MAX_PATTERN_LENGTH:
            raise ConfigError("CHANNEL_PATTERN", f"is longer than {MAX_PATTERN_LENGTH} characters")
        try:
            pattern = re.compile(text)
        except re.error as exc:
            raise ConfigError("CHANNEL_PATTERN", f"is not a valid regular expression ({exc})") from None
    return PolicySettings(max_expire=max_expire, channel_pattern=pattern)


# --------------------------------------------------------------------------- requests

Uid = Union[int, str]


@dataclass(frozen=True)
class TokenRequest:
    """What a token-issuing request asks for.

    ``kind``: ``rtc``, ``rtm``, ``chat``, ``chat_app`` or ``rte``.
    ``channel``: the channel the token is for ('' / None: none).
    ``rtc_uid``: the RTC uid as the token will carry it (int for numeric uids,
    0 = any user; str for a user account), None when no RTC service.
    ``user_ids``: RTM / chat user ids, exact strings.
    ``publisher``: whether publisher privileges are asked for.
    ``expire``: the effective lifetime (after defaults), None when unknown.
    ``expire_defaulted``: the client did not choose ``expire`` (the 3600 default applies).
    """

    kind: str
    channel: Optional[str] = None
    rtc_uid: Optional[Uid] = None
    user_ids: tuple[str, ...] = field(default_factory=tuple)
    publisher: bool = False
    expire: Optional[int] = None
    expire_defaulted: bool = False


def _norm_uid_text(text: str) -> Optional[Uid]:
    """Apply the spec's uid rule: plain decimal digits -> int (None if > u32),
    anything else -> the account string."""
    try:
        n = parse_uid_text(text)
    except (InvalidParameterError, ValueError):
        return None
    return text if n is None else n


def token_request_from_body(body: Any) -> Optional[TokenRequest]:
    """Interpret a ``POST /getToken`` JSON body the way the handler does.

    Returns None when the body is not something the handler will accept (it
    answers 400 itself); never raises."""
    if not isinstance(body, dict):
        return None
    kind = body.get("tokenType")
    if kind not in ("rtc", "rtm", "chat"):
        return None
    expire_raw = body.get("expire")
    defaulted = expire_raw is None or expire_raw == 0
    if defaulted:
        expire: Optional[int] = DEFAULT_EXPIRE
    elif type(expire_raw) is int:
        expire = expire_raw
    else:
        expire = None  # the handler decides (400 for a non-integer)
    channel = body.get("channel")
    if channel is not None and not isinstance(channel, str):
        return None
    uid_raw = body.get("uid")
    uid_text: Optional[str]
    if uid_raw is None:
        uid_text = None
    elif type(uid_raw) is int:
        uid_text = str(uid_raw)
    elif isinstance(uid_raw, str):
        uid_text = uid_raw
    else:
        return None
    publisher = body.get("role") == "publisher"
    if kind == "rtc":
        rtc_uid = _norm_uid_text(uid_text) if uid_text else None
        if rtc_uid is None:
            return None
        return TokenRequest("rtc", channel or None, rtc_uid, (), publisher, expire, defaulted)
    if kind == "rtm":
        if not uid_text:
            return None
        return TokenRequest("rtm", channel or None, None, (uid_text,), False, expire, defaulted)
    if uid_text:
        return TokenRequest("chat", None, None, (uid_text,), False, expire, defaulted)
    return TokenRequest("chat_app", None, None, (), False, expire, defaulted)


def _query_expiry(query: Mapping[str, str]) -> tuple[Optional[int], bool]:
    raw = query.get("expiry")
    if raw is None:
        return DEFAULT_EXPIRE, True
    if raw.isascii() and raw.isdigit():
        return int(raw), False
    return None, False


def token_request_from_route(kind: str, match_info: Mapping[str, str],
                             query: Mapping[str, str]) -> Optional[TokenRequest]:
    """Interpret a deprecated GET route (``kind`` = rtc, rtm, rte, chat_app,
    chat) from its (URL-decoded) path parameters and query. None when the
    handler will answer 400 anyway."""
    expire, defaulted = _query_expiry(query)
    if kind in ("rtc", "rte"):
        channel = match_info.get("channelName", "")
        publisher = match_info.get("role") == "publisher"
        token_type = match_info.get("tokenType")
        rtcuid = match_info.get("rtcuid", "")
        rtc_uid: Optional[Uid]
        if token_type == "uid":
            if rtcuid == "":
                rtc_uid = 0
            else:
                try:
                    rtc_uid = parse_uid_text(rtcuid)
                except (InvalidParameterError, ValueError):
                    return None
                if rtc_uid is None:
                    return None
        elif token_type == "userAccount":
            if not rtcuid:
                return None
            rtc_uid = rtcuid
        else:
            return None
        if kind == "rtc":
            return TokenRequest("rtc", channel or None, rtc_uid, (), publisher, expire, defaulted)
        rtm_user = match_info.get("rtmuid") or rtcuid
        if not rtm_user:
            return None
        return TokenRequest("rte", channel or None, rtc_uid, (rtm_user,), publisher, expire, defaulted)
    if kind == "rtm":
        user = match_info.get("rtmuid", "")
        if user in ("", "0"):
            return None
        return TokenRequest("rtm", None, None, (user,), False, expire, defaulted)
    if kind == "chat":
        user = match_info.get("chatid", "")
        if not user:
            return None
        return TokenRequest("chat", None, None, (user,), False, expire, defaulted)
    if kind == "chat_app":
        return TokenRequest("chat_app", None, None, (), False, expire, defaulted)
    return None


# --------------------------------------------------------------------------- checks

@dataclass(frozen=True)
class PolicyViolation:
    """A request the policy refuses: answer ``status`` with ``message``."""

    status: int
    message: str


def check_policy(settings: PolicySettings, req: TokenRequest) -> Optional[PolicyViolation]:
    """None when ``req`` is within policy, else a 400 :class:`PolicyViolation`."""
    if req.expire is not None and req.expire > settings.max_expire:
        if req.expire_defaulted:
            msg = (f"the default expire of {req.expire} seconds exceeds the maximum of "
                   f"{settings.max_expire} seconds (MAX_EXPIRE); ask for an expire of at most "
                   f"{settings.max_expire}")
        else:
            msg = (f"expire {req.expire} exceeds the maximum of {settings.max_expire} seconds "
                   f"(MAX_EXPIRE)")
        return PolicyViolation(400, msg)
    if settings.channel_pattern is not None and req.channel is not None:
        if settings.channel_pattern.fullmatch(req.channel) is None:
            return PolicyViolation(400, "channel name is not allowed by this server's channel "
                                        "pattern (CHANNEL_PATTERN)")
    return None
