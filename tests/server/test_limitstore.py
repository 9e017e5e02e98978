"""The in-process moving-window storage (RATE_LIMIT_STORAGE=memory://): the
library's semantics, idle keys swept, and a ceiling on what it holds."""

from __future__ import annotations

import asyncio

import pytest

from agora_token_server import limitstore
from agora_token_server.limitstore import WindowMemoryStorage


def hit(storage: WindowMemoryStorage, key: str, limit: int = 3, expiry: int = 60) -> bool:
    return asyncio.run(storage.acquire_entry(key, limit, expiry))


def held(storage: WindowMemoryStorage) -> int:
    return sum(len(hits) for _, hits in storage.windows.values())


def test_at_most_limit_hits_in_a_window_and_refusals_are_not_recorded() -> None:
    s = WindowMemoryStorage()
    assert [hit(s, "a") for _ in range(5)] == [True, True, True, False, False]
    assert hit(s, "b")  # another caller has its own window
    assert s.hits == held(s) == 4


def test_the_window_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(limitstore.time, "time", lambda: now[0])
    s = WindowMemoryStorage()
    assert all(hit(s, "a", limit=2, expiry=10) for _ in range(2))
    now[0] += 5
    assert not hit(s, "a", limit=2, expiry=10)
    now[0] += 5.5  # the first two hits are out of the window
    assert hit(s, "a", limit=2, expiry=10)
    assert s.hits == held(s) == 1


def test_idle_keys_are_swept_and_the_count_follows(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(limitstore.time, "time", lambda: now[0])
    s = WindowMemoryStorage()
    for i in range(10):
        hit(s, f"k{i}", expiry=1)
    now[0] += 2
    for i in range(10):
        hit(s, f"new{i}", expiry=1)
    assert not any(k.startswith("k") for k in s.windows)
    assert s.hits == held(s) == 10


def test_the_table_has_a_ceiling_and_forgets_the_least_recently_hit_first() -> None:
    s = WindowMemoryStorage(max_hits=100)
    for i in range(1000):  # long windows, many callers: without the ceiling, 1000 hits held
        assert hit(s, f"caller{i}", limit=10, expiry=3600)
    assert s.hits == held(s) <= 100
    assert s.forgotten >= 900
    assert "caller999" in s.windows and "caller0" not in s.windows
    assert limitstore.MAX_HITS == 1_000_000


def test_clear_and_reset_keep_the_count() -> None:
    s = WindowMemoryStorage()
    for key in ("a", "a", "b"):
        hit(s, key)
    asyncio.run(s.clear("a"))
    assert s.hits == held(s) == 1
    asyncio.run(s.reset())
    assert s.hits == 0 and not s.windows

