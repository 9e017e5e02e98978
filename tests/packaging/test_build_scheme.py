"""No silent slow path, no sticky cache (docs/packaging.md, "Without a C compiler").

Real sdists and wheels, built in temporary directories with this venv's pip
(offline: ``--no-build-isolation --no-index``), each pip run with its own
``PIP_CACHE_DIR`` and none of this machine's pip configuration:

(a) without a C compiler the build fails, with a message that says what is
    missing, how to get it and how to ask for the pure-Python core;
(b) ``AGORA_TOKEN_NO_EXTENSIONS=1`` builds a ``py3-none-any`` wheel whose
    BACKEND is "python" (from an sdist only with pip's cache off);
(c) nothing a machine without a compiler does leaves a wheel in pip's cache
    that a later install of the same sdist on a machine that can compile
    would reuse: that install ends with BACKEND "cython";
(d) a normal build gives a platform wheel with BACKEND "cython".

Two compiled builds: about a minute in all.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.packaging.support import (
    NO_COMPILER_MESSAGE,
    REFUSED_MESSAGE,
    build_sdist,
    cached_wheels,
    clean_env,
    compiled_modules,
    copy_project,
    fresh_venv,
    install_from_index,
    install_wheel,
    installed,
    pip,
    venv_python,
    wheel_from,
)

pytestmark = pytest.mark.slow

FEATURES_LINE = re.compile(r"agora-token: building agora_token\._pack: zlib=(libz|python) sha256=(libcrypto|builtin)")


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("packaging")


@pytest.fixture(scope="module")
def project(work: Path) -> Path:
    return copy_project(work / "project")


@pytest.fixture(scope="module")
def index(work: Path, project: Path) -> Path:
    """A one-package index: the project's sdist (pip finds it by name, as on PyPI)."""
    out = work / "index"
    out.mkdir()
    build_sdist(project, out)
    return out


@pytest.fixture(scope="module")
def sdist(index: Path) -> Path:
    (path,) = index.glob("agora_token-*.tar.gz")
    return path


@pytest.fixture()
def outside(tmp_path: Path) -> Iterator[Path]:
    """A working directory outside the source tree."""
    d = tmp_path / "cwd"
    d.mkdir()
    yield d


def no_compiler_env(tmp_path: Path, how: str, **extra: str) -> dict[str, str]:
    if how == "PATH":  # no gcc / cc anywhere on PATH (the interpreter is run by absolute path)
        empty = tmp_path / "empty-path"
        empty.mkdir(exist_ok=True)
        return clean_env(PATH=str(empty), **extra)
    return clean_env(CC="/bin/false", **extra)  # a compiler that fails every compile


# ------------------------------------------------------------------- (a)

@pytest.mark.parametrize("how", ["PATH", "CC=/bin/false"])
def test_a_without_a_compiler_the_build_fails_clearly(how: str, sdist: Path, tmp_path: Path,
                                                      outside: Path) -> None:
    cache = tmp_path / "cache"
    run = wheel_from(sdist, tmp_path / "out", no_compiler_env(tmp_path, how, PIP_CACHE_DIR=str(cache)), outside)
    assert run.returncode != 0, run.output
    assert NO_COMPILER_MESSAGE in run.output, run.output
    for hint in ("apt-get install gcc python3-dev", "dnf install gcc python3-devel", "xcode-select --install",
                 "Microsoft C++ Build Tools", "AGORA_TOKEN_NO_EXTENSIONS=1 PIP_NO_CACHE_DIR=1 pip install"):
        assert hint in run.output, hint
    assert not list(tmp_path.glob("out/*.whl"))
    assert cached_wheels(cache) == []


def test_a_without_python_headers_the_build_fails_clearly(sdist: Path, tmp_path: Path, outside: Path) -> None:
    # CFLAGS come before the interpreter's include directory: this Python.h wins
    fake = tmp_path / "fake-include"
    fake.mkdir()
    (fake / "Python.h").write_text("#error no Python headers here\n")
    env = clean_env(CFLAGS=f"-g0 -I{fake}", PIP_CACHE_DIR=str(tmp_path / "cache"))
    run = wheel_from(sdist, tmp_path / "out", env, outside)
    assert run.returncode != 0, run.output
    assert "headers (Python.h) are missing" in run.output, run.output
    assert "no Python headers here" in run.output  # the compiler's own words, one line


# ------------------------------------------------------------------- (b)

def test_b_opt_in_from_a_directory_builds_a_pure_wheel(project: Path, tmp_path: Path, outside: Path) -> None:
    cache = tmp_path / "cache"
    run = wheel_from(project, tmp_path / "out",
                     clean_env(AGORA_TOKEN_NO_EXTENSIONS="1", PIP_CACHE_DIR=str(cache)), outside)
    assert run.returncode == 0, run.output
    (wheel,) = (tmp_path / "out").glob("*.whl")
    assert wheel.name.endswith("-py3-none-any.whl")
    assert compiled_modules(wheel) == []
    assert cached_wheels(cache) == []  # pip never caches a local directory


def test_b_opt_in_from_an_sdist_needs_the_cache_off(sdist: Path, tmp_path: Path, outside: Path) -> None:
    cache = tmp_path / "cache"
    refused = wheel_from(sdist, tmp_path / "out",
                         clean_env(AGORA_TOKEN_NO_EXTENSIONS="1", PIP_CACHE_DIR=str(cache)), outside)
    assert refused.returncode != 0, refused.output
    assert REFUSED_MESSAGE in refused.output and "PIP_NO_CACHE_DIR=1" in refused.output, refused.output
    assert cached_wheels(cache) == []

    run = wheel_from(sdist, tmp_path / "out",
                     clean_env(AGORA_TOKEN_NO_EXTENSIONS="1", PIP_NO_CACHE_DIR="1", PIP_CACHE_DIR=str(cache)),
                     outside)
    assert run.returncode == 0, run.output
    (wheel,) = (tmp_path / "out").glob("*.whl")
    assert wheel.name.endswith("-py3-none-any.whl") and compiled_modules(wheel) == []
    assert cached_wheels(cache) == []

    venv = fresh_venv(tmp_path / "venv")
    done = install_wheel(wheel, venv, outside)
    assert done.returncode == 0, done.output
    got = installed(venv, outside)  # importing it raises no warning: it was asked for
    assert got["backend"] == "python"
    assert got["version"].endswith("(backend: python; sha256: python, zlib: python)"), got["version"]


@pytest.mark.parametrize("command", ["wheel", "install"])
def test_b_opt_in_from_a_pinned_git_url_needs_the_cache_off(command: str, project: Path, tmp_path: Path,
                                                            outside: Path) -> None:
    """pip caches a build from a git URL pinned to a commit; it clones into its own
    temporary directory (pip-wheel-*/NAME_HEX, pip-install-*/NAME_HEX)."""
    repo = tmp_path / "repo"
    shutil.copytree(project, repo)
    git = ["git", "-C", str(repo), "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
        subprocess.run([*git, *args], check=True, capture_output=True, timeout=60)
    sha = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    requirement = f"agora-token @ git+{repo.as_uri()}@{sha}"
    cache = tmp_path / "cache"
    args = (["wheel", "-w", str(tmp_path / "out")] if command == "wheel"
            else ["install", "--ignore-installed", "--prefix", str(fresh_venv(tmp_path / "venv"))])
    run = pip([*args, "--no-build-isolation", "--no-deps", "--no-index", requirement],
              clean_env(AGORA_TOKEN_NO_EXTENSIONS="1", PIP_CACHE_DIR=str(cache)), outside)
    assert run.returncode != 0 and REFUSED_MESSAGE in run.output, run.output
    assert cached_wheels(cache) == []


# ------------------------------------------------------------------- (c)

def test_c_no_fallback_reaches_the_cache_of_a_later_install(index: Path, tmp_path: Path, outside: Path) -> None:
    """One pip cache, the same sdist by name (as from PyPI), in the order a user would meet them."""
    cache = tmp_path / "pip-cache"
    env = {"PIP_CACHE_DIR": str(cache)}

    # 1. a machine without a compiler: the install fails, nothing is cached or installed
    venv_a = fresh_venv(tmp_path / "venv-a")
    run = install_from_index(index, venv_a, no_compiler_env(tmp_path, "PATH", **env), outside)
    assert run.returncode != 0 and NO_COMPILER_MESSAGE in run.output, run.output
    assert cached_wheels(cache) == []

    # 2. it asks for the pure-Python core, with pip's cache on: refused (pip would cache it)
    run = install_from_index(index, venv_a, no_compiler_env(tmp_path, "PATH", AGORA_TOKEN_NO_EXTENSIONS="1", **env),
                             outside)
    assert run.returncode != 0 and REFUSED_MESSAGE in run.output, run.output
    assert cached_wheels(cache) == []

    # 3. ... with the cache off, as the message says: the pure core, and still nothing cached
    run = install_from_index(index, venv_a, no_compiler_env(tmp_path, "PATH", AGORA_TOKEN_NO_EXTENSIONS="1",
                                                            PIP_NO_CACHE_DIR="1", **env), outside)
    assert run.returncode == 0, run.output
    assert installed(venv_a, outside)["backend"] == "python"
    assert cached_wheels(cache) == []

    # 4. later, a machine that can compile, same cache, same sdist: built, compiled
    venv_b = fresh_venv(tmp_path / "venv-b")
    run = install_from_index(index, venv_b, clean_env(**env), outside)
    assert run.returncode == 0, run.output
    assert "Building wheel for agora-token" in run.output
    got = installed(venv_b, outside)
    assert got["backend"] == "cython", got
    (cached,) = cached_wheels(cache)
    assert not cached.endswith("-none-any.whl"), cached

    # 5. and the cache works: the next install takes that compiled wheel without building
    venv_c = fresh_venv(tmp_path / "venv-c")
    run = install_from_index(index, venv_c, clean_env(**env), outside)
    assert run.returncode == 0, run.output
    assert f"Using cached {cached}" in run.output and "Building wheel" not in run.output, run.output
    assert installed(venv_c, outside)["backend"] == "cython"


# ------------------------------------------------------------------- (d)

def test_d_a_normal_build_is_a_compiled_platform_wheel(sdist: Path, tmp_path: Path, outside: Path) -> None:
    run = pip(["wheel", "-v", "--no-build-isolation", "--no-deps", "--no-index", "-w", str(tmp_path / "out"),
               str(sdist)], clean_env(PIP_CACHE_DIR=str(tmp_path / "cache")), outside)
    assert run.returncode == 0, run.output
    (wheel,) = (tmp_path / "out").glob("*.whl")
    assert not wheel.name.endswith("-none-any.whl"), wheel.name
    assert re.search(r"-cp\d+-cp\d+t?-", wheel.name), wheel.name
    assert any(name.startswith("agora_token/_pack") for name in compiled_modules(wheel))
    line = FEATURES_LINE.search(run.output)  # the build says what the core links (pip -v shows it)
    assert line is not None, run.output

    venv = fresh_venv(tmp_path / "venv")
    done = install_wheel(wheel, venv, outside)
    assert done.returncode == 0, done.output
    got = installed(venv, outside)
    assert got["backend"] == "cython", got
    zlib, sha256 = line.group(1), line.group(2)
    shown = f"{sha256}(\\+sha-ni)?" if sha256 == "builtin" else sha256  # on the CPU's SHA extensions, if any
    assert re.search(rf"\(backend: cython; sha256: {shown}, zlib: {zlib}\)$", got["version"]), got["version"]
    assert venv_python(venv).exists()
