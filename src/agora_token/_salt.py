"""Token salts: uniform in 1..99999999 like the official builders, from the
OS CSPRNG in batches (one ``os.urandom`` call per 1,024 salts)."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator

from .constants import SALT_MAX

__all__ = ["new_salt"]

# next() on the batch iterator is a single C call, so threads never share a
# value; a forked child drops the parent's batch so it never repeats them.
_SALT_LIMIT = (1 << 32) // SALT_MAX * SALT_MAX  # reject above this: no modulo bias
_salt_iter: Iterator[tuple[int]] = iter(())


def _refill() -> Iterator[tuple[int]]:
    global _salt_iter
    _salt_iter = struct.iter_unpack("<I", os.urandom(4096))
    return _salt_iter


def _forget_salts() -> None:
    global _salt_iter
    _salt_iter = iter(())


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_salts)


def new_salt() -> int:
    """A fresh salt in 1..99999999."""
    while True:
        item = next(_salt_iter, None)
        if item is None:
            item = next(_refill())
        if item[0] < _SALT_LIMIT:
            return item[0] % SALT_MAX + 1
