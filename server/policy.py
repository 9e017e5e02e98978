"""Token policy: the longest lifetime the service issues (``MAX_EXPIRE``) and
an optional pattern every channel name must match (``CHANNEL_PATTERN``), plus
:class:`TokenRequest`, what one request asks for (every token, every service
with its channel, user and privileges), which every token route parses its
input into: policy and authorisation are decided on exactly the values the
tokens will carry, by one function whatever the route
(:meth:`server.issuing.Issuer.admit`).

``CHANNEL_PATTERN`` is evaluated with RE2 (google-re2), whose matching time is
linear in the input: an operator's pattern can never stall a worker on a
crafted channel name, as a backtracking engine can (``([a-z0-9]+-?)*`` took
22 s on a 28-character name with Python's ``re``). Patterns RE2 does not
support (backreferences, lookaround) are refused at start-up. Every channel
that goes into a token is checked against Agora's 64-byte limit first, then
against the pattern, by one function (:func:`check_channel`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Optional, Union

import re2

from agora_token._validate import check_channel as check_channel_name
from agora_token.constants import (
    U32_MAX,
    ApaasPrivilege,
    ChatPrivilege,
    FcdnPrivilege,
    FpaPrivilege,
    PermissionType,
    ResourceType,
    RtcPrivilege,
    ServiceType,
    StreamingPrivilege,
)

from .env import ConfigError, env_int, env_str

__all__ = [
    "DEFAULT_MAX_EXPIRE",
    "PRODUCTION_VARIABLES",
    "VARIABLES",
    "PolicySettings",
    "PolicyViolation",
    "RTC_JOIN",
    "RTC_PUBLISH",
    "ServiceGrant",
    "TokenRequest",
    "TokenSpec",
    "check_channel",
    "check_policy",
    "parse_policy_settings",
]

DEFAULT_MAX_EXPIRE = 86400
MAX_PATTERN_LENGTH = 1024

#: variables that switch the service from drop-in mode to production mode,
#: where MAX_EXPIRE defaults to 86400 instead of no limit
PRODUCTION_VARIABLES = ("AUTH_API_KEYS", "AUTH_API_KEYS_FILE", "AUTH_JWT_SECRET", "AUTH_JWT_PUBLIC_KEY",
                        "AUTH_JWT_PUBLIC_KEY_FILE", "AUTH_JWKS_URL", "RATE_LIMIT", "CHANNEL_PATTERN")
#: the variables :func:`parse_policy_settings` reads as its own (it also looks at :data:`PRODUCTION_VARIABLES`)
VARIABLES = ("MAX_EXPIRE", "CHANNEL_PATTERN")


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


# --------------------------------------------------------------------------- the typed request

Uid = Union[int, str]
Permissions = Mapping[int, Mapping[int, Sequence[str]]]
#: the RTM2 resource types that name channels (the channel rule applies to them)
CHANNEL_RESOURCES = (ResourceType.MESSAGE_CHANNEL, ResourceType.STREAM_CHANNEL, ResourceType.GROUP_CHANNEL)

#: privileges that publish, by service type: a subscriber-only JWT gets none of them
PUBLISH_PRIVILEGES: dict[int, frozenset[int]] = {
    ServiceType.RTC: frozenset((RtcPrivilege.PUBLISH_AUDIO_STREAM, RtcPrivilege.PUBLISH_VIDEO_STREAM,
                                RtcPrivilege.PUBLISH_DATA_STREAM)),
    ServiceType.STREAMING: frozenset(StreamingPrivilege),
    ServiceType.FCDN: frozenset((FcdnPrivilege.PUBLISH,)),
}
#: app-level privileges (a token for no user), by service type; every FPA token is one
APP_PRIVILEGES: dict[int, frozenset[int]] = {
    ServiceType.CHAT: frozenset((ChatPrivilege.APP,)),
    ServiceType.APAAS: frozenset((ApaasPrivilege.APP,)),
    ServiceType.FPA: frozenset(FpaPrivilege),
}
#: RTC privileges as plain ints (the core packs those fastest): a subscriber's (join) and a
#: publisher's (join and publish audio, video and data)
RTC_JOIN = (int(RtcPrivilege.JOIN_CHANNEL),)
RTC_PUBLISH = tuple(map(int, RtcPrivilege))
#: services whose user is a uid: a numeric 0, "" or "0" means any user
UID_SERVICES = frozenset((ServiceType.RTC, ServiceType.RTM, ServiceType.RTM2, ServiceType.STREAMING,
                          ServiceType.FCDN))


class ServiceGrant(NamedTuple):
    """One service a token will carry, with exactly the values it will carry.

    ``privileges``: privilege -> expire (seconds after issue). ``channel``:
    RTC, Streaming and FCDN (None for the others). ``user``: the RTC uid or
    the Streaming / FCDN account (an int is a numeric uid, 0 any user; a str
    goes into the token as it is), the RTM, RTM2 or Chat user id, the APaaS
    user uuid. ``room`` / ``role``: APaaS. ``permissions``: RTM2.
    ``publish_optional``: a subscriber-only caller gets this service without
    its publish privileges instead of a 403 (the stream channel of the
    original routes' RTM tokens). ``checked_as``: a str ``user`` is held to
    Agora's 255-byte limit for user accounts under this name when the token
    is signed, as the library's builders hold it (the original's routes);
    None: it goes into the token as sent (``/token/generate``)."""

    type: int
    privileges: Mapping[int, int]
    channel: Optional[str] = None
    user: Optional[Uid] = None
    room: str = ""
    role: int = -1
    permissions: Optional[Permissions] = None
    publish_optional: bool = False
    checked_as: Optional[str] = None

    def channels(self) -> list[str]:
        """Every channel name this service grants access to: its ``channel``,
        and an RTM2 service's message, stream and group channel resources
        (which the channel rule and the JWT ``channels`` claim hold to the
        same limits; ``*`` and other wildcards included)."""
        names = [] if self.channel is None else [self.channel]
        if self.permissions:
            for rtype in CHANNEL_RESOURCES:
                for resources in self.permissions.get(rtype, {}).values():
                    names.extend(resources)
        return names

    def claimed_places(self) -> list[str]:
        """What a JWT's ``channels`` claim holds this service to: its
        :meth:`channels`, and the room of an APaaS room-user service (a
        classroom is a room of its own, whatever the RTC channel is called)."""
        names = self.channels()
        if self.type == ServiceType.APAAS and ApaasPrivilege.ROOM_USER in self.privileges:
            names.append(self.room)  # an empty room too: no claim pattern lets it through
        return names

    @property
    def publishes(self) -> bool:
        """Whether the token would let its user publish: an RTC, Streaming or
        FCDN publish privilege, or RTM2 ``write`` permission on any resource
        (sending messages to a channel or a user)."""
        if self.permissions and any(perms.get(PermissionType.WRITE) for perms in self.permissions.values()):
            return True
        publish = PUBLISH_PRIVILEGES.get(self.type)
        return publish is not None and not publish.isdisjoint(self.privileges)

    @property
    def app_level(self) -> bool:
        app = APP_PRIVILEGES.get(self.type)
        return app is not None and not app.isdisjoint(self.privileges)

    def without_publish(self) -> "ServiceGrant":
        publish = PUBLISH_PRIVILEGES.get(self.type, frozenset())
        permissions = self.permissions
        if permissions:
            kept = ((rtype, {p: names for p, names in perms.items() if p != PermissionType.WRITE})
                    for rtype, perms in permissions.items())
            permissions = {rtype: perms for rtype, perms in kept if perms}
        return self._replace(privileges={p: e for p, e in self.privileges.items() if p not in publish},
                             permissions=permissions)


class TokenSpec(NamedTuple):
    """One token: its services (in the order they are added), its lifetime
    in seconds, and the key of the answer that carries it (``token``,
    ``rtcToken``, ...)."""

    key: str
    expire: int
    services: tuple[ServiceGrant, ...]


class TokenRequest(NamedTuple):
    """What one request asks for, whatever route it came by: the tokens
    (``/rte/`` asks for two, every other route for one). Every route parses
    its input into one; :meth:`server.issuing.Issuer.admit` checks it and
    :meth:`server.issuing.Issuer.sign` signs it."""

    tokens: tuple[TokenSpec, ...]

    def grants(self) -> Iterator[ServiceGrant]:
        for token in self.tokens:
            yield from token.services

    def for_subscriber(self) -> "TokenRequest":
        """The request with its optional publish privileges removed."""
        if not any(g.publish_optional and g.publishes for g in self.grants()):
            return self
        return TokenRequest(tuple(t._replace(services=tuple(
            g.without_publish() if g.publish_optional else g for g in t.services)) for t in self.tokens))


# --------------------------------------------------------------------------- the policy

@dataclass(frozen=True)
class PolicyViolation:
    """A request the policy or the caller's claims refuse: answer ``status``."""

    status: int
    message: str
    reason: str = "policy"  # short label for metrics (e.g. forbidden_uid)


def check_channel(settings: PolicySettings, channel: str) -> Optional[PolicyViolation]:
    """The one channel rule, for every channel that goes into any token on
    any route for any caller: Agora's 64-byte limit (the library's check: it
    raises :class:`agora_token.InvalidParameterError` with the library's
    message), then ``CHANNEL_PATTERN`` (a 400 :class:`PolicyViolation`)."""
    check_channel_name(channel)
    pattern = settings.channel_pattern
    if pattern is not None and pattern.fullmatch(channel) is None:
        return PolicyViolation(400, "channel name is not allowed by this server's channel "
                                    "pattern (CHANNEL_PATTERN)")
    return None


def check_policy(settings: PolicySettings, req: TokenRequest,
                 default_expire: int) -> Optional[PolicyViolation]:
    """None when ``req`` is within policy, else a 400 :class:`PolicyViolation`:
    every token's lifetime and every privilege's within ``MAX_EXPIRE`` (0 is
    within it), then every channel by :func:`check_channel` (which raises
    :class:`agora_token.InvalidParameterError` for a channel over 64 bytes)."""
    max_expire = settings.max_expire
    if max_expire is not None:
        for token in req.tokens:
            longest = max((e for g in token.services for e in g.privileges.values()), default=0)
            expire = max(token.expire, longest)
            if expire > max_expire:
                hint = (f" (the default, when no expire is given, is {default_expire})"
                        if max_expire < default_expire else "")
                return PolicyViolation(400, f"expire {expire} exceeds the maximum of {max_expire} "
                                            f"seconds (MAX_EXPIRE): ask for at most {max_expire}{hint}")
    for grant in req.grants():
        for channel in grant.channels():
            violation = check_channel(settings, channel)
            if violation is not None:
                return violation
    return None
