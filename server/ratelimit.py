"""Per-caller rate limits on the ``limits`` library (moving window).

``RATE_LIMIT`` is ``<count>/<period>``: ``20/s``, ``600/min``, ``1000/h``
(``s``/``sec``/``second``, ``m``/``min``/``minute``, ``h``/``hr``/``hour``);
unset or ``off``: no limit. It means: at most ``count`` requests in any
window of ``period`` (the library's moving window: exact, no bursts above
the count; a refused request does not count).

``RATE_LIMIT_STORAGE`` is where the windows live: ``memory://`` (the default:
per process, so ``--workers N`` and N replicas each allow the full limit) or
a shared Redis, which makes the limit exact across workers and replicas:
``redis://[:password@]host:6379/0``, ``rediss://`` (TLS),
``redis+unix:///path/redis.sock``, ``redis+sentinel://host:26379/mymaster``,
``redis+cluster://host:7000`` (and ``valkey://`` equivalents). Each request
costs one call of the library's Lua script (the hits of one event-loop
iteration share one pipelined round trip: :mod:`server.limitstore`), plus a
second call when it is refused (when the window frees up, for
``Retry-After``). Redis calls are
non-blocking (redis-py's asyncio client) and bounded by
``RATE_LIMIT_STORAGE_TIMEOUT`` (default 0.25 s) for connecting and for each
reply. ``RATE_LIMIT_KEY_PREFIX`` (default ``agora-token``) lets several
deployments share one Redis.

When the storage fails or times out, ``RATE_LIMIT_ON_STORAGE_ERROR`` decides:
``allow`` (the default: serve the request unlimited; tokens are still
authenticated and authorised, and an outage of an auxiliary store should not
take token issuing down with it) or ``deny`` (answer ``503``). Either way:
never a 500 and never a hang; one error line per minute in the log; the
``agora_token_rate_limit_storage_errors_total`` counter; ``/healthz`` shows
``"rate_limit_storage": "error"`` (still 200). For one second after a failure
the storage is not asked at all (so an outage costs no timeouts per request);
then it is tried again, and limits apply again as soon as it answers.
``/healthz`` reports the storage's real state: the outcome of the last call,
or, when nothing reached the storage in the last second, of one ``PING``
(:meth:`RateLimiter.storage_state`: bounded by the timeout, one at a time).

Callers are keyed by :attr:`server.auth.Caller.id` (API-key fingerprint or
JWT ``sub``) when authenticated, else by client (:func:`client_bucket`: an
IPv6 client by its ``RATE_LIMIT_IPV6_PREFIX`` network). The client address
is the TCP peer; with ``TRUST_PROXY=N`` (N trusted reverse proxies; ``1`` for
one load balancer) it is the N-th entry from the right in
``X-Forwarded-For`` (all its header lines, in order), the one the outermost
trusted proxy saw: entries further left are written by the client and are
never used, and only the last N entries are read, however long the header.
That entry must be an address (``203.0.113.7``, ``2001:db8::1``, also with
a port: ``203.0.113.7:4711``, ``[2001:db8::1]:4711``), else the request is
refused with ``400``; with fewer than N entries (or none) the TCP peer is
used.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import re
import sys
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, Optional, Sequence
from urllib.parse import urlsplit

from aiohttp import web
from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from . import metrics
from .env import ConfigError, env_choice, env_int, env_seconds, env_str
from .errors import ServiceError, StorageUnavailable
from .limitstore import RedisBatcher, WindowMemoryStorage
from .logs import LogThrottle

__all__ = ["ForwardedForError", "RateLimitSettings", "RateLimiter", "StorageUnavailable", "VARIABLES", "client_bucket",
           "client_ip", "logged_client_ip", "parse_rate_limit", "parse_ratelimit_settings", "request_bucket",
           "request_client_ip"]

log = logging.getLogger("server.ratelimit")

MAX_TRUSTED_PROXIES = 16
#: the longest X-Forwarded-For entry read as an address (an IPv6 with a scope and a port fits)
MAX_FORWARDED_ENTRY = 80
DEFAULT_KEY_PREFIX = "agora-token"
DEFAULT_STORAGE_TIMEOUT = 0.25
#: after a storage failure, how long requests skip the storage
RETRY_STORAGE_AFTER = 1.0
#: how old the storage's last known outcome may be before a health check pings it
PROBE_AFTER = 1.0
_PERIODS = {
    "s": "second", "sec": "second", "second": "second",
    "m": "minute", "min": "minute", "minute": "minute",
    "h": "hour", "hr": "hour", "hour": "hour",
}
_SECONDS = {"second": 1, "minute": 60, "hour": 3600}
_RATE = re.compile(r"\s*(\d{1,9})\s*/\s*([A-Za-z]+)\s*")
_STORAGE_SCHEMES = ("memory", "redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster",
                    "valkey", "valkeys", "valkey+unix", "valkey+sentinel", "valkey+cluster")
_PREFIX = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_THROTTLE = LogThrottle(limit=1, interval=60.0)
#: the variables :func:`parse_ratelimit_settings` reads
VARIABLES = ("RATE_LIMIT", "RATE_LIMIT_STORAGE", "RATE_LIMIT_KEY_PREFIX", "RATE_LIMIT_ON_STORAGE_ERROR",
             "RATE_LIMIT_STORAGE_TIMEOUT", "TRUST_PROXY", "RATE_LIMIT_IPV6_PREFIX")


@dataclass(frozen=True)
class RateLimitSettings:
    """``limit`` requests per ``period`` (``second``/``minute``/``hour``; None: no limit)."""

    limit: Optional[int] = None
    period: str = "second"
    storage: str = "memory://"
    key_prefix: str = DEFAULT_KEY_PREFIX
    on_storage_error: str = "allow"
    storage_timeout: float = DEFAULT_STORAGE_TIMEOUT
    trust_proxy: int = 0
    #: IPv6 clients share one bucket per prefix of this length (RATE_LIMIT_IPV6_PREFIX)
    ipv6_prefix: int = 64

    @property
    def enabled(self) -> bool:
        return self.limit is not None

    @property
    def shared(self) -> bool:
        return not self.storage.startswith("memory")

    @property
    def secrets(self) -> tuple[str, ...]:
        """A Redis URL's password, and the URL itself (masked in logs)."""
        if not self.shared:
            return ()
        password = urlsplit(self.storage).password
        return (self.storage, *((password,) if password else ()))

    def describe(self) -> str:
        if self.limit is None:
            return "off"
        where = "per process" if not self.shared else f"shared ({urlsplit(self.storage).scheme})"
        return f"{self.limit}/{self.period} per caller, {where}"


def parse_rate_limit(text: str, variable: str = "RATE_LIMIT") -> tuple[Optional[int], str]:
    """``"20/s"`` -> (20, "second"); ``""``/``"off"`` -> (None, "second")."""
    if not text.strip() or text.strip().lower() in ("off", "none", "0"):
        return None, "second"
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


def _storage(env: Mapping[str, str]) -> str:
    uri = env_str(env, "RATE_LIMIT_STORAGE") or "memory://"
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme not in _STORAGE_SCHEMES:
        raise ConfigError("RATE_LIMIT_STORAGE", "must be memory:// or a Redis URL (redis://, rediss://, "
                                                "redis+unix://, redis+sentinel://, redis+cluster://)")
    return uri


def parse_ratelimit_settings(env: Mapping[str, str]) -> RateLimitSettings:
    limit, period = parse_rate_limit(env_str(env, "RATE_LIMIT"))
    raw = env_str(env, "TRUST_PROXY").lower()
    if raw in ("", "0", "false", "no", "off"):
        trust = 0
    elif raw in ("true", "yes", "on"):
        trust = 1
    elif raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_TRUSTED_PROXIES:
        trust = int(raw)
    else:
        raise ConfigError("TRUST_PROXY", f"must be 0/1 (or the number of trusted proxies, up to "
                                         f"{MAX_TRUSTED_PROXIES})")
    prefix = env_str(env, "RATE_LIMIT_KEY_PREFIX") or DEFAULT_KEY_PREFIX
    if not _PREFIX.fullmatch(prefix):
        raise ConfigError("RATE_LIMIT_KEY_PREFIX", "must be 1..64 of A-Z a-z 0-9 . _ : -")
    return RateLimitSettings(
        limit, period, _storage(env), prefix,
        env_choice(env, "RATE_LIMIT_ON_STORAGE_ERROR", ("allow", "deny"), "allow"),
        env_seconds(env, "RATE_LIMIT_STORAGE_TIMEOUT", DEFAULT_STORAGE_TIMEOUT, 0.01, 10), trust,
        env_int(env, "RATE_LIMIT_IPV6_PREFIX", 64, 32, 128))


def client_bucket(address: str, ipv6_prefix: int) -> str:
    """The per-client key of ``address`` for the limits kept per client (the
    rate limit, the failed-auth budget, the ``/metrics`` limiter,
    ``MAX_UNFINISHED_PER_CLIENT``): ``"ip:<IPv4>"``, or ``"ip:<IPv6 network>/<prefix>"``
    so that one client cannot leave its bucket by cycling through its own
    addresses. Logs keep the full address."""
    if ":" in address:
        try:
            ip = ipaddress.IPv6Address(address)
        except ValueError:
            return "ip:" + address
        if ip.ipv4_mapped is not None:
            return "ip:" + str(ip.ipv4_mapped)
        if ipv6_prefix < 128:
            net = ipaddress.IPv6Network((ip, ipv6_prefix), strict=False)
            return f"ip:{net.network_address}/{ipv6_prefix}"
    return "ip:" + address


class ForwardedForError(ServiceError):
    """The ``X-Forwarded-For`` entry ``TRUST_PROXY`` points at is not an
    address: ``400``, answered in the route family's shape."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message, reason="bad_forwarded_for")


def _forwarded_entry(forwarded_for: Sequence[str], hops: int) -> Optional[str]:
    """The ``hops``-th entry from the right over every header line (a blank
    line has none), reading only as far back as that entry (None: fewer)."""
    for value in reversed(forwarded_for):
        if not value or value.isspace():
            continue
        end = len(value)
        while True:
            start = value.rfind(",", 0, end) + 1
            hops -= 1
            if hops == 0:
                return value[start:end].strip()
            if start == 0:
                break
            end = start - 1
    return None


def _address(entry: str) -> str:
    """``entry`` as a canonical address, without a port (raises :class:`ForwardedForError`)."""
    text = entry
    if len(text) <= MAX_FORWARDED_ENTRY:
        if text.startswith("["):  # [v6] or [v6]:port
            text, bracket, port = text[1:].partition("]")
            if not bracket or (port and not (port[0] == ":" and port[1:].isdigit())):
                text = ""
        elif text.count(":") == 1:  # v4:port
            text, _, port = text.partition(":")
            if not port.isdigit():
                text = ""
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            pass
    shown = repr(entry) if len(entry) <= MAX_FORWARDED_ENTRY and entry.isprintable() else f"{len(entry)} characters"
    raise ForwardedForError(f"malformed X-Forwarded-For: the entry the trusted proxy wrote ({shown}) "
                            "is not an IP address")


def client_ip(peer: Optional[str], forwarded_for: Sequence[str], trust_proxy: int) -> str:
    """The client address (see the module docstring). ``forwarded_for``:
    every ``X-Forwarded-For`` header value, in order. Raises
    :class:`ForwardedForError` when the trusted entry is not an address."""
    if trust_proxy > 0 and forwarded_for:
        entry = _forwarded_entry(forwarded_for, trust_proxy)
        if entry is not None:
            return _address(entry)
    return peer or "unknown"


def request_client_ip(request: web.BaseRequest, trust_proxy: int) -> str:
    """:func:`client_ip` of ``request``: its peer, or under ``TRUST_PROXY`` its
    ``X-Forwarded-For`` entry; a malformed entry raises
    :class:`ForwardedForError` (``400``)."""
    if not trust_proxy:
        return request.remote or "unknown"
    return client_ip(request.remote, request.headers.getall("X-Forwarded-For", []), trust_proxy)


def request_bucket(request: web.BaseRequest, settings: RateLimitSettings) -> str:
    """:func:`client_bucket` of :func:`request_client_ip`: the per-client key
    of ``request`` (raises :class:`ForwardedForError` as that does)."""
    return client_bucket(request_client_ip(request, settings.trust_proxy), settings.ipv6_prefix)


def logged_client_ip(request: web.BaseRequest, trust_proxy: int) -> str:
    """:func:`request_client_ip` for the access log: never raises (a
    malformed ``X-Forwarded-For`` entry logs the TCP peer)."""
    try:
        return client_ip(request.remote, request.headers.getall("X-Forwarded-For", []) if trust_proxy else (),
                         trust_proxy)
    except ForwardedForError:
        return request.remote or "unknown"


#: caller keys whose storage key is kept (the cache is emptied when full)
KEY_CACHE = 4096


class RateLimiter:
    """``count`` hits per ``period`` per key, in the configured storage."""

    def __init__(self, count: int, period: str, settings: RateLimitSettings, *, name: str = "rate") -> None:
        self.settings = settings
        self.item = parse(f"{count}/{period}")
        self.name = name
        #: one moving-window hit: (key, limit, expiry) -> allowed; the strategy's own
        #: hit minus a layer (the same storage call), or batched into a pipeline on Redis
        self._acquire: Callable[[str, int, int], Awaitable[bool]]
        #: the same in process memory, where nothing awaits: called without a coroutine (None on Redis)
        self._acquire_now: Optional[Callable[[str, int, int], bool]] = None
        if settings.shared:
            self.storage: Any = storage_from_string(
                "async+" + settings.storage, implementation="redispy",
                key_prefix=f"{settings.key_prefix}:{name}", socket_timeout=settings.storage_timeout,
                socket_connect_timeout=settings.storage_timeout)
            self._acquire = RedisBatcher(self.storage, settings.storage_timeout).acquire_entry
        else:
            self.storage = WindowMemoryStorage()
            self._acquire = self.storage.acquire_entry
            self._acquire_now = self.storage.hit
        self.strategy = MovingWindowRateLimiter(self.storage)
        self._key_of = self.item.key_for
        #: the library's storage key of each recent caller key (built once, not per request)
        self._keys: dict[str, str] = {}
        self._amount = self.item.amount
        self._expiry = self.item.get_expiry()
        self.deny_on_error = settings.on_storage_error == "deny"
        self.timeout = settings.storage_timeout
        self._skip_until = 0.0
        self.storage_ok = True
        self.errors = 0
        #: monotonic time of the storage's last answer or failure
        self.checked_at = -1e18
        self._probe: Optional["asyncio.Future[None]"] = None

    @classmethod
    def from_settings(cls, settings: RateLimitSettings) -> Optional["RateLimiter"]:
        if settings.limit is None:
            return None
        return cls(settings.limit, settings.period, settings)

    async def _call(self, coro: Any) -> Any:
        if not self.settings.shared:
            return await coro
        if sys.version_info >= (3, 11):  # no task per call
            async with asyncio.timeout(self.timeout):
                return await coro
        return await asyncio.wait_for(coro, self.timeout)

    def _answered(self) -> None:
        self.storage_ok = True
        self.checked_at = time.monotonic()

    def _failed(self, exc: BaseException) -> None:
        self.errors += 1
        self.storage_ok = False
        self.checked_at = time.monotonic()
        self._skip_until = self.checked_at + RETRY_STORAGE_AFTER
        metrics.LOCAL.storage_errors += 1
        dropped = _THROTTLE.allow()
        if dropped is not None:
            log.error("rate-limit storage failed (%s); requests are %s while it does%s",
                      type(exc).__name__ if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}",
                      "refused (503)" if self.deny_on_error else "served without a rate limit",
                      f"; {dropped} more failures not logged" if dropped else "")

    async def hit(self, key: str) -> Optional[int]:
        """Count one request for ``key``: None when allowed, else the seconds
        (>= 1) until the window frees a slot. Raises :class:`StorageUnavailable`
        when the storage fails and the setting says deny."""
        if self._skip_until and time.monotonic() < self._skip_until:
            if self.deny_on_error:
                raise StorageUnavailable()
            return None
        try:
            storage_key = self._keys.get(key)
            if storage_key is None:
                if len(self._keys) >= KEY_CACHE:
                    self._keys.clear()
                storage_key = self._keys[key] = self._key_of(key)
            if self._acquire_now is not None:
                allowed = self._acquire_now(storage_key, self._amount, self._expiry)
            else:
                allowed = await self._acquire(storage_key, self._amount, self._expiry)
            if allowed:
                self._answered()
                return None
            stats = await self._call(self.strategy.get_window_stats(self.item, key))
        except Exception as exc:  # noqa: BLE001 - any storage failure: connection, timeout, script
            self._failed(exc)
            if self.deny_on_error:
                raise StorageUnavailable() from None
            return None
        self._answered()
        return max(1, math.ceil(float(stats.reset_time) - time.time()))

    def state(self) -> str:
        """``ok`` or ``error``: the outcome of the last call to the storage.
        When nothing reached a shared storage in the last :data:`PROBE_AFTER`
        seconds, a ``PING`` starts in the background (see :meth:`storage_state`)."""
        self._probe_if_stale()
        return "ok" if self.storage_ok else "error"

    async def storage_state(self) -> str:
        """:meth:`state`, made current: when nothing reached a shared storage
        in the last :data:`PROBE_AFTER` seconds, one ``PING`` first (bounded
        by the storage timeout; concurrent callers share it)."""
        probe = self._probe_if_stale()
        if probe is not None:
            await asyncio.shield(probe)
        return self.state()

    def _probe_if_stale(self) -> Optional["asyncio.Future[None]"]:
        """The ``PING`` under way, started if the last outcome is stale (None: fresh enough)."""
        if self._probe is None and self.settings.shared and time.monotonic() - self.checked_at > PROBE_AFTER:
            try:
                self._probe = asyncio.get_running_loop().create_task(self._ping())
            except RuntimeError:  # no event loop (a synchronous caller): the last outcome stands
                return None
            self._probe.add_done_callback(self._probe_done)
        return self._probe

    def _probe_done(self, _future: "asyncio.Future[None]") -> None:
        self._probe = None

    async def _ping(self) -> None:
        try:
            if not await self._call(self.storage.check()):
                raise ConnectionError("no answer to PING")
        except Exception as exc:  # noqa: BLE001 - any failure means the storage is not usable
            self._failed(exc)
            return
        self._answered()
        self._skip_until = 0.0  # it answers again: requests use it at once

    async def close(self) -> None:
        bridge = getattr(self.storage, "bridge", None)
        storage = getattr(bridge, "storage", None) or getattr(self.storage, "storage", None)
        close = getattr(storage, "aclose", None) or getattr(storage, "close", None)
        if close is not None and self.settings.shared:
            try:
                await close()
            except Exception:  # noqa: BLE001 - closing at shutdown: nothing to report
                pass
