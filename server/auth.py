"""Caller authentication (API keys and/or JWTs) and authorisation.

Settings (environment):

``AUTH_API_KEYS``        comma-separated API keys, or
``AUTH_API_KEYS_FILE``   a file with one key per line (blank lines and ``#`` comments ignored).
``AUTH_JWT_SECRET``      HS256 shared secret (at least 32 bytes), or
``AUTH_JWT_PUBLIC_KEY`` / ``AUTH_JWT_PUBLIC_KEY_FILE``  a PEM public key (or certificate):
                         RSA (>= 2048 bits) -> RS256, EC P-256/P-384/P-521 -> ES256/ES384/ES512.
``AUTH_JWT_AUDIENCE``    required ``aud`` (optional; when unset, tokens carrying an ``aud`` are refused).
``AUTH_JWT_ISSUER``      required ``iss`` (optional).
``AUTH_JWT_LEEWAY``      clock-skew allowance in seconds for ``exp``/``nbf``/``iat`` (default 30, max 300).

A caller sends its credential as ``Authorization: Bearer <credential>`` or
``X-API-Key: <key>``. When both API keys and a JWT verifier are configured,
either is accepted: a bearer credential that equals a configured key is an API
key; otherwise, if it has the shape of a JWT, it is verified as one.
``X-API-Key`` only ever carries API keys. Sending both headers is refused (401)
rather than guessing which one counts.

API keys are hashed with SHA-256 at start-up and every presented key is hashed
and compared (``hmac.compare_digest``) against every configured digest, with no
early exit. A key is identified in logs and rate limits only by
``key:<12 hex digits>``, a truncated SHA-256 of a domain-separated hash of the
key (keys are required to be >= 16 characters, so the fingerprint cannot be
brute-forced back into a key).

Authorisation: an API-key holder is trusted for any token (it is a server-side
secret). A JWT caller is limited by its claims: ``sub`` is the only uid / user
account / RTM or chat user id it may get tokens for (a numeric ``sub`` matches
the same numeric uid, ``"7"`` == ``"007"`` for RTC uids only; uid 0, "any user",
needs ``sub`` "0"); ``channels`` (list of exact names or ``fnmatch`` patterns,
case-sensitive) limits the channel; ``role: "subscriber"`` forbids publisher
tokens; chat app tokens (admin tokens for the whole app) are never issued to JWT
callers.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import jwt

from .policy import ConfigError, PolicyViolation, TokenRequest, env_str

__all__ = [
    "AuthError",
    "AuthSettings",
    "Authenticator",
    "Caller",
    "JwtSettings",
    "authorize",
    "key_fingerprint",
    "parse_auth_settings",
]

log = logging.getLogger("server.auth")

MIN_API_KEY_LENGTH = 16
MAX_API_KEY_LENGTH = 512
MAX_API_KEYS = 10000
MAX_CREDENTIAL_LENGTH = 8192
MIN_HS256_SECRET_BYTES = 32
MIN_RSA_BITS = 2048
DEFAULT_LEEWAY = 30
MAX_LEEWAY = 300
MAX_SUB_LENGTH = 255
MAX_CHANNEL_PATTERNS = 256
MAX_CHANNEL_PATTERN_LENGTH = 128
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_SAFE_ID = re.compile(r"[\x21-\x7e]{1,255}")
_EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


# --------------------------------------------------------------------------- callers

@dataclass(frozen=True)
class Caller:
    """Who is asking. ``id`` is safe to log and is the rate-limit key:
    ``key:<fingerprint>``, ``jwt:<sub>`` or ``ip:<address>``."""

    id: str
    kind: str  # "key", "jwt" or "anonymous"
    sub: Optional[str] = None
    channels: Optional[tuple[str, ...]] = None
    role: Optional[str] = None  # "subscriber" forbids publisher tokens

    @property
    def restricted(self) -> bool:
        """True when the caller's claims limit which tokens it may get."""
        return self.kind == "jwt"


def key_fingerprint(key: str) -> str:
    """A short, non-reversible label for an API key (for logs and rate limits)."""
    digest = hashlib.sha256(b"agora-token/api-key-fingerprint\x00" + key.encode("utf-8")).hexdigest()
    return "key:" + digest[:12]


def _key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


# --------------------------------------------------------------------------- settings

@dataclass(frozen=True)
class JwtSettings:
    algorithm: str
    key: Any = field(repr=False)  # the HS256 secret (str) or a cryptography public key
    audience: Optional[str] = None
    issuer: Optional[str] = None
    leeway: int = DEFAULT_LEEWAY

    def describe(self) -> str:
        parts = [self.algorithm]
        if self.audience:
            parts.append(f"aud={self.audience}")
        if self.issuer:
            parts.append(f"iss={self.issuer}")
        return "JWT " + " ".join(parts)


@dataclass(frozen=True)
class AuthSettings:
    """``api_key_digests``: SHA-256 of each configured key (never the keys)."""

    api_key_digests: tuple[bytes, ...] = field(default=(), repr=False)
    jwt: Optional[JwtSettings] = None

    @property
    def enabled(self) -> bool:
        return bool(self.api_key_digests) or self.jwt is not None

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


def _check_key(key: str, variable: str, index: int) -> str:
    where = f"key #{index}"
    if len(key) < MIN_API_KEY_LENGTH:
        raise ConfigError(variable, f"{where} is shorter than {MIN_API_KEY_LENGTH} characters; use long "
                                    "random keys, e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    if len(key) > MAX_API_KEY_LENGTH:
        raise ConfigError(variable, f"{where} is longer than {MAX_API_KEY_LENGTH} characters")
    if not all("\x21" <= ch <= "\x7e" for ch in key) or "," in key:
        raise ConfigError(variable, f"{where} contains a character other than printable ASCII "
                                    "(no spaces or commas)")
    return key


def _read_file(variable: str, path_text: str) -> str:
    path = Path(path_text).expanduser()
    try:
        if path.stat().st_size > 1024 * 1024:
            raise ConfigError(variable, f"{path} is larger than 1 MiB")
        return path.read_text(encoding="utf-8")
    except ConfigError:
        raise
    except FileNotFoundError:
        raise ConfigError(variable, f"file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(variable, f"cannot read {path} ({type(exc).__name__})") from None


def _parse_api_keys(env: Mapping[str, str]) -> tuple[bytes, ...]:
    inline = env_str(env, "AUTH_API_KEYS")
    file_path = env_str(env, "AUTH_API_KEYS_FILE")
    if inline and file_path:
        raise ConfigError("AUTH_API_KEYS_FILE", "set AUTH_API_KEYS or AUTH_API_KEYS_FILE, not both")
    keys: list[str] = []
    if inline:
        for i, item in enumerate(inline.split(","), 1):
            item = item.strip()
            if item:
                keys.append(_check_key(item, "AUTH_API_KEYS", i))
        if not keys:
            raise ConfigError("AUTH_API_KEYS", "contains no key")
    elif file_path:
        n = 0
        for line in _read_file("AUTH_API_KEYS_FILE", file_path).splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            n += 1
            keys.append(_check_key(line, "AUTH_API_KEYS_FILE", n))
        if not keys:
            raise ConfigError("AUTH_API_KEYS_FILE", "contains no key")
    if len(keys) > MAX_API_KEYS:
        raise ConfigError("AUTH_API_KEYS" if inline else "AUTH_API_KEYS_FILE",
                          f"more than {MAX_API_KEYS} keys")
    # de-duplicate, keeping order
    return tuple(dict.fromkeys(_key_digest(k) for k in keys))


def _load_public_key(variable: str, pem: str) -> tuple[str, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    if "\\n" in pem and "\n" not in pem.strip():
        pem = pem.replace("\\n", "\n")  # a PEM squeezed into one env line
    pem = pem.strip()
    if "PRIVATE KEY" in pem:
        raise ConfigError(variable, "is a private key; configure the PUBLIC key (keep the private "
                                    "key with the token issuer)")
    data = pem.encode("ascii", "replace")
    try:
        if "BEGIN CERTIFICATE" in pem:
            key = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = load_pem_public_key(data)
    except Exception:  # noqa: BLE001 - cryptography raises several types
        raise ConfigError(variable, "is not a PEM public key or certificate") from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise ConfigError(variable, f"RSA key has {key.key_size} bits; at least {MIN_RSA_BITS} required")
        return "RS256", key
    if isinstance(key, ec.EllipticCurvePublicKey):
        alg = _EC_ALGORITHMS.get(key.curve.name)
        if alg is None:
            raise ConfigError(variable, f"EC curve {key.curve.name} is not supported "
                                        "(use P-256, P-384 or P-521)")
        return alg, key
    raise ConfigError(variable, f"unsupported key type {type(key).__name__} (use RSA or EC)")


def _parse_jwt(env: Mapping[str, str]) -> Optional[JwtSettings]:
    secret = env.get("AUTH_JWT_SECRET") or ""
    pem_inline = env_str(env, "AUTH_JWT_PUBLIC_KEY")
    pem_file = env_str(env, "AUTH_JWT_PUBLIC_KEY_FILE")
    given = [n for n, v in (("AUTH_JWT_SECRET", secret), ("AUTH_JWT_PUBLIC_KEY", pem_inline),
                            ("AUTH_JWT_PUBLIC_KEY_FILE", pem_file)) if v]
    if len(given) > 1:
        raise ConfigError(given[1], f"set only one of AUTH_JWT_SECRET, AUTH_JWT_PUBLIC_KEY, "
                                    f"AUTH_JWT_PUBLIC_KEY_FILE (found {', '.join(given)})")
    audience = env_str(env, "AUTH_JWT_AUDIENCE") or None
    issuer = env_str(env, "AUTH_JWT_ISSUER") or None
    leeway_raw = env_str(env, "AUTH_JWT_LEEWAY")
    leeway = DEFAULT_LEEWAY
    if leeway_raw:
        if not leeway_raw.isascii() or not leeway_raw.isdigit() or int(leeway_raw) > MAX_LEEWAY:
            raise ConfigError("AUTH_JWT_LEEWAY", f"must be a whole number of seconds, 0..{MAX_LEEWAY}")
        leeway = int(leeway_raw)
    if not given:
        for name, value in (("AUTH_JWT_AUDIENCE", audience), ("AUTH_JWT_ISSUER", issuer),
                            ("AUTH_JWT_LEEWAY", leeway_raw)):
            if value:
                raise ConfigError(name, "is set but no JWT key is (set AUTH_JWT_SECRET, "
                                        "AUTH_JWT_PUBLIC_KEY or AUTH_JWT_PUBLIC_KEY_FILE)")
        return None
    if secret:
        if secret != secret.strip():
            raise ConfigError("AUTH_JWT_SECRET", "has leading or trailing whitespace")
        if len(secret.encode("utf-8")) < MIN_HS256_SECRET_BYTES:
            raise ConfigError("AUTH_JWT_SECRET", f"is shorter than {MIN_HS256_SECRET_BYTES} bytes "
                                                 "(HS256 needs a key at least as long as its hash)")
        return JwtSettings("HS256", secret, audience, issuer, leeway)
    if pem_inline:
        alg, key = _load_public_key("AUTH_JWT_PUBLIC_KEY", pem_inline)
    else:
        alg, key = _load_public_key("AUTH_JWT_PUBLIC_KEY_FILE",
                                    _read_file("AUTH_JWT_PUBLIC_KEY_FILE", pem_file))
    return JwtSettings(alg, key, audience, issuer, leeway)


def parse_auth_settings(env: Mapping[str, str]) -> AuthSettings:
    """Read the AUTH_* variables (raises :class:`ConfigError`)."""
    return AuthSettings(_parse_api_keys(env), _parse_jwt(env))


# --------------------------------------------------------------------------- authentication

class AuthError(Exception):
    """401: ``message`` is safe to send to the client; ``www_authenticate`` is
    the header value to send with it."""

    status = 401

    def __init__(self, message: str, *, invalid_token: bool = True, reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        #: short label for metrics: missing_credentials, invalid_api_key, invalid_jwt, expired_jwt
        self.reason = reason or ("invalid_jwt" if "JWT" in message else
                                 "invalid_api_key" if invalid_token else "missing_credentials")
        self.www_authenticate = 'Bearer error="invalid_token"' if invalid_token else "Bearer"


_ANONYMOUS = Caller(id="anonymous", kind="anonymous")


class Authenticator:
    """Turns request headers into a :class:`Caller` (or raises :class:`AuthError`)."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._digests = settings.api_key_digests
        self._jwt = settings.jwt

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    def authenticate(self, headers: Mapping[str, str]) -> Caller:
        """Authenticate from the request headers. With auth off, everyone is
        the anonymous caller (the rate limiter then keys on the client IP)."""
        if not self.enabled:
            return _ANONYMOUS
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
        credential = (bearer if bearer is not None else api_key) or ""
        credential = credential.strip()
        if not credential:
            raise AuthError("empty credential")
        if len(credential) > MAX_CREDENTIAL_LENGTH:
            raise AuthError("credential too long")
        if self._digests and self._match_key(credential):
            return Caller(id=key_fingerprint(credential), kind="key")
        if bearer is not None and self._jwt is not None and _JWT_SHAPE.fullmatch(credential):
            return self._verify_jwt(credential)
        if api_key is not None or self._jwt is None:
            raise AuthError("invalid API key")
        if not self._digests:
            raise AuthError("invalid JWT")
        raise AuthError("invalid credential (neither a known API key nor a valid JWT)", reason="invalid_api_key")

    def _match_key(self, credential: str) -> bool:
        presented = _key_digest(credential)
        matched = 0
        for digest in self._digests:  # every key, no early exit
            matched |= hmac.compare_digest(digest, presented)
        return bool(matched)

    def _verify_jwt(self, token: str) -> Caller:
        cfg = self._jwt
        assert cfg is not None
        required = ["exp", "sub"]
        if cfg.audience:
            required.append("aud")
        if cfg.issuer:
            required.append("iss")
        try:
            claims = jwt.decode(
                token, cfg.key, algorithms=[cfg.algorithm], audience=cfg.audience, issuer=cfg.issuer,
                leeway=cfg.leeway, options={"require": required, "verify_signature": True},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("JWT has expired", reason="expired_jwt") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("JWT is not valid yet (nbf/iat in the future)") from None
        except jwt.InvalidAudienceError:
            raise AuthError("JWT audience (aud) is not accepted by this server") from None
        except jwt.InvalidIssuerError:
            raise AuthError("JWT issuer (iss) is not accepted by this server") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"JWT is missing the required '{exc.claim}' claim") from None
        except jwt.InvalidAlgorithmError:
            raise AuthError(f"JWT algorithm not accepted (this server accepts only {cfg.algorithm})") from None
        except jwt.InvalidSignatureError:
            raise AuthError("JWT signature is invalid") from None
        except jwt.PyJWTError:
            raise AuthError("invalid JWT") from None
        except Exception:  # noqa: BLE001 - a malformed token must never become a 500
            raise AuthError("invalid JWT") from None
        return _caller_from_claims(claims)


def _caller_from_claims(claims: Mapping[str, Any]) -> Caller:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > MAX_SUB_LENGTH:
        raise AuthError(f"JWT 'sub' must be a non-empty string of at most {MAX_SUB_LENGTH} characters")
    channels_claim = claims.get("channels")
    channels: Optional[tuple[str, ...]] = None
    if channels_claim is not None:
        if (not isinstance(channels_claim, list) or len(channels_claim) > MAX_CHANNEL_PATTERNS
                or not all(isinstance(c, str) and 0 < len(c) <= MAX_CHANNEL_PATTERN_LENGTH
                           for c in channels_claim)):
            raise AuthError(f"JWT 'channels' must be a list of at most {MAX_CHANNEL_PATTERNS} "
                            "non-empty strings")
        channels = tuple(channels_claim)
    role = claims.get("role")
    if role is not None and role not in ("publisher", "subscriber"):
        raise AuthError("JWT 'role' must be \"publisher\" or \"subscriber\"")
    if _SAFE_ID.fullmatch(sub):
        caller_id = "jwt:" + sub
    else:  # keep log lines and rate-limit keys printable
        caller_id = "jwt:~" + hashlib.sha256(sub.encode("utf-8")).hexdigest()[:16]
    return Caller(id=caller_id, kind="jwt", sub=sub, channels=channels,
                  role="subscriber" if role == "subscriber" else None)


# --------------------------------------------------------------------------- authorisation

def _rtc_uid_matches(sub: str, uid: Any) -> bool:
    if isinstance(uid, int):
        if not sub.isascii() or not sub.isdigit():
            return False
        return int(sub) == uid
    return sub == uid


def channel_allowed(patterns: tuple[str, ...], channel: str) -> bool:
    """Exact names or fnmatch patterns (case-sensitive)."""
    return any(p == channel or fnmatch.fnmatchcase(channel, p) for p in patterns)


def authorize(caller: Caller, req: TokenRequest) -> Optional[PolicyViolation]:
    """None when ``caller`` may get the token ``req`` describes, else a 403."""
    if not caller.restricted:
        return None
    sub = caller.sub or ""
    if req.kind == "chat_app":
        return PolicyViolation(403, "chat app tokens are not issued to JWT callers", "forbidden")
    if req.rtc_uid is not None and not _rtc_uid_matches(sub, req.rtc_uid):
        return PolicyViolation(403, "this caller may only get tokens for its own uid (the JWT 'sub')", "forbidden_uid")
    for user in req.user_ids:
        if user != sub:
            return PolicyViolation(403, "this caller may only get tokens for its own user id (the JWT 'sub')", "forbidden_uid")
    if caller.channels is not None and req.channel is not None:
        if not channel_allowed(caller.channels, req.channel):
            return PolicyViolation(403, "this caller may not get tokens for this channel "
                                        "(the JWT 'channels' claim)", "forbidden_channel")
    if req.publisher and caller.role == "subscriber":
        return PolicyViolation(403, "this caller may only get subscriber tokens (the JWT 'role' claim)", "forbidden_role")
    return None
