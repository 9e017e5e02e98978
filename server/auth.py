"""Who is asking (authentication) and what they may get (authorisation).

A caller sends ``Authorization: Bearer <credential>`` or ``X-API-Key: <key>``
(both at once is refused). API keys come from ``AUTH_API_KEYS`` (comma
separated) or ``AUTH_API_KEYS_FILE`` (one per line, ``#`` comments); JWTs are
verified by :mod:`server.jwtauth`. A bearer credential equal to a configured
key is an API key; otherwise, if shaped like a JWT, it is verified as one.

Keys are kept only as SHA-256 digests; a presented key is hashed and compared
with ``hmac.compare_digest`` against every digest, with no early exit. Logs
and rate limits know a key only as ``key:<12 hex digits>`` of a
domain-separated hash (keys are at least 16 characters, so it cannot be
brute-forced back).

Authorisation: an API-key holder may get any token (it is a server-side
secret). A JWT caller is limited by its claims: ``sub`` is the only uid, user
account, RTM or chat user id it may get tokens for (a numeric uid matches
only its canonical decimal ``sub``: ``"7"`` for uid 7, never ``"07"``; uid 0,
"any user", is never granted from a ``sub`` unless ``AUTH_JWT_ALLOW_ANY_UID``
is on, and then only to ``sub`` ``"0"``; a uid sent as text, as on
``/token/generate``, must equal ``sub`` as written, and ``""`` or ``"0"`` is
any user); ``channels`` (exact names or ``fnmatch`` patterns) limits the
channel; ``role: "subscriber"`` forbids every publish privilege (see
:mod:`server.issuing`); app-level tokens (Chat app, APaaS app, FPA) are never
issued to JWT callers.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional
from urllib.parse import quote

from agora_token.constants import ServiceType

from .env import MIN_SECRET_LENGTH, ConfigError, check_secret_text, env_str, read_small_file
from .errors import AuthError
from .jwtauth import JWT_SHAPE, JwtSettings, JwtVerifier, parse_jwt_settings
from .policy import UID_SERVICES, PolicyViolation, ServiceGrant, TokenRequest

__all__ = [
    "AuthError",
    "AuthSettings",
    "Authenticator",
    "Caller",
    "MIN_SECRET_LENGTH",
    "SUBSCRIBER_ONLY",
    "authorize",
    "check_secret_text",
    "key_fingerprint",
    "VARIABLES",
    "parse_auth_settings",
]

#: the variables :func:`parse_auth_settings` reads as its own (the JWT ones: :data:`server.jwtauth.VARIABLES`)
VARIABLES = ("AUTH_API_KEYS", "AUTH_API_KEYS_FILE")
MAX_API_KEYS = 10000
MAX_CREDENTIAL_LENGTH = 8192
MAX_SUB_LENGTH = 255
MAX_CHANNEL_PATTERNS = 256
MAX_CHANNEL_PATTERN_LENGTH = 128
#: characters kept as they are in a caller id (everything else is %-encoded)
_ID_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "%\"\\")


# --------------------------------------------------------------------------- callers

@dataclass(frozen=True)
class Caller:
    """Who is asking. ``id`` is safe to log and is the rate-limit key:
    ``key:<fingerprint>`` or ``jwt:<sub, %-encoded>``; ``anonymous`` when
    authentication is off."""

    id: str
    kind: str  # "key", "jwt" or "anonymous"
    sub: Optional[str] = None
    channels: Optional[tuple[str, ...]] = None
    subscriber_only: bool = False

    @property
    def restricted(self) -> bool:
        """True when the caller's claims limit which tokens it may get."""
        return self.kind == "jwt"


ANONYMOUS = Caller(id="anonymous", kind="anonymous")


def key_fingerprint(key: str) -> str:
    """A short, non-reversible label for an API key (for logs and rate limits)."""
    digest = hashlib.sha256(b"agora-token/api-key-fingerprint\x00" + key.encode("utf-8")).hexdigest()
    return "key:" + digest[:12]


def jwt_caller_id(sub: str) -> str:
    """``jwt:`` + the ``sub`` with ``%``, quotes, backslashes, spaces and
    non-printable characters %-encoded: printable, and injective (two different
    subs never share an id, so never a rate-limit bucket or a log identity)."""
    return "jwt:" + quote(sub, safe=_ID_SAFE)


def _key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


# --------------------------------------------------------------------------- settings

@dataclass(frozen=True)
class AuthSettings:
    """``api_key_digests``: SHA-256 of each configured key; ``api_keys``: the
    keys themselves, kept only so that logs can mask them."""

    api_key_digests: tuple[bytes, ...] = field(default=(), repr=False)
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    jwt: Optional[JwtSettings] = None

    @property
    def enabled(self) -> bool:
        return bool(self.api_key_digests) or self.jwt is not None

    @property
    def secrets(self) -> tuple[str, ...]:
        jwt_secret = self.jwt.secret if self.jwt is not None else None
        return (*self.api_keys, *((jwt_secret,) if jwt_secret else ()))

    def describe(self) -> str:
        """A one-line summary safe to log (counts and algorithms, no secrets)."""
        if not self.enabled:
            return "off"
        parts = []
        if self.api_key_digests:
            n = len(self.api_key_digests)
            parts.append(f"{n} API key{'s' if n != 1 else ''}")
        if self.jwt is not None:
            parts.append(self.jwt.describe())
        return " + ".join(parts)


def _parse_api_keys(env: Mapping[str, str]) -> tuple[str, ...]:
    inline = env_str(env, "AUTH_API_KEYS")
    file_path = env_str(env, "AUTH_API_KEYS_FILE")
    if inline and file_path:
        raise ConfigError("AUTH_API_KEYS_FILE", "set AUTH_API_KEYS or AUTH_API_KEYS_FILE, not both")
    variable = "AUTH_API_KEYS" if inline else "AUTH_API_KEYS_FILE"
    if inline:
        items = [item.strip() for item in inline.split(",")]
    elif file_path:
        items = [line.strip() for line in read_small_file(variable, file_path).splitlines()]
        items = [line for line in items if not line.startswith("#")]
    else:
        return ()
    keys = [check_secret_text(item, variable, f"key #{i}")
            for i, item in enumerate((it for it in items if it), 1)]
    if not keys:
        raise ConfigError(variable, "contains no key")
    if len(keys) > MAX_API_KEYS:
        raise ConfigError(variable, f"more than {MAX_API_KEYS} keys")
    return tuple(dict.fromkeys(keys))


def parse_auth_settings(env: Mapping[str, str]) -> AuthSettings:
    """Read the AUTH_* variables (raises :class:`ConfigError`)."""
    keys = _parse_api_keys(env)
    return AuthSettings(tuple(_key_digest(k) for k in keys), keys, parse_jwt_settings(env))


# --------------------------------------------------------------------------- authentication

class Authenticator:
    """Turns request headers into a :class:`Caller` (or raises :class:`AuthError`)."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self.enabled = settings.enabled
        self._digests = settings.api_key_digests
        #: digest -> the caller of that key, made once
        self._key_callers = {digest: Caller(id=key_fingerprint(key), kind="key")
                             for digest, key in zip(settings.api_key_digests, settings.api_keys)}
        self.jwt = JwtVerifier(settings.jwt) if settings.jwt is not None else None

    async def authenticate(self, headers: Mapping[str, str]) -> Caller:
        if not self.enabled:
            return ANONYMOUS
        credential, bearer = self._credential(headers)
        if self._digests:
            digest = self._match_key(credential)
            if digest is not None:
                return self._key_callers[digest]
        if bearer and self.jwt is not None and JWT_SHAPE.fullmatch(credential):
            claims = await self.jwt.verify(credential)  # or JwtError, an AuthError
            return caller_from_claims(claims)
        if not bearer or self.jwt is None:
            raise AuthError("invalid API key")
        if not self._digests:
            raise AuthError("invalid JWT", reason="invalid_jwt")
        raise AuthError("invalid credential (neither a known API key nor a valid JWT)")

    @staticmethod
    def _credential(headers: Mapping[str, str]) -> tuple[str, bool]:
        """(credential, sent as a bearer credential)."""
        authorization = headers.get("Authorization")
        api_key = headers.get("X-API-Key")
        bearer: Optional[str] = None
        if authorization is not None:
            scheme, _, rest = authorization.strip().partition(" ")
            if scheme.lower() == "bearer":
                bearer = rest.strip()
                if not bearer:
                    raise AuthError("the Authorization header has no bearer credential")
            elif api_key is None:
                raise AuthError("unsupported Authorization scheme: send 'Authorization: Bearer <credential>' "
                                "or 'X-API-Key: <key>'")
        if bearer is not None and api_key is not None:
            raise AuthError("send either 'Authorization: Bearer' or 'X-API-Key', not both")
        if bearer is None and api_key is None:
            raise AuthError("authentication required: send 'Authorization: Bearer <credential>' "
                            "or 'X-API-Key: <key>'", invalid_token=False)
        credential = (bearer if bearer is not None else api_key or "").strip()
        if not credential:
            raise AuthError("empty credential")
        if len(credential) > MAX_CREDENTIAL_LENGTH:
            raise AuthError("credential too long")
        return credential, bearer is not None

    def _match_key(self, credential: str) -> Optional[bytes]:
        """The digest of the configured key ``credential`` is, else None;
        compared with every key, no early exit."""
        presented = _key_digest(credential)
        found = None
        for digest in self._digests:
            if hmac.compare_digest(digest, presented):
                found = digest
        return found


def caller_from_claims(claims: Mapping[str, Any]) -> Caller:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > MAX_SUB_LENGTH:
        raise AuthError(f"JWT 'sub' must be a non-empty string of at most {MAX_SUB_LENGTH} characters",
                        reason="invalid_jwt")
    channels_claim = claims.get("channels")
    channels: Optional[tuple[str, ...]] = None
    if channels_claim is not None:
        if (not isinstance(channels_claim, list) or len(channels_claim) > MAX_CHANNEL_PATTERNS
                or not all(isinstance(c, str) and 0 < len(c) <= MAX_CHANNEL_PATTERN_LENGTH
                           for c in channels_claim)):
            raise AuthError(f"JWT 'channels' must be a list of at most {MAX_CHANNEL_PATTERNS} "
                            "non-empty strings", reason="invalid_jwt")
        channels = tuple(channels_claim)
    role = claims.get("role")
    if role is not None and role not in ("publisher", "subscriber"):
        raise AuthError("JWT 'role' must be \"publisher\" or \"subscriber\"", reason="invalid_jwt")
    return Caller(id=jwt_caller_id(sub), kind="jwt", sub=sub, channels=channels,
                  subscriber_only=role == "subscriber")


# --------------------------------------------------------------------------- authorisation

def channel_allowed(patterns: tuple[str, ...], channel: str) -> bool:
    """Exact names or fnmatch patterns (case-sensitive)."""
    return any(p == channel or fnmatch.fnmatchcase(channel, p) for p in patterns)


#: the refusal of a publish privilege or RTM2 write permission to a ``role: subscriber`` JWT
SUBSCRIBER_ONLY = ("this caller may only get subscriber tokens (the JWT 'role' claim): no publish privilege "
                   "and no RTM2 write permission")
_ANY_USER = ("uid 0 (any user) is not granted to JWT callers "
             "(AUTH_JWT_ALLOW_ANY_UID lets a 'sub' of \"0\" have it)")
_OWN_UID_SERVICES = frozenset((ServiceType.RTC, ServiceType.STREAMING, ServiceType.FCDN))


def _user_violation(grant: ServiceGrant, sub: str, allow_any_uid: bool) -> Optional[PolicyViolation]:
    """A uid (RTC, RTM, RTM2, Streaming, FCDN) matches only ``sub`` as written
    (a numeric uid: its canonical decimal form); 0, "" and "0" mean any user.
    A Chat or APaaS user id must equal ``sub``."""
    user = grant.user
    if user is None:
        return None
    if grant.type in UID_SERVICES and (user == 0 and type(user) is int or user == "" or user == "0"):
        if allow_any_uid and sub == "0":
            return None
        return PolicyViolation(403, _ANY_USER, "forbidden_uid")
    if (str(user) if type(user) is int else user) != sub:
        what = "uid" if grant.type in _OWN_UID_SERVICES else "user id"
        return PolicyViolation(403, f"this caller may only get tokens for its own {what} (the JWT 'sub')",
                               "forbidden_uid")
    return None


#: what an app-level service is called in a refusal
_APP_LEVEL: dict[int, str] = {ServiceType.CHAT: "chat app", ServiceType.APAAS: "APaaS app", ServiceType.FPA: "FPA"}


def authorize(caller: Caller, req: TokenRequest, allow_any_uid: bool = False) -> Optional[PolicyViolation]:
    """None when ``caller`` may get every token ``req`` asks for, else a 403.
    Each token in turn: app-level services, then the uid / user ids, the
    channels, the publish privileges. Publish privileges a grant marks
    optional are not refused here: the issuer removes them for a
    subscriber-only caller."""
    if not caller.restricted:
        return None
    sub = caller.sub or ""
    for token in req.tokens:
        grants = token.services
        for grant in grants:
            if grant.app_level:
                return PolicyViolation(403, f"{_APP_LEVEL[grant.type]} tokens are not issued to JWT callers",
                                       "forbidden")
        for grant in grants:
            violation = _user_violation(grant, sub, allow_any_uid)
            if violation is not None:
                return violation
        if caller.channels is not None:
            for grant in grants:
                if not all(channel_allowed(caller.channels, c) for c in grant.claimed_places()):
                    return PolicyViolation(403, "this caller may not get tokens for this channel "
                                                "(the JWT 'channels' claim)", "forbidden_channel")
        if caller.subscriber_only and any(g.publishes and not g.publish_optional for g in grants):
            return PolicyViolation(403, SUBSCRIBER_ONLY, "forbidden_role")
    return None
