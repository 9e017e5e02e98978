"""Build script for the compiled core ``agora_token._pack`` (docs/packaging.md).

Metadata lives in pyproject.toml; this file decides how the extension is built.

* The compiled core is built, or the build FAILS: without a working C
  compiler or the Python headers it stops with a short message saying what
  is missing, how to get it on each OS, and how to ask for the pure-Python
  core instead. There is no silent fallback to the slow core.
* ``AGORA_TOKEN_NO_EXTENSIONS=1`` asks for the pure-Python core: no
  extension, a ``py3-none-any`` wheel. pip keeps a wheel built from an sdist
  (or a git URL) in its cache under that URL and the interpreter, never the
  environment, and a ``py3-none-any`` wheel matches every later lookup: a
  later install on a machine WITH a compiler would silently get the slow
  core. So from an sdist or a source pip fetched itself, the request is only
  honoured with the frontend's cache off (``PIP_NO_CACHE_DIR=1``,
  ``UV_NO_CACHE=1``); from a local directory (``pip install .``, never cached
  by pip) it always is.
* libz and OpenSSL's libcrypto are linked when a test compile finds them;
  otherwise the compiled core calls Python's zlib / hmac module for that step
  (still compiled, same bytes, a bit slower) and the build output says so.
  ``AGORA_TOKEN_NO_ZLIB=1`` / ``AGORA_TOKEN_NO_OPENSSL=1`` turn one off.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from typing import NoReturn

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1 (only without build isolation)
    from wheel.bdist_wheel import bdist_wheel  # type: ignore[no-redef]

HERE = os.path.dirname(os.path.abspath(__file__))
PYX = os.path.join("src", "agora_token", "_pack.pyx")
GENERATED_C = os.path.join("src", "agora_token", "_pack.c")


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip() not in ("", "0")


NO_EXTENSIONS = _flag("AGORA_TOKEN_NO_EXTENSIONS")
NO_OPENSSL = _flag("AGORA_TOKEN_NO_OPENSSL")
NO_ZLIB = _flag("AGORA_TOKEN_NO_ZLIB")
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))

PROBES = {
    "zlib": ("#include <zlib.h>\nint main(void){z_stream s; (void)s; return deflateReset(0) == 0;}\n", ["z"]),
    "openssl": (
        "#define OPENSSL_SUPPRESS_DEPRECATED 1\n#include <openssl/sha.h>\n"
        "int main(void){SHA256_CTX c; return SHA256_Init(&c) != 1;}\n",
        ["crypto"],
    ),
}

PURE_REQUEST = "AGORA_TOKEN_NO_EXTENSIONS=1 PIP_NO_CACHE_DIR=1 pip install ..."

INSTALL_HELP = """\
Install a C compiler and the Python headers, then run the same command again:
  Debian/Ubuntu: apt-get install gcc python3-dev zlib1g-dev libssl-dev
  Fedora/RHEL:   dnf install gcc python3-devel zlib-devel openssl-devel
  Alpine:        apk add gcc musl-dev python3-dev zlib-dev openssl-dev
  macOS:         xcode-select --install
  Windows:       Microsoft C++ Build Tools ("Desktop development with C++")
Or ask for the pure-Python core (same tokens, slower, no compiler needed):
  """ + PURE_REQUEST + """
Details: docs/packaging.md."""


def _say(msg: str) -> None:
    print(f"agora-token: {msg}", file=sys.stderr, flush=True)


CYTHON_HELP = """\
Install it (pip install 'Cython>=3.1'), then run the same command again.
Or ask for the pure-Python core (same tokens, slower):
  """ + PURE_REQUEST + """
Details: docs/packaging.md."""


def _stop(text: str) -> NoReturn:
    """Stop the build with ``text``, framed, on stderr and exit status 1."""
    bar = "=" * 78
    raise SystemExit(f"\n{bar}\n{text}\n{bar}\n")


def _fail(what: str, detail: str = "", help_text: str = INSTALL_HELP) -> NoReturn:
    """Stop the build: the compiled core cannot be built, and why."""
    lines = [f"agora-token: cannot build the compiled core: {what}"]
    if detail:
        lines.append(f"  ({detail})")
    lines.append(help_text)
    _stop("\n".join(lines))


@contextlib.contextmanager
def _captured_fds() -> Iterator[list[str]]:
    """Send this process's (and its children's) stdout/stderr to a file for the
    duration; yields a list that holds the captured text afterwards. A probe's
    compiler errors are then shown only when they explain a failure."""
    out: list[str] = []
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(tmp.fileno(), 1)
            os.dup2(tmp.fileno(), 2)
            yield out
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            tmp.seek(0)
            out.append(tmp.read().decode(errors="replace"))


def _first_error_line(text: str) -> str:
    """The line of a probe's output that says what went wrong, shortened."""
    text = re.sub(r"[Cc]ommand '?\[[^\]]*\]'?", "the compiler", text)  # no 30-argument command lines
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if any(word in line.lower() for word in ("error", "not found", "no such file", "failed")):
            return line[:200]
    return lines[-1][:200] if lines else ""


class BuildExt(build_ext):
    """build_ext that checks the toolchain first, probes libz / libcrypto, and
    fails with a clear message instead of falling back to pure Python."""

    def _compile(self, name: str, source: str, link_libs: list[str] | None) -> tuple[bool, str]:
        """Compile (and with ``link_libs``, link) a tiny C program; (ok, error text)."""
        tmp = tempfile.mkdtemp(prefix="agora_probe_")
        try:
            path = os.path.join(tmp, f"probe_{name}.c")
            with open(path, "w") as f:
                f.write(source)
            with _captured_fds() as captured:
                try:
                    objs = self.compiler.compile([path], output_dir=tmp)
                    if link_libs is not None:
                        self.compiler.link_executable(objs, "probe", output_dir=tmp, libraries=link_libs)
                    ok, err = True, ""
                except Exception as exc:  # noqa: BLE001 - any failure means "not usable"
                    ok, err = False, f"{exc.__class__.__name__}: {exc}"
            return ok, (captured[0] + "\n" + err).strip()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _compiler_name(self) -> str:
        cmd = getattr(self.compiler, "compiler_so", None)  # unix compilers; MSVC has none
        return str(cmd[0]) if cmd else str(getattr(self.compiler, "compiler_type", "the C compiler"))

    def _check_toolchain(self) -> None:
        ok, err = self._compile("cc", "int agora_probe(void) { return 0; }\n", None)
        if not ok:
            _fail("no working C compiler", f"tried {self._compiler_name()}: {_first_error_line(err)}")
        ok, err = self._compile(
            "python_h", "#include <Python.h>\nint agora_probe(void) { return PY_VERSION_HEX != 0; }\n", None)
        if not ok:
            _fail(f"the Python {sysconfig.get_python_version()} headers (Python.h) are missing",
                  _first_error_line(err))
        if any(src.endswith(".pyx") for ext in self.extensions for src in ext.sources):
            _fail("Cython is not installed and no generated _pack.c is there to compile",
                  "pip installs Cython in the build environment, except with --no-build-isolation", CYTHON_HELP)

    def _library(self, name: str, disabled: bool, off_var: str, pkgs: str, instead: str) -> bool:
        if disabled:
            _say(f"{name}: not used ({off_var}=1): the compiled core calls {instead} instead")
            return False
        source, libs = PROBES[name]
        ok, _ = self._compile(name, source, libs)
        if not ok:
            _say(f"{name}: headers or library not found: the compiled core calls {instead} instead "
                 f"(still compiled, same tokens, a bit slower; install {pkgs} to link it)")
        return ok

    def build_extensions(self) -> None:
        self._check_toolchain()
        use_zlib = self._library("zlib", NO_ZLIB, "AGORA_TOKEN_NO_ZLIB",
                                 "zlib1g-dev / zlib-devel / zlib-dev", "Python's zlib module")
        use_openssl = self._library("openssl", NO_OPENSSL, "AGORA_TOKEN_NO_OPENSSL",
                                    "libssl-dev / openssl-devel / openssl-dev", "Python's hmac module for HMAC-SHA256")
        for ext in self.extensions:
            if use_zlib:
                ext.define_macros.append(("AT_HAVE_ZLIB", "1"))
                ext.libraries.append("z")
            if use_openssl:
                ext.define_macros.append(("AT_HAVE_OPENSSL", "1"))
                ext.libraries.append("crypto")
        _say(f"building agora_token._pack: zlib={'libz' if use_zlib else 'python'} "
             f"sha256={'libcrypto' if use_openssl else 'python'}")
        if FREE_THREADED:
            _say("free-threaded Python: agora_token._pack does not declare free-threading support, "
                 "so importing it re-enables the GIL (with a RuntimeWarning); docs/packaging.md")
        try:
            super().build_extensions()
        except Exception as exc:  # noqa: BLE001 - the toolchain works, so say so and stop
            _fail("compiling agora_token._pack failed although the compiler works "
                  "(a bug: please report it with the output above)", f"{exc.__class__.__name__}: {exc}")


_PIP_TEMP_DIR = re.compile(r"^pip-(req-build|install|wheel|download)-")


def _cacheable_source() -> str | None:
    """Why a frontend may cache the wheel built here under a URL, or None
    (a local source directory, which pip builds in place and never caches)."""
    if os.path.exists(os.path.join(HERE, "PKG-INFO")):
        return "an sdist"
    # pip unpacks a download, or clones a git URL, into its own temporary
    # directory: pip-req-build-*, or <name>_<hex> inside pip-install-* / pip-wheel-*
    if any(_PIP_TEMP_DIR.match(os.path.basename(d)) for d in (HERE, os.path.dirname(HERE))):
        return "a URL or git URL that pip fetched"
    return None


def _cache_is_off() -> bool:
    # pip disables its cache for ANY valid value of PIP_NO_CACHE_DIR (even "false")
    if os.environ.get("PIP_NO_CACHE_DIR", "").strip():
        return True
    return os.environ.get("UV_NO_CACHE", "").strip().lower() in ("1", "true", "yes", "on")


class BdistWheel(bdist_wheel):
    """Refuses a pure-Python wheel that a frontend would cache under the
    sdist's URL (see the module docstring)."""

    def run(self) -> None:
        if NO_EXTENSIONS:
            source = _cacheable_source()
            if source is not None and not _cache_is_off():
                _stop(
                    f"agora-token: AGORA_TOKEN_NO_EXTENSIONS=1 asks for the pure-Python core, but this build\n"
                    f"is from {source}. pip keeps the wheel built from it in its cache under\n"
                    f"that URL, not the environment, and would hand this slow wheel to later installs\n"
                    f"on machines that can compile. Turn the cache off for this install:\n"
                    f"  {PURE_REQUEST}     (uv: UV_NO_CACHE=1)\n"
                    f"or install from a checkout (pip never caches a local directory):\n"
                    f"  AGORA_TOKEN_NO_EXTENSIONS=1 pip install .")
            _say("AGORA_TOKEN_NO_EXTENSIONS=1: building the pure-Python core only (a py3-none-any wheel)")
        super().run()


def _cythonize(ext: Extension) -> list[Extension]:
    try:
        import Cython
        from Cython.Build import cythonize
    except ImportError:
        if os.path.exists(GENERATED_C):
            _say("Cython is not installed: compiling the C file shipped in the sdist")
            ext.sources = [GENERATED_C]
            return [ext]
        return [ext]  # still the .pyx: BuildExt stops with a clear message
    # An sdist ships _pack.c; regenerate it when another Cython version wrote it,
    # so that a newer Python gets code from the Cython in the build environment.
    force = False
    if os.path.exists(GENERATED_C):
        with open(GENERATED_C, encoding="utf-8", errors="replace") as f:
            force = f"Cython {Cython.__version__} " not in f.readline()
    return list(cythonize(
        [ext],
        compiler_directives={
            "language_level": "3",
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "embedsignature": True,
        },
        force=force,
        quiet=True,
    ))


def extensions() -> list[Extension]:
    if NO_EXTENSIONS:
        return []
    ext = Extension(
        "agora_token._pack",
        sources=[PYX],
        include_dirs=["src/agora_token/_c"],
        define_macros=[],
        libraries=[],
    )
    return _cythonize(ext)


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt, "bdist_wheel": BdistWheel})
