"""JWT signing keys from an identity provider's JWKS endpoint
(``AUTH_JWKS_URL``: Auth0, Okta, Keycloak, Cognito, Firebase, Entra ID...).

* The key set is fetched with aiohttp (never a blocking call on the event
  loop), at most ``AUTH_JWKS_TIMEOUT`` seconds (default 5), and cached for
  ``AUTH_JWKS_CACHE_TTL`` seconds (default 300); an expired set is still used
  while a fresh one is fetched in the background, so a slow provider never
  delays requests.
* A token whose ``kid`` is not in the set triggers one refetch (key
  rotation works without a restart), at most once per
  ``AUTH_JWKS_MIN_REFRESH`` seconds (default 30), and concurrent requests
  share that one fetch: a flood of random ``kid`` values cannot hammer the
  provider.
* Keys are parsed with PyJWT's ``PyJWKSet``. Only asymmetric keys are kept
  (RSA of at least 2048 bits, EC, Ed25519) and each key's algorithm is pinned
  from the key itself (its ``alg``, or its type and curve): a token must use
  exactly that algorithm, so never ``none`` and never HS* with a public key.
* The URL must be ``https``; plain ``http`` only to a loopback address
  (tests, a local sidecar).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from typing import Any, Optional
from urllib.parse import urlsplit

import jwt

from .env import ConfigError
from .jwtauth import MIN_RSA_BITS, JwtError
from .logs import LogThrottle

__all__ = ["JwksKeys", "check_jwks_url"]

log = logging.getLogger("server.jwks")

DEFAULT_TTL = 300.0
DEFAULT_TIMEOUT = 5.0
DEFAULT_MIN_REFRESH = 30.0
MAX_JWKS_BYTES = 256 * 1024
#: key type -> algorithms a key of that type may be pinned to
_FAMILIES = {
    "RSA": frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}),
    "EC": frozenset({"ES256", "ES384", "ES512"}),
    "OKP": frozenset({"EdDSA"}),
}
_THROTTLE = LogThrottle(limit=1, interval=60.0)


def check_jwks_url(url: str) -> str:
    """``AUTH_JWKS_URL``: https, or http to a loopback address (raises :class:`ConfigError`)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname:
        try:
            loopback = ipaddress.ip_address(parts.hostname).is_loopback
        except ValueError:
            loopback = parts.hostname == "localhost"
        if loopback:
            return url
        raise ConfigError("AUTH_JWKS_URL", "must use https (plain http is accepted only for a loopback address)")
    raise ConfigError("AUTH_JWKS_URL", "must be an https:// URL of the identity provider's JWKS document")


def _usable(jwk: Any) -> Optional[tuple[str, Any]]:
    """(pinned algorithm, key) of a PyJWK we accept, else None."""
    algorithm = jwk.algorithm_name
    if algorithm not in _FAMILIES.get(jwk.key_type, ()):
        return None  # symmetric ("oct"), "none", or an alg that does not fit the key type
    if getattr(jwk, "public_key_use", None) not in (None, "sig"):
        return None
    key = jwk.key
    if jwk.key_type == "RSA" and getattr(key, "key_size", 0) < MIN_RSA_BITS:
        return None
    return algorithm, key


class JwksKeys:
    """The cached key set of one JWKS URL."""

    def __init__(self, url: str, *, ttl: float = DEFAULT_TTL, timeout: float = DEFAULT_TIMEOUT,
                 min_refresh: float = DEFAULT_MIN_REFRESH) -> None:
        self.url = url
        self.ttl = ttl
        self.timeout = timeout
        self.min_refresh = min_refresh
        self.keys: dict[Optional[str], tuple[str, Any]] = {}
        self.fetched_at = -1e18  # monotonic time of the last successful fetch
        self.attempted_at = -1e18  # ... of the last attempt
        self.fetches = 0  # attempts, for tests and /healthz
        self.last_error: Optional[str] = None
        self._inflight: Optional["asyncio.Future[None]"] = None
        self._session: Any = None

    # ------------------------------------------------------------------ state

    def state(self) -> str:
        """``ok``, ``stale`` (older than the TTL, or the last fetch failed) or ``unavailable``."""
        if not self.keys:
            return "unavailable"
        if self.last_error is not None or time.monotonic() - self.fetched_at > self.ttl:
            return "stale"
        return "ok"

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------------ fetching

    async def _fetch(self) -> None:
        import aiohttp

        self.attempted_at = time.monotonic()
        self.fetches += 1
        try:
            if self._session is None:
                self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
            async with self._session.get(self.url, allow_redirects=False,
                                         headers={"Accept": "application/json"}) as resp:
                if resp.status != 200:
                    raise ValueError(f"HTTP {resp.status}")
                body = await resp.content.read(MAX_JWKS_BYTES + 1)
                if len(body) > MAX_JWKS_BYTES:
                    raise ValueError(f"document larger than {MAX_JWKS_BYTES // 1024} KiB")
            import json

            jwks = jwt.PyJWKSet.from_dict(json.loads(body))
            keys: dict[Optional[str], tuple[str, Any]] = {}
            for jwk in jwks.keys:
                usable = _usable(jwk)
                if usable is not None:
                    keys[jwk.key_id] = usable
            if not keys:
                raise ValueError("no usable signing key (RSA >= 2048 bits, EC or Ed25519)")
        except Exception as exc:  # noqa: BLE001 - network, JSON, PyJWT: all mean "no new keys"
            self.last_error = f"{type(exc).__name__}: {exc}"[:200]
            dropped = _THROTTLE.allow()
            if dropped is not None:
                log.error("cannot fetch the JWKS from %s (%s)%s", self.url, self.last_error,
                          f"; {dropped} more failures not logged" if dropped else "")
            return
        self.keys = keys
        self.fetched_at = time.monotonic()
        self.last_error = None

    def _start_fetch(self) -> "asyncio.Future[None]":
        """The fetch under way, started if there is none."""
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._fetch())
            self._inflight.add_done_callback(self._fetch_done)
        return self._inflight

    async def refresh(self) -> None:
        """Fetch now, sharing a fetch already under way."""
        await asyncio.shield(self._start_fetch())

    def _fetch_done(self, _future: "asyncio.Future[None]") -> None:
        self._inflight = None

    # ------------------------------------------------------------------ keys

    async def key_for(self, token: str) -> tuple[str, Any]:
        """The pinned (algorithm, key) for ``token``'s ``kid``; raises
        :class:`server.jwtauth.JwtError`."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise JwtError("invalid JWT") from None
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise JwtError("invalid JWT ('kid' must be a string)")
        now = time.monotonic()
        if not self.keys:
            if now - self.attempted_at >= self.min_refresh or self.fetches == 0:
                await self.refresh()
            if not self.keys:
                raise JwtError("cannot verify JWTs now: the identity provider's keys are unavailable",
                               "jwks_unavailable")
        elif now - self.fetched_at > self.ttl:
            self._start_fetch()  # refresh in the background
        found = self._lookup(kid)
        if found is None and time.monotonic() - self.attempted_at >= self.min_refresh:
            await self.refresh()  # maybe the provider rotated its keys
            found = self._lookup(kid)
        if found is None:
            raise JwtError("JWT key id (kid) is not in the identity provider's key set")
        algorithm = found[0]
        if header.get("alg") != algorithm:
            raise JwtError(f"JWT algorithm not accepted (this key is {algorithm})")
        return found

    def _lookup(self, kid: Optional[str]) -> Optional[tuple[str, Any]]:
        if kid is None:
            return next(iter(self.keys.values())) if len(self.keys) == 1 else None
        return self.keys.get(kid)
