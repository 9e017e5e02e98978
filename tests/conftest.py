"""Shared test setup.

The whole suite runs once per backend (``make test``): with the compiled
core, then with ``AGORA_TOKEN_NO_EXTENSIONS=1``. ``AGORA_TOKEN_EXPECT_BACKEND``
makes the run fail loudly if the expected backend is not the active one (for
example if the extension silently failed to build).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import agora_token

ROOT = Path(__file__).resolve().parent.parent
VECTOR_DIRS = [ROOT.parent / "shared" / "vectors", ROOT / "tests" / "vectors"]


def vectors_dir() -> Path:
    for d in VECTOR_DIRS:
        if (d / "accesstoken2.json").is_file():
            return d
    raise RuntimeError(f"test vectors not found in any of {VECTOR_DIRS}")


def load_vectors(name: str) -> dict[str, Any]:
    with open(vectors_dir() / name, encoding="utf-8") as f:
        return json.load(f)  # type: ignore[no-any-return]


def pytest_report_header(config: pytest.Config) -> str:
    return f"agora_token backend: {agora_token.BACKEND}"


def pytest_sessionstart(session: pytest.Session) -> None:
    expected = os.environ.get("AGORA_TOKEN_EXPECT_BACKEND")
    if expected and agora_token.BACKEND != expected:
        raise pytest.UsageError(
            f"expected the {expected!r} backend but {agora_token.BACKEND!r} is active "
            "(did the extension fail to build?)")


@pytest.fixture(scope="session")
def vectors007() -> list[dict[str, Any]]:
    return load_vectors("accesstoken2.json")["vectors"]  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def vectors007_meta() -> dict[str, Any]:
    return load_vectors("accesstoken2.json")


@pytest.fixture(scope="session")
def vectors006() -> list[dict[str, Any]]:
    return load_vectors("accesstoken006.json")["vectors"]  # type: ignore[no-any-return]
