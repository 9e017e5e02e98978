"""The connection cap's bookkeeping, without sockets (the real flood is in
test_hardening.py, marked slow): a batch of connections accepted in one loop
iteration (listener.py accepts every waiting one) must evict one distinct
connection per connection over the cap, not close the same one again."""

from __future__ import annotations

from typing import Any, cast

from agora_token_server.connections import ConnectionSettings, ConnectionTracker


class FakeConnection:
    """What the tracker uses of a ServiceProtocol. Closing only marks it: the
    real connection_lost (and so tracker.remove) comes in a later loop iteration."""

    def __init__(self, busy: bool = False) -> None:
        self._request_in_progress = busy
        self.closed = 0

    def force_close(self) -> None:
        self.closed += 1


def tracker(cap: int) -> ConnectionTracker:
    return ConnectionTracker(ConnectionSettings(max_connections=cap))


def test_a_batch_over_the_cap_evicts_distinct_idle_connections() -> None:
    t = tracker(20)
    conns = [FakeConnection() for _ in range(60)]
    for c in conns:
        t.add(cast(Any, c))
    assert len(t) == 20
    assert sum(c.closed for c in conns) == 40
    assert all(c.closed <= 1 for c in conns)
    assert all(c.closed == 0 for c in conns[40:])  # the oldest went first


def test_connections_serving_a_request_are_kept_and_the_newcomer_goes() -> None:
    t = tracker(2)
    busy = [FakeConnection(busy=True) for _ in range(2)]
    for c in busy:
        t.add(cast(Any, c))
    newcomer = FakeConnection()
    t.add(cast(Any, newcomer))
    assert newcomer.closed == 1 and all(c.closed == 0 for c in busy)
    assert len(t) == 2
    t.remove(cast(Any, newcomer))  # its connection_lost, later: harmless
    assert len(t) == 2
