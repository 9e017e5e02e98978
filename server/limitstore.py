"""Storages for the ``limits`` library's moving-window strategy, tuned for a
request path that must stay fast.

:class:`WindowMemoryStorage` (``RATE_LIMIT_STORAGE=memory://``) keeps, per
key, a deque of the hit times inside the window: a hit drops the expired
times from the left and appends on the right (amortised O(1)); idle keys are
dropped least recently used first, a few per hit. The library's own memory
storage inserts each hit at the front of a list (O(hits in the window)) and
runs an expiry task that hops to a thread per key; measured here it cost a
quarter of the token service's throughput at a high limit. Semantics are the
library's: at most ``limit`` hits in any ``expiry`` seconds; a refused hit is
not recorded. Memory: about 100 bytes per hit inside the window plus ~300
per active key, with a ceiling of :data:`MAX_HITS` hits per process: beyond
it the least recently hit keys are forgotten (their callers start a fresh
window), so no limit setting or traffic can grow the table without bound.

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

__all__ = ["RedisBatcher", "WindowMemoryStorage"]

#: idle keys examined per hit (so a sweep never stalls one request)
_SWEEP_PER_HIT = 2
#: the most hits one process keeps (about 100 MB); docs/production.md
MAX_HITS = 1_000_000


class WindowMemoryStorage(Storage, MovingWindowSupport):
    """Moving windows in this process's memory (see the module docstring)."""

    STORAGE_SCHEME = ["async+agora-token-window-memory"]

    def __init__(self, uri: Optional[str] = None, wrap_exceptions: bool = False,
                 max_hits: int = MAX_HITS, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        #: key -> (expiry, deque of hit times); least recently hit first
        self.windows: dict[str, tuple[float, deque[float]]] = {}
        self.max_hits = max_hits
        #: hit times held over all keys
        self.hits = 0
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
            expiry, hits = windows[key]
            if hits and hits[-1] > now - expiry:
                return  # the least recently hit key is still live: so are all others
            del windows[key]
            self.hits -= len(hits)

    def _forget_oldest(self) -> None:
        """At the ceiling: drop the least recently hit keys (never the one just
        hit, the last) until a tenth of the ceiling is free."""
        windows = self.windows
        target = self.max_hits - self.max_hits // 10
        while self.hits > target and len(windows) > 1:
            key = next(iter(windows))
            self.hits -= len(windows.pop(key)[1])
            self.forgotten += 1

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        windows = self.windows
        self._sweep(now)
        entry = windows.pop(key, None)
        if entry is None:
            hits: deque[float] = deque()
        else:
            hits = entry[1]
            cutoff = now - expiry
            if hits and hits[0] <= cutoff:
                held = len(hits)
                while hits and hits[0] <= cutoff:
                    hits.popleft()
                self.hits -= held - len(hits)
        windows[key] = (expiry, hits)  # now the most recently hit key
        if len(hits) + amount > limit:
            return False
        if amount == 1:
            hits.append(now)
        else:
            hits.extend([now] * amount)
        self.hits += amount
        if self.hits > self.max_hits:
            self._forget_oldest()
        return True

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = time.time()
        entry = self.windows.get(key)
        if entry is None:
            return now, 0
        hits = entry[1]
        cutoff = now - expiry
        live = [t for t in hits if t > cutoff]
        return (live[0] if live else now), len(live)

    # the rest of the Storage interface (not used by the moving window)
    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        raise NotImplementedError

    async def get(self, key: str) -> int:
        entry = self.windows.get(key)
        return len(entry[1]) if entry else 0

    async def get_expiry(self, key: str) -> float:
        return time.time()

    async def check(self) -> bool:
        return True

    async def reset(self) -> Optional[int]:
        n = len(self.windows)
        self.windows.clear()
        self.hits = 0
        return n

    async def clear(self, key: str) -> None:
        entry = self.windows.pop(key, None)
        if entry is not None:
            self.hits -= len(entry[1])


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
