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
* libz is linked when a test compile finds it (``AGORA_TOKEN_NO_ZLIB=1``
  turns it off); otherwise the compiled core calls Python's zlib module (still
  compiled, same bytes, a bit slower) and the build output says so.
* SHA-256 is the core's own portable one (``_c/at_core.h``), unless
  ``AGORA_TOKEN_OPENSSL=1`` asks for OpenSSL's libcrypto (linked when a test
  compile finds it): a wheel would have to vendor libcrypto, about 1.8 MiB for
  about 2 µs per token (docs/packaging.md, "What the speed weighs").
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
from pathlib import Path
from typing import NoReturn

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.editable_wheel import editable_wheel

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
# libcrypto only on request: it does not earn its size in a wheel (docs/packaging.md,
# "What the speed weighs"); AGORA_TOKEN_NO_OPENSSL=1 still wins over a request
WITH_OPENSSL = _flag("AGORA_TOKEN_OPENSSL") and not _flag("AGORA_TOKEN_NO_OPENSSL")
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

    def _library(self, name: str, disabled: str, pkgs: str, instead: str) -> bool:
        if disabled:
            _say(f"{name}: not used ({disabled}): the compiled core {instead}")
            return False
        source, libs = PROBES[name]
        ok, _ = self._compile(name, source, libs)
        if not ok:
            _say(f"{name}: headers or library not found: the compiled core {instead} instead "
                 f"(still compiled, same tokens, a bit slower; install {pkgs} to link it)")
        return ok

    def build_extensions(self) -> None:
        self._check_toolchain()
        use_zlib = self._library("zlib", "AGORA_TOKEN_NO_ZLIB=1" if NO_ZLIB else "",
                                 "zlib1g-dev / zlib-devel / zlib-dev", "calls Python's zlib module")
        use_openssl = self._library("openssl", "" if WITH_OPENSSL else "AGORA_TOKEN_OPENSSL=1 links it",
                                    "libssl-dev / openssl-devel / openssl-dev", "uses its built-in SHA-256")
        for ext in self.extensions:
            if use_zlib:
                ext.define_macros.append(("AT_HAVE_ZLIB", "1"))
                ext.libraries.append("z")
            if use_openssl:
                ext.define_macros.append(("AT_HAVE_OPENSSL", "1"))
                ext.libraries.append("crypto")
        _say(f"building agora_token._pack: zlib={'libz' if use_zlib else 'python'} "
             f"sha256={'libcrypto' if use_openssl else 'builtin'}")
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


SERVER_PACKAGE = "agora_token_server"  # installed from server/ (pyproject.toml's package-dir)
EDITABLE_LINK = os.path.join("build", "editable", SERVER_PACKAGE)  # -> ../../server


def _server_link() -> str | None:
    """Make build/editable/agora_token_server, a symbolic link to server/; the
    directory that holds it, or None where symbolic links cannot be made."""
    link = os.path.join(HERE, EDITABLE_LINK)
    target = os.path.join(os.pardir, os.pardir, "server")
    try:
        if not (os.path.islink(link) and os.readlink(link) == target):
            os.makedirs(os.path.dirname(link), exist_ok=True)
            if os.path.lexists(link):
                os.remove(link)
            os.symlink(target, link, target_is_directory=True)
    except OSError:
        return None
    return os.path.dirname(link)


class EditableWheel(editable_wheel):
    """``pip install -e .`` (``make install``): a .pth file with two plain
    directories, src/ and build/editable/ (whose ``agora_token_server`` is a
    link to server/), so edits to both are live without reinstalling.

    With pyproject.toml's package-dir (``agora_token_server`` from server/)
    setuptools would instead install an import hook and warn, at every
    install, that folders in the working directory may shadow the packages.
    The .pth form has nothing to warn about: setuptools picks it for src/
    alone, and the link adds the service. Where no symbolic link can be made,
    or in a setuptools without the method used here, the import hook (and its
    warning) remains."""

    server_path: str | None = None

    def finalize_options(self) -> None:
        if hasattr(editable_wheel, "_select_strategy"):
            self.server_path = _server_link()
        if self.server_path is not None:
            dist = self.distribution
            dist.package_dir = {"": "src"}
            dist.packages = [p for p in dist.packages or [] if p.partition(".")[0] != SERVER_PACKAGE]
        super().finalize_options()

    def _select_strategy(self, name, tag, build_lib):  # type: ignore[no-untyped-def]  # setuptools' private API
        strategy = super()._select_strategy(name, tag, build_lib)
        if self.server_path is not None:
            entries = getattr(strategy, "path_entries", None)
            if not isinstance(entries, list):
                _stop(f"agora-token: this setuptools ({type(strategy).__name__}) cannot install "
                      f"{SERVER_PACKAGE} in editable mode from {EDITABLE_LINK}: please report it")
            entries.append(Path(self.server_path))
        return strategy


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


setup(
    ext_modules=extensions(),
    cmdclass={"build_ext": BuildExt, "bdist_wheel": BdistWheel, "editable_wheel": EditableWheel},
)
