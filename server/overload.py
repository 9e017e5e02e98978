"""Load shedding: a token request is answered at once with ``503
{"error": ...}`` and ``Retry-After: 1`` instead of being served when

* it has waited more than ``MAX_QUEUE_WAIT`` seconds (default 1) in this
  worker since its request head was read: a burst of new connections is read
  in one go and then served in turn, and a client that waited seconds has
  usually given up already, so that work would be wasted; or
* ``MAX_INFLIGHT`` token requests (default 128) are already in progress in
  this worker, waiting on something (a request body, Redis, the identity
  provider): a slow dependency then costs fast 503s, not a growing pile.

The requests that are served stay fast. ``/ping``, ``/healthz`` and
``/metrics`` are never shed (a load balancer must not take a busy but healthy
replica out). Shed requests are counted in ``agora_token_requests_shed_total``.

Clients should retry a 503 after ``Retry-After`` seconds plus random jitter,
with exponential backoff (see docs/deployment.md).

``TEST_HOLD_FILE`` is for tests only: while the file it names exists,
admitted token requests wait before they are served (so a test can fill the
in-flight cap deterministically).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Mapping, Optional

from .env import env_int, env_seconds, env_str

__all__ = ["DEFAULT_MAX_INFLIGHT", "OverloadSettings", "parse_overload_settings", "wait_while_held"]

DEFAULT_MAX_INFLIGHT = 128
DEFAULT_MAX_QUEUE_WAIT = 1.0
RETRY_AFTER = "1"
SHED_MESSAGE = "the service is overloaded: retry after the Retry-After delay (with random jitter)"


@dataclass(frozen=True)
class OverloadSettings:
    #: token requests in progress per worker before new ones are shed (0: no cap)
    max_inflight: int = DEFAULT_MAX_INFLIGHT
    #: seconds a token request may wait in a worker before it is shed (0: no budget)
    max_queue_wait: float = DEFAULT_MAX_QUEUE_WAIT
    hold_file: Optional[str] = None


def parse_overload_settings(env: Mapping[str, str]) -> OverloadSettings:
    return OverloadSettings(env_int(env, "MAX_INFLIGHT", DEFAULT_MAX_INFLIGHT, 0, 1_000_000),
                            env_seconds(env, "MAX_QUEUE_WAIT", DEFAULT_MAX_QUEUE_WAIT, 0, 600),
                            env_str(env, "TEST_HOLD_FILE") or None)


async def wait_while_held(path: str) -> None:
    """Tests only: wait while ``path`` exists."""
    while os.path.exists(path):
        await asyncio.sleep(0.02)
