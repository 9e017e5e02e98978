"""``import agora_token`` stays lean (issue 20: no slower than ``import json``).

What is checked is which modules the import loads, in a fresh interpreter,
never how long it takes: typing, dataclasses/inspect, hmac/hashlib, re and
struct, and the parts only some tokens need (the pure-Python core, the 006
format, ``describe_token``), come in when something first asks for them.
docs/benchmarks.md has the timing (``python -X importtime``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing

import pytest

import agora_token as at
from agora_token import builders, services, tokens
from agora_token._layout import LAYOUTS, Field
from agora_token.legacy import AccessToken006
from tests.support.cores import load_core
from tests.support.credentials import APP_CERTIFICATE, APP_ID
from tests.support.vectors import ROOT

#: never loaded by ``import agora_token`` with the compiled core
NOT_LOADED = (
    "typing", "dataclasses", "inspect", "hmac", "hashlib", "_hashlib", "re", "struct", "zlib", "warnings",
    "collections.abc", "datetime",
    "agora_token._pack_py", "agora_token.legacy", "agora_token.description",
)

_CHILD = """
import json, sys
before = set(sys.modules)
import agora_token
loaded = set(sys.modules) - before
exec(sys.stdin.read())  # then what the test asks; and say what came in
print(json.dumps({"backend": agora_token.BACKEND, "import": sorted(loaded),
                  "later": sorted(set(sys.modules) - before - loaded - {"json"})}))
"""


def _fresh(*, then: str = "", no_extensions: bool = False) -> dict[str, typing.Any]:
    env = {k: v for k, v in os.environ.items() if k != "AGORA_TOKEN_NO_EXTENSIONS"}
    if no_extensions:
        env["AGORA_TOKEN_NO_EXTENSIONS"] = "1"
    proc = subprocess.run([sys.executable, "-c", _CHILD], input=then, cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    result: dict[str, typing.Any] = json.loads(proc.stdout)
    return result


needs_compiled = pytest.mark.skipif(load_core("cython") is None, reason="the compiled core is not built")


@needs_compiled
def test_import_with_the_compiled_core_loads_none_of_the_heavy_modules() -> None:
    child = _fresh()
    assert child["backend"] == "cython"
    assert "agora_token._pack" in child["import"]
    assert sorted(set(NOT_LOADED) & set(child["import"])) == []


@needs_compiled
def test_tokens_of_every_kind_need_no_pure_python_core() -> None:
    """Building, parsing and verifying (RTM2 permissions included, whose map
    checks the compiled core takes from ``_validate``) never load ``_pack_py``;
    a core built without libz compresses with ``_pack_py``'s ``_compress``
    (its allocator note), so there it comes in with the first token."""
    core = load_core("cython")
    if core is None or core.FEATURES["zlib"] != "libz":
        pytest.skip("a compiled core without libz loads _pack_py to compress")
    child = _fresh(then="\n".join([
        f"a, c = {APP_ID!r}, {APP_CERTIFICATE!r}",
        "from agora_token import RtmTokenBuilder, parse, rtc_token, verify",
        "t = RtmTokenBuilder.build_token_with_permissions(a, c, 'u', {1: {0: ['ch']}}, 600)",
        "assert verify(t, c) and parse(t).services[0].permissions == {1: {0: ['ch']}}",
        "assert verify(rtc_token(a, c, 'ch', 42), c)",
    ]))
    assert "agora_token._pack_py" not in child["later"]
    assert "hmac" not in child["later"]


def test_what_loads_on_first_use() -> None:
    """The 006 format with the first 006 token, the ``typing.Union`` aliases
    with their first lookup; the pure-Python core when it is the one asked for."""
    token = AccessToken006(APP_ID, APP_CERTIFICATE, "ch", 42).build()
    child = _fresh(then=f"assert agora_token.verify({token!r}, {APP_CERTIFICATE!r}, channel_name='ch', uid=42)")
    assert "agora_token.legacy" in child["later"]
    child = _fresh(then="agora_token.Token")
    assert "typing" in child["later"]
    child = _fresh(no_extensions=True)
    assert child["backend"] == "python"
    assert "agora_token._pack_py" in child["import"]
    assert sorted({"typing", "dataclasses", "inspect"} & set(child["import"])) == []


def test_lazy_aliases_are_the_typing_unions_they_were() -> None:
    assert at.Token == tokens.Token == typing.Union[at.AccessToken, AccessToken006]
    assert builders.Uid == typing.Union[int, str]
    assert services.AnyPermissions == typing.Union[services.Rtm2Permissions, services.PermissionMap]
    from agora_token.services import AnyPermissions  # a from-import goes through the module __getattr__ too

    assert AnyPermissions is services.AnyPermissions
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        tokens.Nope  # noqa: B018 - the lookup is the test


def test_layout_records_compare_by_value_and_are_read_only() -> None:
    rtc = LAYOUTS[1]
    assert rtc.field_names == ("channel_name", "uid")
    assert rtc.fields[1] == Field("uid", "uid", "uid") and hash(rtc.fields[1]) == hash(Field("uid", "uid", "uid"))
    assert rtc != LAYOUTS[2] and rtc.fields[0] != ("channel_name", "str", "channel")
    assert repr(rtc.fields[0]) == "Field(name='channel_name', kind='str', json_name='channel')"
    with pytest.raises(AttributeError):
        rtc.name = "other"
