"""Which core an install runs, and when it says so (docs/packaging.md).

A compiled core that is absent was asked for (the build fails otherwise), so
its absence is silent and ``agora-token --version`` tells; a compiled core
that is there but does not load is not a choice: a one-time RuntimeWarning.
Each case runs in a fresh interpreter that makes ``agora_token._pack``
absent or broken with an import hook.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.packaging.support import ROOT

HOOK = """
import sys, warnings
class Hook:
    def find_spec(self, name, path=None, target=None):
        if name == "agora_token._pack":
            if MODE == "absent":
                raise ModuleNotFoundError("No module named 'agora_token._pack'", name=name)
            raise ImportError("libcrypto.so.3: cannot open shared object file: No such file or directory",
                              name=name)
        return None
sys.meta_path.insert(0, Hook())
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import agora_token
    from agora_token.cli import version_text
print(agora_token.BACKEND)
print(version_text())
for w in caught:
    print(f"{w.category.__name__}: {w.message}")
"""


def run(mode: str, **env: str) -> list[str]:
    environ = {k: v for k, v in os.environ.items() if k != "AGORA_TOKEN_NO_EXTENSIONS"}
    environ.update(env)
    proc = subprocess.run([sys.executable, "-c", f"MODE = {mode!r}\n{HOOK}"], capture_output=True, text=True,
                          env=environ, cwd=str(ROOT), timeout=60, check=True)
    return proc.stdout.splitlines()


def test_absent_compiled_core_is_silent_and_version_tells() -> None:
    backend, version, *warnings = run("absent")
    assert backend == "python"
    assert version.endswith("(backend: python; sha256: python, zlib: python)"), version
    assert warnings == []


def test_broken_compiled_core_warns_once() -> None:
    backend, _version, *warnings = run("broken")
    assert backend == "python"
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("RuntimeWarning: agora_token: the compiled core is installed but does not load")
    assert "libcrypto.so.3" in warnings[0] and "AGORA_TOKEN_NO_EXTENSIONS=1" in warnings[0]


@pytest.mark.parametrize("mode", ["absent", "broken"])
def test_requested_pure_core_is_silent(mode: str) -> None:
    backend, _version, *warnings = run(mode, AGORA_TOKEN_NO_EXTENSIONS="1")
    assert backend == "python" and warnings == []
