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


def test_a_cap_above_the_open_file_limit_is_lowered_to_fit() -> None:
    import resource

    from agora_token_server.connections import FD_HEADROOM, connection_cap_warning, effective_max_connections

    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return
    fits = ConnectionSettings(max_connections=soft - FD_HEADROOM)
    assert effective_max_connections(fits) == soft - FD_HEADROOM and connection_cap_warning(fits) is None
    too_many = ConnectionSettings(max_connections=soft * 2)
    assert effective_max_connections(too_many) == soft - FD_HEADROOM
    warning = connection_cap_warning(too_many)
    assert warning is not None and f"HTTP_MAX_CONNECTIONS={soft * 2}" in warning
    assert f"at most {soft - FD_HEADROOM} connections" in warning


class FakeWaiter:
    def done(self) -> bool:
        return False


def test_only_connections_waiting_for_a_next_request_are_idle() -> None:
    """The drain closes kept-alive connections between requests; a connection
    still waiting for its first request head (just accepted: its client is
    sending one) is not idle."""
    from agora_token_server.connections import ServiceProtocol

    def conn(requests: int, head_since: float | None, waiting: bool) -> Any:
        c = ServiceProtocol.__new__(ServiceProtocol)
        c._request_count = requests
        c.head_since = head_since
        c._waiter = FakeWaiter() if waiting else None
        return c

    assert conn(1, None, True).idle
    assert not conn(0, 1.0, True).idle  # fresh
    assert not conn(1, 5.0, True).idle  # a next head on its way
    assert not conn(1, None, False).idle  # serving a request
