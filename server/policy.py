"""Token policy: upper bound on lifetimes (``MAX_EXPIRE``; 86400 by default once
any production setting is configured, none in drop-in mode) and an optional
allowed channel-name pattern (``CHANNEL_PATTERN``).

Also home of the pieces the other request-path modules share: :class:`ConfigError`
(a bad setting, naming the variable but never echoing a secret) and
:class:`TokenRequest` (what one token to be issued is for, built from the values the
handlers pass to the issuing hook, so that authorisation and policy are decided
on exactly the values the token will carry).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Optional, Union

__all__ = [
    "ConfigError",
    "DEFAULT_MAX_EXPIRE",
    "PolicySettings",
    "PolicyViolation",
    "TokenRequest",
    "check_policy",
    "parse_policy_settings",
    "token_request_from_hook",
]

U32_MAX = 0xFFFFFFFF
DEFAULT_MAX_EXPIRE = 86400
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

#: variables that switch the service from drop-in mode to production mode,
#: where MAX_EXPIRE defaults to 86400 instead of no limit
PRODUCTION_VARIABLES = ("AUTH_API_KEYS", "AUTH_API_KEYS_FILE", "AUTH_JWT_SECRET", "AUTH_JWT_PUBLIC_KEY",
                        "AUTH_JWT_PUBLIC_KEY_FILE", "RATE_LIMIT", "CHANNEL_PATTERN")


@dataclass(frozen=True)
class PolicySettings:
    """``max_expire``: the largest token lifetime (seconds) the service issues
    (None: no limit beyond the format's 4294967295, the drop-in behaviour).
    ``channel_pattern``: compiled regex every channel name must fully match
    (None: any channel the library accepts)."""

    max_expire: Optional[int] = None
    channel_pattern: Optional["re.Pattern[str]"] = None


def parse_policy_settings(env: Mapping[str, str]) -> PolicySettings:
    """Read ``MAX_EXPIRE`` and ``CHANNEL_PATTERN`` (raises :class:`ConfigError`).

    ``MAX_EXPIRE`` defaults to 86400 as soon as any production setting
    (:data:`PRODUCTION_VARIABLES`) is configured; with none of them the service
    stays a drop-in replacement of the original and caps nothing (the spec's
    "no setting, no change" rule)."""
    raw = env_str(env, "MAX_EXPIRE")
    max_expire: Optional[int] = None
    if raw:
        if not raw.isascii() or not raw.isdigit():
            raise ConfigError("MAX_EXPIRE", "must be a whole number of seconds (1..4294967295)")
        max_expire = int(raw)
        if not 1 <= max_expire <= U32_MAX:
            raise ConfigError("MAX_EXPIRE", "must be between 1 and 4294967295 seconds")
    elif any(env_str(env, name) for name in PRODUCTION_VARIABLES):
        max_expire = DEFAULT_MAX_EXPIRE
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

    ``kind``: ``rtc``, ``rtm``, ``chat`` or ``chat_app``.
    ``channel``: the channel the token is for ('' / None: none).
    ``rtc_uid``: the RTC uid as the token will carry it (int for numeric uids,
    0 = any user; str for a user account), None when no RTC service.
    ``user_ids``: RTM / chat user ids, exact strings.
    ``publisher``: whether publisher privileges are asked for.
    ``expire``: the effective lifetime in seconds (after defaults), None when unknown.
    """

    kind: str
    channel: Optional[str] = None
    rtc_uid: Optional[Uid] = None
    user_ids: tuple[str, ...] = field(default_factory=tuple)
    publisher: bool = False
    expire: Optional[int] = None


def token_request_from_hook(kind: str, channel: str, uid: Optional[Uid], role: Optional[str],
                            expire: int) -> TokenRequest:
    """From the issuing hook's arguments (see ``server/issuing.py``): kinds
    ``rtc`` (uid int/str, role publisher/subscriber), ``rtm`` (uid = user id,
    channel '' or a stream channel), ``chat`` (uid = user id), ``chat_app``."""
    if kind == "rtc":
        return TokenRequest("rtc", channel, uid, (), role == "publisher", expire)
    users = (str(uid),) if uid is not None else ()
    if kind == "rtm":
        return TokenRequest("rtm", channel or None, None, users, False, expire)
    if kind == "chat":
        return TokenRequest("chat", None, None, users, False, expire)
    return TokenRequest(kind, channel or None, None, users, False, expire)


# --------------------------------------------------------------------------- checks

@dataclass(frozen=True)
class PolicyViolation:
    """A request the policy refuses: answer ``status`` with ``message``."""

    status: int
    message: str
    reason: str = "policy"  # short label for metrics (e.g. forbidden_uid)


def check_policy(settings: PolicySettings, req: TokenRequest) -> Optional[PolicyViolation]:
    """None when ``req`` is within policy, else a 400 :class:`PolicyViolation`."""
    if settings.max_expire is not None and req.expire is not None and req.expire > settings.max_expire:
        hint = " (the default, when no expire is given, is 3600)" if settings.max_expire < 3600 else ""
        return PolicyViolation(400, f"expire {req.expire} exceeds the maximum of {settings.max_expire} "
                                    f"seconds (MAX_EXPIRE): ask for at most {settings.max_expire}{hint}")
    if settings.channel_pattern is not None and req.channel is not None:
        if settings.channel_pattern.fullmatch(req.channel) is None:
            return PolicyViolation(400, "channel name is not allowed by this server's channel "
                                        "pattern (CHANNEL_PATTERN)")
    return None
