"""Concurrency and backend selection."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import agora_token as at
from agora_token._salt import new_salt
from tests.support.credentials import APP_CERTIFICATE as CERT
from tests.support.credentials import APP_ID


def _work(i: int) -> tuple[int, bool, str, str]:
    tok = at.AccessToken(APP_ID, CERT, expire=600, issue_ts=1_700_000_000 + i, salt=i + 1)
    tok.add_service(at.ServiceRtc(f"ch-{i}", i))
    tok.add_service(at.ServiceRtm(f"user-{i}" * (i % 7 + 1)))
    token = tok.build()
    parsed = at.parse(token)
    rtc = parsed.services[0]
    return i, at.verify(token, CERT), rtc.channel_name, token


@pytest.mark.usefixtures("core")
def test_many_threads_build_correct_tokens() -> None:
    n = 4000
    expected = {i: _work(i)[3] for i in range(0, n, 97)}  # single-threaded reference
    barrier = threading.Barrier(8)

    def run(chunk: range) -> list[tuple[int, bool, str, str]]:
        barrier.wait()
        return [_work(i) for i in chunk]

    with ThreadPoolExecutor(8) as pool:
        results = [r for part in pool.map(run, [range(k, n, 8) for k in range(8)]) for r in part]
    assert len(results) == n
    for i, ok, channel, token in results:
        assert ok and channel == f"ch-{i}"
        if i in expected:
            assert token == expected[i]


def test_backend_name() -> None:
    assert at.BACKEND in ("cython", "python")
    forced = os.environ.get("AGORA_TOKEN_NO_EXTENSIONS", "") not in ("", "0")
    if forced:
        assert at.BACKEND == "python"


def test_env_var_forces_fallback() -> None:
    env = dict(os.environ, AGORA_TOKEN_NO_EXTENSIONS="1")
    out = subprocess.run([sys.executable, "-c", "import agora_token; print(agora_token.BACKEND)"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "python"


def test_forked_children_do_not_repeat_parent_salts() -> None:
    import multiprocessing

    new_salt()  # the parent now holds a batch of random salts
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        child_salts = pool.map(_salts, [50, 50])
    parent = _salts(50)
    assert child_salts[0] != child_salts[1]
    assert child_salts[0] != parent and child_salts[1] != parent


def _salts(n: int) -> list[int]:
    return [new_salt() for _ in range(n)]


def test_salts_are_in_range_and_spread() -> None:
    salts = [new_salt() for _ in range(20000)]
    assert min(salts) >= 1 and max(salts) <= 99999999
    assert len(set(salts)) > 19900
