"""The two token cores: no crash on hostile input, identical errors, one
layout table, the 006 size limit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import ModuleType
from typing import Any

import pytest

import agora_token as at
from agora_token import _layout
from agora_token.constants import MAX_006_CHANNEL_UID_BYTES
from agora_token.legacy import AccessToken006
from agora_token.services import _CLASSES
from tests.support.cores import load_core
from tests.support.credentials import APP_CERTIFICATE as CERT
from tests.support.credentials import APP_ID
from tests.support.odd_inputs import CASES, CRASH_CASES, USER_ERRORS
from tests.support.vectors import ROOT

_EXPECTED_KINDS = ("ok", "InvalidParameterError", "InvalidTokenError")


def _run_cases(names: list[str]) -> list[dict[str, Any]]:
    """Run cases in a child process on both cores: a segfault fails the test
    (and names the case) instead of killing pytest."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "tests.support.odd_inputs", *names], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    last = proc.stderr.strip().splitlines()[-1:] or ["?"]
    assert proc.returncode == 0, f"child died ({proc.returncode}) during case {last[0]!r}: {proc.stderr[-2000:]}"
    return [json.loads(line) for line in proc.stdout.splitlines()]


def _check(result: dict[str, Any]) -> None:
    name = result.pop("case")
    outcomes = list(result.values())
    assert all(o == outcomes[0] for o in outcomes), f"{name}: the cores differ: {result}"
    if name not in USER_ERRORS:
        assert outcomes[0][0] in _EXPECTED_KINDS, f"{name}: {outcomes[0]}"


@pytest.mark.parametrize("name", CRASH_CASES)
def test_crash_case_in_a_subprocess(name: str) -> None:
    (result,) = _run_cases([name])
    _check(result)


def test_every_odd_input_alike_on_both_cores() -> None:
    results = _run_cases(["--all"])
    assert len(results) == len(CASES)
    for result in results:
        _check(result)


def test_issue_11_crash_is_an_invalid_parameter_error() -> None:
    (result,) = _run_cases(["privileges items() gives lists"])
    assert result["python"] == ["InvalidParameterError", "privileges must be a mapping of privilege -> expire"]


# ------------------------------------------------------------------ one layout

def test_compiled_layout_table_matches_the_python_one() -> None:
    cpack = load_core("cython")
    if cpack is None:
        pytest.skip("compiled core (agora_token._pack) not built")
    assert dict(cpack.LAYOUT) == _layout.PACK_KINDS
    assert isinstance(cpack.LAYOUT, tuple)


def test_services_take_their_fields_from_the_layout() -> None:
    assert set(_CLASSES) == set(_layout.LAYOUTS) == set(range(1, 9))
    for t, cls in _CLASSES.items():
        layout = _layout.LAYOUTS[t]
        assert cls.type == t and cls.field_names == layout.field_names
        assert set(layout.field_names) <= set(cls.__slots__)
        svc = cls()
        assert len(svc._core()) == 2 + len(layout.fields)


# ------------------------------------------------------------ 006 size limit

@pytest.mark.usefixtures("core")
def test_006_channel_and_uid_limit_is_the_same_for_build_and_verify() -> None:
    half = MAX_006_CHANNEL_UID_BYTES // 2
    channel, uid = "c" * half, "u" * (MAX_006_CHANNEL_UID_BYTES - half)  # exactly at the limit
    tok = AccessToken006(APP_ID, CERT, channel, uid, salt=1, ts=2)
    tok.add_privilege(1, 0)
    token = tok.build()
    assert at.verify(token, CERT, channel_name=channel, uid=uid)
    with pytest.raises(at.InvalidParameterError, match="006 token allows at most 65535"):
        AccessToken006(APP_ID, CERT, channel + "c", uid)
    tok.channel_name = channel + "c"  # past the limit through the public attribute
    with pytest.raises(at.InvalidParameterError, match="006 token allows at most 65535"):
        tok.build()
    for big_channel in (channel + "c", "c" * 40000):
        with pytest.raises(at.InvalidParameterError, match="006 token allows at most 65535"):
            at.verify(token, CERT, channel_name=big_channel, uid="u" * 40000)
    with pytest.raises(at.InvalidParameterError, match="006 token allows at most"):
        AccessToken006(APP_ID, CERT, "c" * 40000, "u" * 40000)


def test_core_functions_are_named_after_the_formats(core: ModuleType) -> None:
    for name in ("build_006", "build_007", "parse_006", "parse_007", "verify_006", "verify_007"):
        assert callable(getattr(core, name))
    assert not [n for n in dir(core) if n.endswith(("_v1", "_v2"))]
    assert set(core.FEATURES) == {"sha256", "zlib"}
