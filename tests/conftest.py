"""Shared test setup: the vectors, the test credentials and the core fixture.

``core`` runs a test once per token core ("cython", the compiled
``agora_token._pack``, and "python", ``agora_token._pack_py``) in the same
pytest run, by pointing ``agora_token._backend`` at that core. "cython" is
skipped when the extension is not built, unless
``AGORA_TOKEN_EXPECT_BACKEND=cython`` says it must be (CI, wheel tests): then
the run fails loudly instead of passing on the fallback alone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

import agora_token
from agora_token import _backend
from tests.support.cores import CORES, load_core
from tests.support.credentials import APP_CERTIFICATE, APP_ID, OTHER_CERTIFICATE
from tests.support.vectors import FILE_006, FILE_007, load_vectors

_PATCHED = tuple(_backend.__all__)  # the core's interface, as _backend exports it


def expected_backend() -> str:
    return os.environ.get("AGORA_TOKEN_EXPECT_BACKEND", "")


def pytest_report_header(config: pytest.Config) -> str:
    built = "built" if load_core("cython") is not None else "NOT built"
    return f"agora_token backend: {agora_token.BACKEND}; compiled core {built}"


def pytest_sessionstart(session: pytest.Session) -> None:
    expected = expected_backend()
    if expected and expected != agora_token.BACKEND:
        raise pytest.UsageError(
            f"expected the {expected!r} backend but {agora_token.BACKEND!r} is active "
            "(did the extension fail to build?)")


@pytest.fixture(scope="module", params=CORES)
def core(request: pytest.FixtureRequest) -> Iterator[ModuleType]:
    """Each test that uses it runs on both cores: ``agora_token._backend``
    (which every module calls through) points at the core in turn."""
    module = load_core(request.param)
    if module is None:
        if expected_backend() == "cython":
            pytest.fail("AGORA_TOKEN_EXPECT_BACKEND=cython but agora_token._pack is not importable")
        pytest.skip("the compiled core (agora_token._pack) is not built")
    with pytest.MonkeyPatch.context() as mp:
        for name in _PATCHED:
            mp.setattr(_backend, name, getattr(module, name))
        yield module


@pytest.fixture(scope="session")
def app_id() -> str:
    return APP_ID


@pytest.fixture(scope="session")
def app_certificate() -> str:
    return APP_CERTIFICATE


@pytest.fixture(scope="session")
def other_certificate() -> str:
    return OTHER_CERTIFICATE


@pytest.fixture(scope="session")
def vectors007() -> list[dict[str, Any]]:
    return load_vectors(FILE_007)["vectors"]  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def vectors007_meta() -> dict[str, Any]:
    return load_vectors(FILE_007)


@pytest.fixture(scope="session")
def vectors006() -> list[dict[str, Any]]:
    return load_vectors(FILE_006)["vectors"]  # type: ignore[no-any-return]
