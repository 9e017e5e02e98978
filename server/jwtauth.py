"""JWT callers: settings (``AUTH_JWT_*``) and verification with PyJWT.

Keys: ``AUTH_JWT_SECRET`` (HS256, at least 32 bytes), or a PEM public key or
certificate (``AUTH_JWT_PUBLIC_KEY`` / ``AUTH_JWT_PUBLIC_KEY_FILE``: RSA of at
least 2048 bits -> RS256; EC P-256/384/521 -> ES256/384/512), or an identity
provider's key set (``AUTH_JWKS_URL``, see :mod:`server.jwks`). Exactly one
algorithm family is accepted per key, never ``none`` and never HS* with a
public key. ``exp`` and ``sub`` are required; ``AUTH_JWT_AUDIENCE`` /
``AUTH_JWT_ISSUER`` make ``aud`` / ``iss`` required and checked;
``AUTH_JWT_LEEWAY`` (default 30 s, at most 300) allows for clock skew.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from .env import ConfigError, env_flag, env_int, env_seconds, env_str, read_small_file
from .jwks import DEFAULT_MAX_STALE, DEFAULT_MIN_REFRESH, DEFAULT_TIMEOUT, DEFAULT_TTL, JwksKeys, check_jwks_url
from .jwtbase import MIN_RSA_BITS, JwtError

__all__ = ["JwtError", "JwtSettings", "JwtVerifier", "VARIABLES", "parse_jwt_settings", "JWT_SHAPE"]

MIN_HS256_SECRET_BYTES = 32
DEFAULT_LEEWAY = 30
MAX_LEEWAY = 300
EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
JWKS_VARIABLES = ("AUTH_JWKS_CACHE_TTL", "AUTH_JWKS_TIMEOUT", "AUTH_JWKS_MIN_REFRESH", "AUTH_JWKS_MAX_STALE")
#: the variables :func:`parse_jwt_settings` reads
VARIABLES = ("AUTH_JWT_SECRET", "AUTH_JWT_PUBLIC_KEY", "AUTH_JWT_PUBLIC_KEY_FILE", "AUTH_JWKS_URL", "AUTH_JWT_AUDIENCE",
             "AUTH_JWT_ISSUER", "AUTH_JWT_LEEWAY", "AUTH_JWT_ALLOW_ANY_UID", *JWKS_VARIABLES)
#: the longest AUTH_JWKS_MAX_STALE: 30 days
MAX_JWKS_STALE = 30 * 86400
#: the compact serialisation: three base64url parts
JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class JwtSettings:
    """``algorithm``/``key`` for a fixed key, or ``jwks_url`` for a key set."""

    algorithm: str = ""
    key: Any = field(default=None, repr=False)  # the HS256 secret (str) or a public key
    jwks_url: Optional[str] = None
    audience: Optional[str] = None
    issuer: Optional[str] = None
    leeway: int = DEFAULT_LEEWAY
    #: a ``sub`` of "0" may get tokens for uid 0 ("any user"): AUTH_JWT_ALLOW_ANY_UID
    allow_any_uid: bool = False
    #: AUTH_JWKS_CACHE_TTL, AUTH_JWKS_TIMEOUT, AUTH_JWKS_MIN_REFRESH, AUTH_JWKS_MAX_STALE (seconds)
    jwks_ttl: float = DEFAULT_TTL
    jwks_timeout: float = DEFAULT_TIMEOUT
    jwks_min_refresh: float = DEFAULT_MIN_REFRESH
    jwks_max_stale: float = DEFAULT_MAX_STALE

    @property
    def secret(self) -> Optional[str]:
        return self.key if self.algorithm == "HS256" else None

    def describe(self) -> str:
        parts = [f"JWKS {self.jwks_url}" if self.jwks_url else self.algorithm]
        if self.audience:
            parts.append(f"aud={self.audience}")
        if self.issuer:
            parts.append(f"iss={self.issuer}")
        return "JWT " + " ".join(parts)


def load_public_key(variable: str, pem: str) -> tuple[str, Any]:
    """(algorithm, key) for a PEM public key or certificate."""
    if "\\n" in pem and "\n" not in pem.strip():
        pem = pem.replace("\\n", "\n")  # a PEM squeezed into one env line
    pem = pem.strip()
    if "PRIVATE KEY" in pem:
        raise ConfigError(variable, "is a private key; configure the PUBLIC key (keep the private "
                                    "key with the token issuer)")
    data = pem.encode("ascii", "replace")
    key: Any
    try:
        if "BEGIN CERTIFICATE" in pem:
            key = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = load_pem_public_key(data)
    except Exception:  # noqa: BLE001 - cryptography raises several types
        raise ConfigError(variable, "is not a PEM public key or certificate") from None
    return algorithm_for_key(variable, key), key


def algorithm_for_key(variable: str, key: Any) -> str:
    """The one algorithm accepted with a public key (raises :class:`ConfigError`)."""
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise ConfigError(variable, f"RSA key has {key.key_size} bits; at least {MIN_RSA_BITS} required")
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey):
        alg = EC_ALGORITHMS.get(key.curve.name)
        if alg is None:
            raise ConfigError(variable, f"EC curve {key.curve.name} is not supported (use P-256, P-384 or P-521)")
        return alg
    raise ConfigError(variable, f"unsupported key type {type(key).__name__} (use RSA or EC)")


def parse_jwt_settings(env: Mapping[str, str]) -> Optional[JwtSettings]:
    """Read the AUTH_JWT_* / AUTH_JWKS_URL variables (None: no JWT callers)."""
    secret = env.get("AUTH_JWT_SECRET") or ""
    pem_inline = env_str(env, "AUTH_JWT_PUBLIC_KEY")
    pem_file = env_str(env, "AUTH_JWT_PUBLIC_KEY_FILE")
    jwks_url = env_str(env, "AUTH_JWKS_URL")
    given = [n for n, v in (("AUTH_JWT_SECRET", secret), ("AUTH_JWT_PUBLIC_KEY", pem_inline),
                            ("AUTH_JWT_PUBLIC_KEY_FILE", pem_file), ("AUTH_JWKS_URL", jwks_url)) if v]
    if len(given) > 1:
        raise ConfigError(given[1], "set only one of AUTH_JWT_SECRET, AUTH_JWT_PUBLIC_KEY, "
                                    f"AUTH_JWT_PUBLIC_KEY_FILE, AUTH_JWKS_URL (found {', '.join(given)})")
    audience = env_str(env, "AUTH_JWT_AUDIENCE") or None
    issuer = env_str(env, "AUTH_JWT_ISSUER") or None
    leeway = env_int(env, "AUTH_JWT_LEEWAY", DEFAULT_LEEWAY, 0, MAX_LEEWAY, "seconds")
    allow_any_uid = env_flag(env, "AUTH_JWT_ALLOW_ANY_UID")
    if not given:
        for name in ("AUTH_JWT_AUDIENCE", "AUTH_JWT_ISSUER", "AUTH_JWT_LEEWAY", "AUTH_JWT_ALLOW_ANY_UID",
                     *JWKS_VARIABLES):
            if env_str(env, name):
                raise ConfigError(name, "is set but no JWT key is (set AUTH_JWT_SECRET, AUTH_JWT_PUBLIC_KEY, "
                                        "AUTH_JWT_PUBLIC_KEY_FILE or AUTH_JWKS_URL)")
        return None
    if not jwks_url:
        for name in JWKS_VARIABLES:
            if env_str(env, name):
                raise ConfigError(name, "is set but AUTH_JWKS_URL is not")
    if secret:
        if secret != secret.strip():
            raise ConfigError("AUTH_JWT_SECRET", "has leading or trailing whitespace")
        if len(secret.encode("utf-8")) < MIN_HS256_SECRET_BYTES:
            raise ConfigError("AUTH_JWT_SECRET", f"is shorter than {MIN_HS256_SECRET_BYTES} bytes "
                                                 "(HS256 needs a key at least as long as its hash)")
        return JwtSettings("HS256", secret, None, audience, issuer, leeway, allow_any_uid)
    if jwks_url:
        ttl = env_seconds(env, "AUTH_JWKS_CACHE_TTL", DEFAULT_TTL, 1, 86400)
        max_stale = env_seconds(env, "AUTH_JWKS_MAX_STALE", DEFAULT_MAX_STALE, 1, MAX_JWKS_STALE)
        if max_stale < ttl:
            raise ConfigError("AUTH_JWKS_MAX_STALE", f"must be at least AUTH_JWKS_CACHE_TTL ({ttl:g} s)")
        return JwtSettings(
            "", None, check_jwks_url(jwks_url), audience, issuer, leeway, allow_any_uid,
            jwks_ttl=ttl, jwks_timeout=env_seconds(env, "AUTH_JWKS_TIMEOUT", DEFAULT_TIMEOUT, 0.1, 60),
            jwks_min_refresh=env_seconds(env, "AUTH_JWKS_MIN_REFRESH", DEFAULT_MIN_REFRESH, 0, 3600),
            jwks_max_stale=max_stale)
    if pem_inline:
        alg, key = load_public_key("AUTH_JWT_PUBLIC_KEY", pem_inline)
    else:
        alg, key = load_public_key("AUTH_JWT_PUBLIC_KEY_FILE", read_small_file("AUTH_JWT_PUBLIC_KEY_FILE", pem_file))
    return JwtSettings(alg, key, None, audience, issuer, leeway, allow_any_uid)


class JwtVerifier:
    """Verifies a JWT's signature and claims; returns the claims."""

    def __init__(self, settings: JwtSettings) -> None:
        self.settings = settings
        required = ["exp", "sub"]
        if settings.audience:
            required.append("aud")
        if settings.issuer:
            required.append("iss")
        self._options: Any = {"require": required, "verify_signature": True}
        self._keys: Optional[JwksKeys] = None
        if settings.jwks_url:
            self._keys = JwksKeys(settings.jwks_url, ttl=settings.jwks_ttl, timeout=settings.jwks_timeout,
                                  min_refresh=settings.jwks_min_refresh, max_stale=settings.jwks_max_stale)

    @property
    def keys(self) -> Optional[JwksKeys]:
        """The :class:`server.jwks.JwksKeys` of an ``AUTH_JWKS_URL`` (else None)."""
        return self._keys

    async def verify(self, token: str) -> Mapping[str, Any]:
        cfg = self.settings
        if self._keys is not None:
            algorithm, key = await self._keys.key_for(token)
        else:
            algorithm, key = cfg.algorithm, cfg.key
        try:
            return jwt.decode(token, key, algorithms=[algorithm], audience=cfg.audience, issuer=cfg.issuer,
                              leeway=cfg.leeway, options=self._options)
        except jwt.ExpiredSignatureError:
            raise JwtError("JWT has expired", "expired_jwt") from None
        except jwt.ImmatureSignatureError:
            raise JwtError("JWT is not valid yet (nbf/iat in the future)") from None
        except jwt.InvalidAudienceError:
            raise JwtError("JWT audience (aud) is not accepted by this server") from None
        except jwt.InvalidIssuerError:
            raise JwtError("JWT issuer (iss) is not accepted by this server") from None
        except jwt.MissingRequiredClaimError as exc:
            raise JwtError(f"JWT is missing the required '{exc.claim}' claim") from None
        except jwt.InvalidAlgorithmError:
            raise JwtError(f"JWT algorithm not accepted (this server accepts only {algorithm})") from None
        except jwt.InvalidSignatureError:
            raise JwtError("JWT signature is invalid") from None
        except jwt.PyJWTError:
            raise JwtError("invalid JWT") from None
        except Exception:  # noqa: BLE001 - a malformed token must never become a 500
            raise JwtError("invalid JWT") from None
