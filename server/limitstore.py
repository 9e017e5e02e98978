"""Storages for the ``limits`` library's moving-window strategy, tuned for a
request path that must stay fast.

:class:`WindowMemoryStorage` (``RATE_LIMIT_STORAGE=memory://``) keeps, per
key, a deque of entries ``(time, hits)`` inside the window: a hit drops the
expired entries from the left and adds to the right (amortised O(1)); idle
keys are dropped least recently used first, a few per hit. The library's own
memory storage inserts each hit at the front of a list (O(hits in the
window)) and runs an expiry task that hops to a thread per key; measured here
it cost a quarter of the token service's throughput at a high limit.

Semantics are the library's: at most ``limit`` hits in any ``expiry``
seconds; a refused hit is not recorded. One difference, on the safe side:
a key's window is cut into :data:`SLOTS_PER_WINDOW` slots (1/1000 of the
period: 1 ms of a second, 3.6 s of an hour) and the hits of one slot share
one entry, timed at the slot's last hit, so a hit may be held up to one slot
longer than its own time says (a caller may be refused up to 1/1000 of the
period early, never admitted above its limit). So one key never holds more
than ``min(limit, SLOTS_PER_WINDOW + 1)`` entries, whatever its limit and
traffic.

Memory: about 100 bytes per entry plus ~300 per active key, with a ceiling
of :data:`MAX_ENTRIES` entries per process: beyond it the least recently hit
keys are forgotten (their callers start a fresh window), and since one key
holds at most half the ceiling, no limit setting and no traffic grows the
table past it.

:class:`RedisBatcher` sends the moving-window hits of one event-loop
iteration to Redis in one pipeline (one write, one read), using the
library's own Redis storage, key layout and Lua script: each request still
costs exactly one script call, but concurrent requests share the round trip
and the system calls.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any, Optional

from limits.aio.storage import MovingWindowSupport, Storage

from . import tracing

__all__ = ["RedisBatcher", "WindowMemoryStorage"]

#: idle keys examined per hit (so a sweep never stalls one request)
_SWEEP_PER_HIT = 2
#: the most entries one process keeps (about 100 MB); docs/production.md
MAX_ENTRIES = 1_000_000
#: a key's window is cut into this many slots; the hits of one slot share an entry
SLOTS_PER_WINDOW = 1000
#: the attributes of a Redis call's span (server.tracing)
_REDIS_SPAN = {"db.system.name": "redis", "db.operation.name": "EVALSHA"}


class _Window:
    """One key's moving window: entries ``(time of the slot's last hit, hits)``, oldest first."""

    __slots__ = ("expiry", "slot", "entries", "count")

    def __init__(self, expiry: int, slots: int) -> None:
        self.expiry = expiry
        self.slot = expiry / slots  # seconds per slot
        self.entries: deque[tuple[float, int]] = deque()
        self.count = 0  # hits held over all entries


class WindowMemoryStorage(Storage, MovingWindowSupport):
    """Moving windows in this process's memory (see the module docstring)."""

    STORAGE_SCHEME = ["async+agora-token-window-memory"]

    def __init__(self, uri: Optional[str] = None, wrap_exceptions: bool = False,
                 max_entries: int = MAX_ENTRIES, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        #: key -> its window; least recently hit first
        self.windows: dict[str, _Window] = {}
        self.max_entries = max_entries
        #: slots per window: at most half the ceiling, so one key alone never breaks it
        self.slots = max(1, min(SLOTS_PER_WINDOW, max_entries // 2 - 1))
        #: entries held over all keys
        self.entries = 0
        #: keys forgotten at the ceiling (before their window ended)
        self.forgotten = 0

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    def _sweep(self, now: float) -> None:
        windows = self.windows
        for _ in range(_SWEEP_PER_HIT):
            key = next(iter(windows), None)
            if key is None:
                return
            window = windows[key]
            if window.entries and window.entries[-1][0] > now - window.expiry:
                return  # the least recently hit key is still live: so are all others
            del windows[key]
            self.entries -= len(window.entries)

    def _forget_oldest(self) -> None:
        """At the ceiling: drop the least recently hit keys (never the one just
        hit, the last) until a tenth of the ceiling is free."""
        windows = self.windows
        target = self.max_entries - self.max_entries // 10
        while self.entries > target and len(windows) > 1:
            key = next(iter(windows))
            self.entries -= len(windows.pop(key).entries)
            self.forgotten += 1

    @staticmethod
    def _expire(window: _Window, cutoff: float) -> int:
        """Drop the entries at or before ``cutoff``; the number dropped."""
        entries = window.entries
        dropped = 0
        while entries and entries[0][0] <= cutoff:
            window.count -= entries.popleft()[1]
            dropped += 1
        return dropped

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return self.hit(key, limit, expiry, amount)

    def hit(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        """:meth:`acquire_entry` without the coroutine (nothing here awaits):
        what the service's rate limiter calls, one layer and one coroutine
        less per request."""
        if amount > limit:
            return False
        now = time.time()
        windows = self.windows
        self._sweep(now)
        window = windows.pop(key, None)
        if window is None:
            window = _Window(expiry, self.slots)
        else:
            self.entries -= self._expire(window, now - expiry)
        windows[key] = window  # now the most recently hit key
        if window.count + amount > limit:
            return False
        window.count += amount
        entries = window.entries
        if entries and entries[-1][0] // window.slot == now // window.slot:  # the same slot
            entries[-1] = (now, entries[-1][1] + amount)
            return True
        entries.append((now, amount))
        self.entries += 1
        if self.entries > self.max_entries:
            self._forget_oldest()
        return True

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """(the start of the window: the time of its oldest entry, hits in it)."""
        now = time.time()
        window = self.windows.get(key)
        if window is None:
            return now, 0
        cutoff = now - expiry
        live = [(t, n) for t, n in window.entries if t > cutoff]
        return (live[0][0] if live else now), sum(n for _, n in live)

    # the rest of the Storage interface (not used by the moving window)
    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        raise NotImplementedError

    async def get(self, key: str) -> int:
        window = self.windows.get(key)
        return window.count if window else 0

    async def get_expiry(self, key: str) -> float:
        return time.time()

    async def check(self) -> bool:
        return True

    async def reset(self) -> Optional[int]:
        n = len(self.windows)
        self.windows.clear()
        self.entries = 0
        return n

    async def clear(self, key: str) -> None:
        window = self.windows.pop(key, None)
        if window is not None:
            self.entries -= len(window.entries)


class RedisBatcher:
    """Moving-window hits on the library's Redis storage, one pipeline per
    event-loop iteration. ``storage``: a ``limits.aio.storage.RedisStorage``
    built with ``implementation="redispy"``."""

    def __init__(self, storage: Any, timeout: float) -> None:
        bridge = storage.bridge
        self.timeout = timeout
        self._bridge = bridge
        self._script = bridge.lua_acquire_moving_window  # the library's Lua script
        self._pending: list[tuple[str, int, int, asyncio.Future[bool]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def acquire_entry(self, key: str, limit: int, expiry: int) -> "asyncio.Future[bool]":
        """Queue one hit; the future resolves when the batch's reply arrives
        (with the exception if the batch failed, or timed out after ``timeout``)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        if tracing.TRACER is not None:  # a child span of the request's, until its batch answers
            tracing.TRACER.span_until_done("rate limit: Redis", future, _REDIS_SPAN)
        self._pending.append((self._bridge.prefixed_key(key), limit, expiry, future))
        if len(self._pending) == 1:
            loop.call_soon(self._send)
        return future

    def _send(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.ensure_future(self._run(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[tuple[str, int, int, "asyncio.Future[bool]"]]) -> None:
        from redis.exceptions import NoScriptError

        client = self._bridge.get_connection()
        script = self._script
        now = time.time()
        try:
            for attempt in (1, 2):
                pipe = client.pipeline(transaction=False)
                for key, limit, expiry, _ in batch:
                    pipe.evalsha(script.sha, 1, key, now, limit, expiry, 1)
                try:
                    replies = await asyncio.wait_for(pipe.execute(raise_on_error=False), self.timeout)
                except NoScriptError:
                    replies = [NoScriptError()]
                if attempt == 1 and any(isinstance(r, NoScriptError) for r in replies):
                    await client.script_load(script.script)  # Redis restarted or flushed its scripts
                    continue
                break
            for (_, _, _, future), reply in zip(batch, replies):
                if future.done():
                    continue
                if isinstance(reply, Exception):
                    future.set_exception(reply)
                else:
                    future.set_result(bool(reply))
        except BaseException as exc:  # noqa: BLE001 - every waiter must get an answer
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else ConnectionError(str(exc)))
            if not isinstance(exc, Exception):
                raise
