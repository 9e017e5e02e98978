"""Picks the token core: the compiled ``_pack`` extension when it is built
and not disabled, else the pure-Python ``_pack_py``. Set
``AGORA_TOKEN_NO_EXTENSIONS=1`` (before import) to force the fallback.

Every other module imports the core from here and nowhere else.
"""

from __future__ import annotations

import os

NO_EXTENSIONS = os.environ.get("AGORA_TOKEN_NO_EXTENSIONS", "") not in ("", "0")

if not NO_EXTENSIONS:
    try:
        from ._pack import (  # noqa: F401
            BACKEND,
            build_v1,
            build_v2,
            parse_v1,
            parse_v2,
            verify_v1,
            verify_v2,
        )
    except ImportError:  # no compiled wheel for this platform
        NO_EXTENSIONS = True

if NO_EXTENSIONS:
    from ._pack_py import (  # noqa: F401
        BACKEND,
        build_v1,
        build_v2,
        parse_v1,
        parse_v2,
        verify_v1,
        verify_v2,
    )

__all__ = ["BACKEND", "build_v1", "build_v2", "parse_v1", "parse_v2", "verify_v1", "verify_v2"]
