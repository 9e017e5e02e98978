"""Picks the token core: the compiled ``_pack`` extension when it is built
and not disabled, else the pure-Python ``_pack_py``. Set
``AGORA_TOKEN_NO_EXTENSIONS=1`` (before import) to force the fallback.

An install holds no ``_pack`` only when someone asked for that (setup.py
fails without a C compiler unless ``AGORA_TOKEN_NO_EXTENSIONS=1`` asks for
the pure-Python core; docs/packaging.md), so its absence is silent:
``BACKEND`` and ``agora-token --version`` tell. A ``_pack`` that is there but
fails to load (a missing shared library, a wrong ABI) is not a choice: that
falls back with a one-time ``RuntimeWarning``.

Every other module calls the core through this module's attributes
(``_backend.build_007(...)``), never a copy of them, so the tests can swap
the core for one test. Only the active core is imported: with the compiled
one, ``_pack_py`` (and its ``hmac``) loads only when something asks for it.
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
    except ImportError as exc:
        if not (isinstance(exc, ModuleNotFoundError) and exc.name == f"{__package__}._pack"):
            import warnings

            warnings.warn(
                f"agora_token: the compiled core is installed but does not load ({exc}); using the "
                "pure-Python core (same tokens, slower). Reinstall agora-token, or set "
                "AGORA_TOKEN_NO_EXTENSIONS=1 to choose the pure-Python core without this warning.",
                RuntimeWarning, stacklevel=2)
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
