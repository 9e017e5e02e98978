"""Admission and load shedding. A request is taken on in this order
(:mod:`server.pipeline`): its head; authentication (headers only); its
body; the queueing-time budget; the rate limit; the in-flight cap. Work a
client has not finished sending never uses the budget that protects everyone:

* ``MAX_UNFINISHED_PER_CLIENT`` (default 8): requests whose body is still
  arriving in this worker, per authenticated caller (else per client
  address, IPv6 by prefix). One more gets ``429`` with ``Retry-After: 1`` and its connection
  closed; the wait for each body is bounded by ``HTTP_BODY_TIMEOUT`` (``408``).

A token request whose body is complete is answered at once with ``503
{"error": ...}`` and ``Retry-After: 1`` instead of being served when

* it has waited more than ``MAX_QUEUE_WAIT`` seconds (default 1) in this
  worker since its body was complete (with the head, usually): a burst of
  new connections is read in one go and then served in turn, and a client
  that waited seconds has usually given up already, so that work would be
  wasted; or
* ``MAX_INFLIGHT`` token requests (default 128) that passed the rate limit
  are already being served in this worker: a slow dependency then costs fast
  503s, not a growing pile. Requests still sending their body, still being
  authenticated or refused by the rate limit are not counted.

The requests that are served stay fast. ``/ping``, ``/healthz``, ``/readyz``
and ``/metrics`` are never shed (a load balancer must not take a busy but
healthy replica out). Shed requests are counted in
``agora_token_requests_shed_total``.

Clients should retry a 503 after ``Retry-After`` seconds plus random jitter,
with exponential backoff (see docs/deployment.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .env import env_int, env_seconds

__all__ = ["DEFAULT_MAX_INFLIGHT", "DEFAULT_MAX_UNFINISHED", "OverloadSettings", "VARIABLES",
           "parse_overload_settings"]

DEFAULT_MAX_INFLIGHT = 128
DEFAULT_MAX_QUEUE_WAIT = 1.0
DEFAULT_MAX_UNFINISHED = 8
RETRY_AFTER = "1"
SHED_MESSAGE = "the service is overloaded: retry after the Retry-After delay (with random jitter)"
UNFINISHED_MESSAGE = ("too many requests from this client are still sending their body "
                      "(MAX_UNFINISHED_PER_CLIENT={}): finish those first")


@dataclass(frozen=True)
class OverloadSettings:
    #: token requests in progress per worker before new ones are shed (0: no cap)
    max_inflight: int = DEFAULT_MAX_INFLIGHT
    #: seconds a token request may wait in a worker, from its complete body, before it is shed (0: no budget)
    max_queue_wait: float = DEFAULT_MAX_QUEUE_WAIT
    #: requests whose body is still arriving, per caller or client (0: no cap)
    max_unfinished: int = DEFAULT_MAX_UNFINISHED


#: the variables :func:`parse_overload_settings` reads
VARIABLES = ("MAX_INFLIGHT", "MAX_QUEUE_WAIT", "MAX_UNFINISHED_PER_CLIENT")


def parse_overload_settings(env: Mapping[str, str]) -> OverloadSettings:
    return OverloadSettings(env_int(env, "MAX_INFLIGHT", DEFAULT_MAX_INFLIGHT, 0, 1_000_000),
                            env_seconds(env, "MAX_QUEUE_WAIT", DEFAULT_MAX_QUEUE_WAIT, 0, 600),
                            env_int(env, "MAX_UNFINISHED_PER_CLIENT", DEFAULT_MAX_UNFINISHED, 0, 1_000_000))

