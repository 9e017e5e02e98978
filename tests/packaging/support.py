"""Real builds for the packaging tests: a clean copy of the project, its
sdist, pip runs isolated from this machine's pip configuration, fresh venvs.

Everything is offline and uses this venv's pip, setuptools and Cython
(``--no-build-isolation --no-index``); only what the tests choose reaches a
build (no PIP_*, UV_*, AGORA_TOKEN_* or CFLAGS from the caller's shell).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 300  # seconds, for one pip run (a compiled build takes ~15 s here)
NO_COMPILER_MESSAGE = "cannot build the compiled core: no working C compiler"
REFUSED_MESSAGE = "AGORA_TOKEN_NO_EXTENSIONS=1 asks for the pure-Python core, but this build"


@dataclass
class Run:
    returncode: int
    output: str


def copy_project(dest: Path) -> Path:
    """Tracked and untracked-but-not-ignored files (nothing built in the work tree)."""
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "UV_", "AGORA_TOKEN_")) and k not in ("CFLAGS", "CC", "PYTHONPATH")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", CFLAGS="-g0")
    env.update(extra)
    return env


def pip(args: list[str], env: dict[str, str], cwd: Path) -> Run:
    proc = subprocess.run([sys.executable, "-m", "pip", *args], env=env, cwd=str(cwd), capture_output=True,
                          text=True, timeout=TIMEOUT)
    return Run(proc.returncode, proc.stdout + proc.stderr)


def build_sdist(project: Path, out: Path) -> Path:
    """The PEP 517 hook, as a frontend calls it."""
    code = "import sys, setuptools.build_meta as b; print(b.build_sdist(sys.argv[1]))"
    proc = subprocess.run([sys.executable, "-c", code, str(out)], cwd=str(project), env=clean_env(),
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out / proc.stdout.strip().splitlines()[-1]


def fresh_venv(path: Path) -> Path:
    """A venv with nothing installed (pip installs into it with --prefix)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=60)
    return path


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


INSTALL = ["install", "--no-build-isolation", "--no-deps", "--no-index", "--ignore-installed"]


def install_from_index(index: Path, venv: Path, env: dict[str, str], cwd: Path) -> Run:
    """``pip install agora-token`` with ``index`` as the package index (a
    named requirement, as from PyPI: pip looks in its wheel cache first)."""
    return pip([*INSTALL, "--find-links", str(index), "--prefix", str(venv), "agora-token"], env, cwd)


def install_wheel(wheel: Path, venv: Path, cwd: Path) -> Run:
    """Install the built ``wheel`` alone into ``venv`` (no dependencies, no index, no cache)."""
    return pip(["install", "--no-deps", "--no-index", "--ignore-installed", "--prefix", str(venv), str(wheel)],
               clean_env(PIP_NO_CACHE_DIR="1"), cwd)


def wheel_from(source: Path, out: Path, env: dict[str, str], cwd: Path) -> Run:
    return pip(["wheel", "--no-build-isolation", "--no-deps", "--no-index", "-w", str(out), str(source)], env, cwd)


def installed(venv: Path, cwd: Path) -> dict[str, str]:
    """What the venv imports, run outside the source tree with RuntimeWarnings
    as errors: {"backend", "file", "version"} (``agora-token --version``)."""
    py = str(venv_python(venv))
    env = clean_env()
    code = "import agora_token; print(agora_token.BACKEND); print(agora_token.__file__)"
    probe = subprocess.run([py, "-W", "error::RuntimeWarning", "-c", code], cwd=str(cwd), env=env,
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    backend, file = probe.stdout.split()
    version = subprocess.run([py, "-m", "agora_token", "--version"], cwd=str(cwd), env=env, capture_output=True,
                             text=True, timeout=60)
    assert version.returncode == 0, version.stderr
    assert Path(file).resolve().is_relative_to(venv.resolve()), f"agora_token imported from {file}, not {venv}"
    return {"backend": backend, "file": file, "version": version.stdout.strip()}


def cached_wheels(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.rglob("agora_token-*.whl"))


def compiled_modules(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        return [n for n in z.namelist() if n.endswith((".so", ".pyd")) or ".so." in n]
