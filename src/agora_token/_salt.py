"""Token salts: uniform in 1..99999999 like the official builders, from the
OS CSPRNG in batches (one ``os.urandom`` call per about 1,000 salts)."""

from __future__ import annotations

import os

from .constants import SALT_MAX

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["new_salt"]

# A batch is a list of ready salts behind an iterator: next() on it is a single C
# call, so threads never share a value; a forked child drops the parent's batch
# so it never repeats them.
_SALT_LIMIT = (1 << 32) // SALT_MAX * SALT_MAX  # reject above this: no modulo bias
_BATCH_BYTES = 4096
_salts: Iterator[int] = iter(())


def _refill() -> int:
    """A new batch; returns its first salt."""
    global _salts
    import struct  # here: one batch per ~1,000 salts, and import agora_token does without struct

    batch: list[int] = []
    while not batch:
        batch = [x % SALT_MAX + 1 for (x,) in struct.iter_unpack("<I", os.urandom(_BATCH_BYTES))
                 if x < _SALT_LIMIT]
    _salts = iter(batch)
    return next(_salts)


def _forget_salts() -> None:
    global _salts
    _salts = iter(())


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_salts)


def new_salt() -> int:
    """A fresh salt in 1..99999999."""
    return next(_salts, 0) or _refill()
