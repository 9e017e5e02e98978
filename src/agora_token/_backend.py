"""Picks the token core: the compiled ``_pack`` extension when it is built
and not disabled, else the pure-Python ``_pack_py``. Set
``AGORA_TOKEN_NO_EXTENSIONS=1`` (before import) to force the fallback.

Every other module calls the core through this module's attributes
(``_backend.build_007(...)``), never a copy of them, so the tests can swap
the core for one test.
"""

from __future__ import annotations

import os

NO_EXTENSIONS = os.environ.get("AGORA_TOKEN_NO_EXTENSIONS", "") not in ("", "0")

if not NO_EXTENSIONS:
    try:
        from ._pack import (
            BACKEND,
            FEATURES,
            build_006,
            build_007,
            parse_006,
            parse_007,
            verify_006,
            verify_007,
        )
    except ImportError:  # no compiled wheel for this platform
        NO_EXTENSIONS = True

if NO_EXTENSIONS:
    from ._pack_py import (
        BACKEND,
        FEATURES,
        build_006,
        build_007,
        parse_006,
        parse_007,
        verify_006,
        verify_007,
    )

__all__ = ["BACKEND", "FEATURES", "build_006", "build_007", "parse_006", "parse_007", "verify_006",
           "verify_007"]
