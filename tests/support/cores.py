"""The two token cores as modules, for tests that compare them directly."""

from __future__ import annotations

import importlib
from types import ModuleType

CORES = ("cython", "python")
_MODULES = {"cython": "agora_token._pack", "python": "agora_token._pack_py"}

__all__ = ["CORES", "cores", "load_core"]


def load_core(name: str) -> ModuleType | None:
    """The core ``name`` ("cython" or "python"); None when it is not built."""
    try:
        return importlib.import_module(_MODULES[name])
    except ImportError:
        return None


def cores() -> dict[str, ModuleType]:
    """{"cython": ..., "python": ...}, without "cython" when it is not built."""
    found = {name: load_core(name) for name in CORES}
    return {name: module for name, module in found.items() if module is not None}
