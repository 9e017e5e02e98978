"""The two token cores as modules, for tests that compare them directly."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Callable

CORES = ("cython", "python")
_MODULES = {"cython": "agora_token._pack", "python": "agora_token._pack_py"}

__all__ = ["CORES", "cores", "load_core", "outcome"]


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


def outcome(fn: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    """("ok", result) or (exception type name, message): what the two cores must agree on."""
    try:
        return ("ok", fn(*args))
    except Exception as exc:  # noqa: BLE001 - the outcome, whatever it is, is compared
        return (type(exc).__name__, str(exc))
