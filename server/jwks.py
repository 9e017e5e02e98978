"""JWT signing keys from an identity provider's JWKS endpoint
(``AUTH_JWKS_URL``: Auth0, Okta, Keycloak, Cognito, Firebase, Entra ID...).

* The key set is fetched with aiohttp (never a blocking call on the event
  loop), at most ``AUTH_JWKS_TIMEOUT`` seconds (default 5), and cached for
  ``AUTH_JWKS_CACHE_TTL`` seconds (default 300); an expired set is still used
  while a fresh one is fetched in the background, so a slow provider never
  delays requests.
* A token whose ``kid`` is not in the set triggers a refetch (key rotation
  works without a restart).
* Every refetch, for an expired set or an unknown ``kid``, is single-flight
  (concurrent requests share one fetch) and starts at most once per
  ``AUTH_JWKS_MIN_REFRESH`` seconds (default 30), whatever the traffic; while
  the provider fails, the wait grows: ``max(MIN_REFRESH, 1 s)`` doubled per
  failure in a row, capped at :data:`MAX_BACKOFF` (5 min, or MIN_REFRESH if
  longer), each wait drawn at random between its half and its whole (never
  below MIN_REFRESH), so replicas do not retry in step. A token that fails
  the checks made before any key is looked up (a JWT header that does not
  parse, an algorithm other than RS*/PS*/ES*/EdDSA, a ``kid`` that is not a
  short string, no signature) never starts a fetch: forged JWTs cannot raise
  the fetch rate.
* The last good set keeps serving while the provider fails, for up to
  ``AUTH_JWKS_MAX_STALE`` seconds (default 86400) after it was fetched; after
  that JWT callers get ``503`` and :meth:`JwksKeys.state` says
  ``unavailable`` (``/healthz``, ``/readyz``) until a fetch succeeds.
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
import json
import logging
import random
import time
from typing import Any, Optional
from urllib.parse import urlsplit

import aiohttp
import jwt

from . import tracing
from .env import ConfigError
from .jwtbase import MIN_RSA_BITS, JwtError
from .logs import LogThrottle

__all__ = ["JwksKeys", "check_jwks_url"]

log = logging.getLogger("server.jwks")

DEFAULT_TTL = 300.0
DEFAULT_TIMEOUT = 5.0
DEFAULT_MIN_REFRESH = 30.0
DEFAULT_MAX_STALE = 86400.0
#: the first wait after a failed fetch (unless MIN_REFRESH is longer), doubled per failure...
BACKOFF_BASE = 1.0
#: ... up to this (unless MIN_REFRESH is longer)
MAX_BACKOFF = 300.0
MAX_JWKS_BYTES = 256 * 1024
#: longest ``kid`` looked up (longer: refused before any fetch)
MAX_KID_LENGTH = 256
#: key type -> algorithms a key of that type may be pinned to
_FAMILIES = {
    "RSA": frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}),
    "EC": frozenset({"ES256", "ES384", "ES512"}),
    "OKP": frozenset({"EdDSA"}),
}
#: every algorithm a JWKS key may be pinned to (others are refused before any lookup)
_ALGORITHMS = frozenset().union(*_FAMILIES.values())
_THROTTLE = LogThrottle(limit=1, interval=60.0)
_UNAVAILABLE = "cannot verify JWTs now: the identity provider's keys are unavailable"


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
    """The cached key set of one JWKS URL (see the module docstring)."""

    def __init__(self, url: str, *, ttl: float = DEFAULT_TTL, timeout: float = DEFAULT_TIMEOUT,
                 min_refresh: float = DEFAULT_MIN_REFRESH, max_stale: float = DEFAULT_MAX_STALE) -> None:
        self.url = url
        self.ttl = ttl
        self.timeout = timeout
        self.min_refresh = min_refresh
        self.max_stale = max_stale
        self.keys: dict[Optional[str], tuple[str, Any]] = {}
        self.fetched_at = -1e18  # monotonic time of the last successful fetch
        self.attempted_at = -1e18  # ... of the start of the last attempt
        self.fetches = 0  # attempts, for tests and /healthz
        self.failures = 0  # failed attempts in a row
        self.last_error: Optional[str] = None
        #: monotonic time before which no fetch starts (MIN_REFRESH, or the backoff)
        self.next_fetch_at = -1e18
        self._inflight: Optional["asyncio.Future[None]"] = None
        self._session: Any = None

    # ------------------------------------------------------------------ state

    def _serving(self, now: float) -> bool:
        """Whether the cached keys may be used (some, fetched at most MAX_STALE ago)."""
        return bool(self.keys) and now - self.fetched_at <= self.max_stale

    def state(self) -> str:
        """``ok``; ``stale`` (older than the TTL, or the last fetch failed: the
        keys still serve); ``unavailable`` (no keys, or none fetched within
        ``AUTH_JWKS_MAX_STALE``: JWT callers get 503). When the set is not
        ``ok``, a fetch starts in the background if the bounds allow one, so a
        replica that no JWT caller reaches (not ready yet, or taken out of the
        load balancer for it) still gets its keys."""
        now = time.monotonic()
        serving = self._serving(now)
        expired = now - self.fetched_at > self.ttl
        if not serving or expired:
            self._fetch_in_background(now)
        if not serving:
            return "unavailable"
        if self.last_error is not None or expired:
            return "stale"
        return "ok"

    def _unavailable_message(self) -> str:
        if not self.keys:
            return _UNAVAILABLE
        return (f"{_UNAVAILABLE} (none could be fetched for longer than AUTH_JWKS_MAX_STALE, "
                f"{self.max_stale:g} s)")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------------ fetching

    def backoff(self) -> float:
        """Seconds to wait after :attr:`failures` failed fetches in a row."""
        base = max(self.min_refresh, BACKOFF_BASE)
        ceiling = min(max(MAX_BACKOFF, self.min_refresh), base * 2.0 ** min(self.failures - 1, 32))
        return max(self.min_refresh, ceiling * random.uniform(0.5, 1.0))

    async def _fetch(self) -> None:
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
            if tracing.TRACER is not None:
                tracing.TRACER.failed(self.last_error)
            self.failures += 1
            wait = self.backoff()
            self.next_fetch_at = time.monotonic() + wait
            dropped = _THROTTLE.allow()
            if dropped is not None:
                log.error("cannot fetch the JWKS from %s (%s; %d failures in a row, next attempt in %.0f s)%s",
                          self.url, self.last_error, self.failures, wait,
                          f"; {dropped} more failures not logged" if dropped else "")
            return
        self.keys = keys
        self.fetched_at = time.monotonic()
        self.next_fetch_at = self.fetched_at + self.min_refresh
        self.failures = 0
        self.last_error = None

    def _start_fetch(self) -> "asyncio.Future[None]":
        """The fetch under way, started if there is none."""
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(tracing.traced(
                "JWKS fetch", self._fetch(), {"server.address": urlsplit(self.url).hostname or ""}))
            self._inflight.add_done_callback(self._fetch_done)
        return self._inflight

    def _fetch_done(self, _future: "asyncio.Future[None]") -> None:
        self._inflight = None

    async def refresh(self) -> None:
        """Fetch now, sharing a fetch already under way (not rate bounded:
        requests go through :meth:`_refetch`)."""
        await asyncio.shield(self._start_fetch())

    def _fetch_in_background(self, now: float) -> None:
        """Start a fetch without waiting for it, if none is under way and the bounds allow one."""
        if self._inflight is None and now >= self.next_fetch_at:
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # no event loop (a synchronous caller): nothing to start
                return
            self._start_fetch()

    async def _refetch(self, now: float) -> None:
        """Wait for the fetch under way, or start one if the bound allows it."""
        if self._inflight is not None or now >= self.next_fetch_at:
            await self.refresh()

    # ------------------------------------------------------------------ keys

    @staticmethod
    def _checked_header(token: str) -> dict[str, Any]:
        """The JWT header, if the token passes the checks made before any key
        is looked up (so before any fetch); raises :class:`JwtError`."""
        try:
            header: dict[str, Any] = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise JwtError("invalid JWT") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in _ALGORITHMS:
            raise JwtError("JWT algorithm not accepted (this server accepts RS*, PS*, ES* and EdDSA "
                           "signatures from its identity provider)")
        kid = header.get("kid")
        if kid is not None and not (isinstance(kid, str) and 0 < len(kid) <= MAX_KID_LENGTH):
            raise JwtError(f"invalid JWT ('kid' must be a string of at most {MAX_KID_LENGTH} characters)")
        if not token.rpartition(".")[2]:
            raise JwtError("invalid JWT (no signature)")
        return header

    async def key_for(self, token: str) -> tuple[str, Any]:
        """The pinned (algorithm, key) for ``token``'s ``kid``; raises
        :class:`server.jwtbase.JwtError`."""
        header = self._checked_header(token)
        kid = header.get("kid")
        now = time.monotonic()
        if not self._serving(now):
            await self._refetch(now)
            if not self._serving(time.monotonic()):
                raise JwtError(self._unavailable_message(), "jwks_unavailable")
        elif now - self.fetched_at > self.ttl:
            self._fetch_in_background(now)
        found = self._lookup(kid)
        if found is None:
            await self._refetch(time.monotonic())  # maybe the provider rotated its keys
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
