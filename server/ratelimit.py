"""Per-caller rate limiting: an in-memory token bucket with bounded memory.

``RATE_LIMIT`` is ``<count>/<period>`` with period ``s``/``sec``/``second``,
``m``/``min``/``minute`` or ``h``/``hr``/``hour`` (e.g. ``20/s``, ``600/min``,
``1000/h``); unset or ``off`` disables limiting. Each caller gets a bucket of
``count`` tokens refilled continuously at ``count / period``: a burst of up to
``count`` requests, then the steady rate.

Callers are keyed by :attr:`server.auth.Caller.id` when authenticated (API-key
fingerprint or ``jwt:<sub>``), else by client IP. The client IP is the TCP peer
address; with ``TRUST_PROXY=N`` (N >= 1 trusted reverse proxies in front of the
service; ``1`` is the common single load balancer) it is taken from
``X-Forwarded-For``: the N-th address counted from the right, i.e. the address
the outermost trusted proxy saw. Entries further left are written by the
client and can be forged, so they are never used. A missing, short or
malformed header falls back to the peer address.

Limits live in one process's memory: with ``--workers N`` or several replicas
the effective limit is multiplied by the number of processes.

Memory is bounded: buckets idle long enough to have refilled completely are
dropped (they are indistinguishable from new ones), and beyond
``max_entries`` the least recently used bucket is evicted.
"""

from __future__ import annotations

import ipaddress
import math
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence

from .env import ConfigError, env_str

__all__ = [
    "DEFAULT_MAX_ENTRIES",
    "RateLimitSettings",
    "RateLimiter",
    "client_ip",
    "parse_rate_limit",
    "parse_ratelimit_settings",
]

DEFAULT_MAX_ENTRIES = 100_000
MAX_FORWARDED_LENGTH = 4096
MAX_TRUSTED_PROXIES = 16
_PERIODS = {
    "s": 1.0, "sec": 1.0, "second": 1.0,
    "m": 60.0, "min": 60.0, "minute": 60.0,
    "h": 3600.0, "hr": 3600.0, "hour": 3600.0,
}
_RATE = re.compile(r"\s*(\d{1,9})\s*/\s*([A-Za-z]+)\s*")


@dataclass(frozen=True)
class RateLimitSettings:
    """``limit`` requests per ``period`` seconds (None = no limit);
    ``trust_proxy``: number of trusted reverse proxies (0 = use the peer address)."""

    limit: Optional[int] = None
    period: float = 1.0
    trust_proxy: int = 0
    max_entries: int = DEFAULT_MAX_ENTRIES

    @property
    def enabled(self) -> bool:
        return self.limit is not None

    @property
    def secrets(self) -> tuple[str, ...]:
        return ()

    def describe(self) -> str:
        if self.limit is None:
            return "off"
        unit = {1.0: "s", 60.0: "min", 3600.0: "h"}.get(self.period, f"{self.period:g}s")
        return f"{self.limit}/{unit} per caller"


def parse_rate_limit(text: str, variable: str = "RATE_LIMIT") -> tuple[Optional[int], float]:
    """``"20/s"`` -> (20, 1.0); ``""``/``"off"`` -> (None, 1.0)."""
    if not text.strip() or text.strip().lower() in ("off", "none", "0"):
        return None, 1.0
    m = _RATE.fullmatch(text)
    if not m:
        raise ConfigError(variable, "must look like 20/s, 600/min or 1000/h")
    count = int(m.group(1))
    period = _PERIODS.get(m.group(2).lower())
    if period is None:
        raise ConfigError(variable, "period must be s, min or h (e.g. 20/s, 600/min, 1000/h)")
    if count < 1:
        raise ConfigError(variable, "count must be at least 1 (or 'off' for no limit)")
    return count, period


def parse_ratelimit_settings(env: Mapping[str, str]) -> RateLimitSettings:
    """Read ``RATE_LIMIT``, ``TRUST_PROXY`` and ``RATE_LIMIT_MAX_ENTRIES``."""
    limit, period = parse_rate_limit(env_str(env, "RATE_LIMIT"))
    raw = env_str(env, "TRUST_PROXY").lower()
    if raw in ("", "0", "false", "no", "off"):
        trust = 0
    elif raw in ("true", "yes", "on"):
        trust = 1
    elif raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_TRUSTED_PROXIES:
        trust = int(raw)
    else:
        raise ConfigError("TRUST_PROXY", f"must be 0/1 (or the number of trusted proxies, "
                                         f"up to {MAX_TRUSTED_PROXIES})")
    raw = env_str(env, "RATE_LIMIT_MAX_ENTRIES")
    max_entries = DEFAULT_MAX_ENTRIES
    if raw:
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 10_000_000:
            raise ConfigError("RATE_LIMIT_MAX_ENTRIES", "must be a whole number, 1..10000000")
        max_entries = int(raw)
    return RateLimitSettings(limit, period, trust, max_entries)


def client_ip(peer: Optional[str], forwarded_for: Sequence[str], trust_proxy: int) -> str:
    """The client address used for rate limiting (see the module docstring).

    ``forwarded_for``: every ``X-Forwarded-For`` header value, in order."""
    if trust_proxy > 0 and forwarded_for:
        joined = ",".join(forwarded_for)
        if len(joined) <= MAX_FORWARDED_LENGTH:
            hops = [h.strip() for h in joined.split(",")]
            if len(hops) >= trust_proxy:
                candidate = hops[-trust_proxy]
                try:
                    return str(ipaddress.ip_address(candidate))
                except ValueError:
                    pass
    return peer or "unknown"


class _Bucket:
    __slots__ = ("tokens", "stamp")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class RateLimiter:
    """Token buckets keyed by caller. ``clock`` returns monotonic seconds
    (injectable for tests)."""

    def __init__(self, limit: int, period: float, *, max_entries: int = DEFAULT_MAX_ENTRIES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("limit must be >= 1 and period > 0")
        self.capacity = float(limit)
        self.rate = limit / period  # tokens per second
        self.refill_time = period  # an empty bucket is full again after one period
        self.max_entries = max(1, max_entries)
        self.clock = clock  # replaceable (tests)
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: RateLimitSettings,
                      clock: Callable[[], float] = time.monotonic) -> Optional["RateLimiter"]:
        if settings.limit is None:
            return None
        return cls(settings.limit, settings.period, max_entries=settings.max_entries, clock=clock)

    def __len__(self) -> int:
        return len(self._buckets)

    def hit(self, key: str) -> Optional[int]:
        """Take one token for ``key``. None when allowed, else the number of
        whole seconds (>= 1) after which the next request will be allowed."""
        now = self.clock()
        self._sweep(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(self.capacity, now)
            self._buckets[key] = bucket
            while len(self._buckets) > self.max_entries:
                self._buckets.popitem(last=False)
        else:
            elapsed = now - bucket.stamp
            if elapsed > 0:
                bucket.tokens = min(self.capacity, bucket.tokens + elapsed * self.rate)
            bucket.stamp = now
            self._buckets.move_to_end(key)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / self.rate))

    def _sweep(self, now: float) -> None:
        """Drop buckets (oldest first) idle long enough to be full again."""
        buckets = self._buckets
        limit = self.refill_time
        removed = 0
        while buckets and removed < 64:  # amortised: a few per call
            key, bucket = next(iter(buckets.items()))
            if now - bucket.stamp < limit:
                break
            del buckets[key]
            removed += 1
