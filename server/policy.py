"""Token policy: the longest lifetime the service issues (``MAX_EXPIRE``) and
an optional pattern every channel name must match (``CHANNEL_PATTERN``), plus
:class:`TokenRequest`, what one token about to be signed is for (policy and
authorisation are decided on exactly the values the token will carry).

``CHANNEL_PATTERN`` is evaluated with RE2 (google-re2), whose matching time is
linear in the input: an operator's pattern can never stall a worker on a
crafted channel name, as a backtracking engine can (``([a-z0-9]+-?)*`` took
22 s on a 28-character name with Python's ``re``). Patterns RE2 does not
support (backreferences, lookaround) are refused at start-up. Channel names
are checked against Agora's 64-byte limit before the pattern runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Union

from agora_token.constants import MAX_CHANNEL_NAME_BYTES, U32_MAX

from .env import ConfigError, env_int, env_str

__all__ = [
    "DEFAULT_MAX_EXPIRE",
    "PRODUCTION_VARIABLES",
    "PolicySettings",
    "PolicyViolation",
    "TokenRequest",
    "check_policy",
    "parse_policy_settings",
]

DEFAULT_MAX_EXPIRE = 86400
MAX_PATTERN_LENGTH = 1024

#: variables that switch the service from drop-in mode to production mode,
#: where MAX_EXPIRE defaults to 86400 instead of no limit
PRODUCTION_VARIABLES = ("AUTH_API_KEYS", "AUTH_API_KEYS_FILE", "AUTH_JWT_SECRET", "AUTH_JWT_PUBLIC_KEY",
                        "AUTH_JWT_PUBLIC_KEY_FILE", "AUTH_JWKS_URL", "RATE_LIMIT", "CHANNEL_PATTERN")


@dataclass(frozen=True)
class PolicySettings:
    """``max_expire``: the largest token lifetime (seconds) the service issues
    (None: no limit beyond the format's, the drop-in behaviour).
    ``channel_pattern``: compiled RE2 pattern every channel must fully match."""

    max_expire: Optional[int] = None
    channel_pattern: Any = None

    @property
    def active(self) -> bool:
        return self.max_expire is not None or self.channel_pattern is not None


def compile_channel_pattern(text: str) -> Any:
    """``CHANNEL_PATTERN`` compiled with RE2 (raises :class:`ConfigError`)."""
    import re2

    if len(text) > MAX_PATTERN_LENGTH:
        raise ConfigError("CHANNEL_PATTERN", f"is longer than {MAX_PATTERN_LENGTH} characters")
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(text, options)
    except re2.error as exc:
        detail = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else exc
        raise ConfigError("CHANNEL_PATTERN", f"is not a regular expression RE2 accepts ({detail}); "
                                             "backreferences and lookaround are not supported") from None


def parse_policy_settings(env: Mapping[str, str]) -> PolicySettings:
    """``MAX_EXPIRE`` defaults to 86400 as soon as any production setting
    (:data:`PRODUCTION_VARIABLES`) is configured; with none of them the service
    stays a drop-in replacement of the original and caps nothing."""
    max_expire: Optional[int] = None
    if env_str(env, "MAX_EXPIRE"):
        max_expire = env_int(env, "MAX_EXPIRE", 0, 1, U32_MAX, "seconds")
    elif any(env_str(env, name) for name in PRODUCTION_VARIABLES):
        max_expire = DEFAULT_MAX_EXPIRE
    text = env.get("CHANNEL_PATTERN") or ""
    pattern = compile_channel_pattern(text) if text.strip() else None
    return PolicySettings(max_expire=max_expire, channel_pattern=pattern)


Uid = Union[int, str]


@dataclass(frozen=True)
class TokenRequest:
    """What one token is for.

    ``kind``: ``rtc``, ``rtm``, ``chat`` or ``chat_app``. ``channel``: the
    channel ('' / None: none). ``rtc_uid``: the RTC uid as the token carries it
    (int, 0 = any user; or a user-account str), None when no RTC service.
    ``user_ids``: RTM / chat user ids. ``publisher``: publisher privileges
    asked for. ``expire``: the lifetime in seconds.
    """

    kind: str
    channel: Optional[str] = None
    rtc_uid: Optional[Uid] = None
    user_ids: tuple[str, ...] = field(default_factory=tuple)
    publisher: bool = False
    expire: Optional[int] = None


@dataclass(frozen=True)
class PolicyViolation:
    """A request the policy or the caller's claims refuse: answer ``status``."""

    status: int
    message: str
    reason: str = "policy"  # short label for metrics (e.g. forbidden_uid)


def check_policy(settings: PolicySettings, req: TokenRequest,
                 default_expire: int) -> Optional[PolicyViolation]:
    """None when ``req`` is within policy, else a 400 :class:`PolicyViolation`."""
    max_expire = settings.max_expire
    if max_expire is not None and req.expire is not None and req.expire > max_expire:
        hint = (f" (the default, when no expire is given, is {default_expire})"
                if max_expire < default_expire else "")
        return PolicyViolation(400, f"expire {req.expire} exceeds the maximum of {max_expire} "
                                    f"seconds (MAX_EXPIRE): ask for at most {max_expire}{hint}")
    pattern = settings.channel_pattern
    if pattern is not None and req.channel is not None:
        try:
            too_long = len(req.channel.encode("utf-8")) > MAX_CHANNEL_NAME_BYTES
        except UnicodeEncodeError:  # a lone surrogate
            too_long = True
        if too_long:
            return None  # the library refuses it (400) before anything is signed
        if pattern.fullmatch(req.channel) is None:
            return PolicyViolation(400, "channel name is not allowed by this server's channel "
                                        "pattern (CHANNEL_PATTERN)")
    return None
