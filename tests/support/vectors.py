"""The reference token vectors: ``../shared/vectors`` when present (the
source of truth), else the checked copy in ``tests/vectors``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VECTOR_DIRS = (ROOT.parent / "shared" / "vectors", ROOT / "tests" / "vectors")
FILE_007 = "accesstoken2.json"
FILE_006 = "accesstoken006.json"

__all__ = ["FILE_006", "FILE_007", "VECTOR_DIRS", "load_vectors", "vectors_dir"]


def vectors_dir() -> Path:
    for d in VECTOR_DIRS:
        if (d / FILE_007).is_file() and (d / FILE_006).is_file():
            return d
    raise FileNotFoundError(f"test vectors not found in any of {[str(d) for d in VECTOR_DIRS]}")


def load_vectors(name: str) -> dict[str, Any]:
    """The parsed vector file ``name`` (``FILE_007`` or ``FILE_006``)."""
    with open(vectors_dir() / name, encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data
