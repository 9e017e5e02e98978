"""The in-process moving-window storage (RATE_LIMIT_STORAGE=memory://): the
library's semantics, idle keys swept, and a ceiling on what it holds."""

from __future__ import annotations

import asyncio
import random
from bisect import bisect_right

import pytest

from agora_token_server import limitstore
from agora_token_server.limitstore import WindowMemoryStorage


def hit(storage: WindowMemoryStorage, key: str, limit: int = 3, expiry: int = 60) -> bool:
    """One hit, run to completion without an event loop (it never waits)."""
    step = storage.acquire_entry(key, limit, expiry)
    try:
        step.send(None)
    except StopIteration as done:
        return bool(done.value)
    raise AssertionError("acquire_entry waited")


def held(storage: WindowMemoryStorage) -> int:
    return sum(len(w.entries) for w in storage.windows.values())


def test_at_most_limit_hits_in_a_window_and_refusals_are_not_recorded() -> None:
    s = WindowMemoryStorage()
    assert [hit(s, "a") for _ in range(5)] == [True, True, True, False, False]
    assert hit(s, "b")  # another caller has its own window
    assert [w.count for w in s.windows.values()] == [3, 1]
    assert s.entries == held(s) <= 4


def test_the_window_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(limitstore.time, "time", lambda: now[0])
    s = WindowMemoryStorage()
    assert all(hit(s, "a", limit=2, expiry=10) for _ in range(2))
    now[0] += 5
    assert not hit(s, "a", limit=2, expiry=10)
    now[0] += 5.5  # the first two hits are out of the window
    assert hit(s, "a", limit=2, expiry=10)
    assert s.entries == held(s) == 1


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
    assert s.entries == held(s) == 10


def test_the_table_has_a_ceiling_and_forgets_the_least_recently_hit_first() -> None:
    s = WindowMemoryStorage(max_entries=100)
    for i in range(1000):  # long windows, many callers: without the ceiling, 1000 hits held
        assert hit(s, f"caller{i}", limit=10, expiry=3600)
    assert s.entries == held(s) <= 100
    assert s.forgotten >= 900
    assert "caller999" in s.windows and "caller0" not in s.windows
    assert limitstore.MAX_ENTRIES == 1_000_000


def test_clear_and_reset_keep_the_count() -> None:
    s = WindowMemoryStorage()
    for key in ("a", "a", "b"):
        hit(s, key)
    asyncio.run(s.clear("a"))
    assert s.entries == held(s) == 1
    asyncio.run(s.reset())
    assert s.entries == 0 and not s.windows



def test_one_hot_key_holds_what_its_limit_needs_within_the_ceiling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 18 item 11: one key hit 3,000 times (limit 3,000/h) with a
    ceiling of 1,000 held 3,000 hits."""
    now = [1000.0]
    monkeypatch.setattr(limitstore.time, "time", lambda: now[0])
    s = WindowMemoryStorage(max_entries=1000)
    for _ in range(3000):
        now[0] += 1.1  # spread over most of the hour: as many slots as there can be
        assert hit(s, "hot", limit=3000, expiry=3600)
        assert s.entries == held(s) <= s.slots + 1 <= 1000 // 2
    assert not hit(s, "hot", limit=3000, expiry=3600)  # still exact: 3,000 in the hour, no more
    assert asyncio.run(s.get("hot")) == 3000


def test_the_ceiling_holds_for_any_traffic(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(limitstore.time, "time", lambda: now[0])
    rng = random.Random(18)
    s = WindowMemoryStorage(max_entries=300)
    for _ in range(20_000):
        now[0] += rng.choice((0.0, 0.001, 0.3, 2.0))
        key = rng.choice(("hot-1", "hot-2", f"cold-{rng.randrange(10_000)}"))
        hit(s, key, limit=rng.choice((1, 50, 100_000)), expiry=rng.choice((1, 60, 3600)))
        assert s.entries == held(s) <= 300


@pytest.mark.parametrize("limit, expiry", [(3, 1), (50, 60), (1500, 3600)])
def test_never_above_the_limit_and_refused_at_most_one_slot_early(monkeypatch: pytest.MonkeyPatch, limit: int,
                                                                  expiry: int) -> None:
    now = [1000.0]
    monkeypatch.setattr(limitstore.time, "time", lambda: now[0])
    rng = random.Random(limit)
    s = WindowMemoryStorage()
    slot = expiry / s.slots
    admitted: list[float] = []
    refused = 0
    for _ in range(4 * limit):
        now[0] += rng.random() * 1.5 * expiry / limit  # a third more than the limit, in bursts
        allowed = hit(s, "k", limit=limit, expiry=expiry)
        refused += not allowed
        if allowed:
            admitted.append(now[0])
            assert len(admitted) - bisect_right(admitted, now[0] - expiry) <= limit  # never above it
        else:  # refused: a window one slot longer than the exact one is full
            assert len(admitted) - bisect_right(admitted, now[0] - expiry - slot) >= limit
    assert refused and len(admitted) >= 2 * limit
