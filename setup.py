"""Build script for the optional compiled core ``agora_token._pack``.

Metadata lives in pyproject.toml; this file only decides how (and whether)
to build the Cython extension:

* ``AGORA_TOKEN_NO_EXTENSIONS=1`` skips it: a pure-Python install.
* libz and OpenSSL's libcrypto are used when their headers and libraries are
  found (probed with a tiny test compile); otherwise the extension calls
  Python's zlib / hmac modules for that part (same bytes, a bit slower).
* If compiling fails altogether (no C compiler), the install still succeeds
  with the pure-Python backend, and says so loudly.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

NO_EXTENSIONS = os.environ.get("AGORA_TOKEN_NO_EXTENSIONS", "") not in ("", "0")
NO_OPENSSL = os.environ.get("AGORA_TOKEN_NO_OPENSSL", "") not in ("", "0")
NO_ZLIB = os.environ.get("AGORA_TOKEN_NO_ZLIB", "") not in ("", "0")

PROBES = {
    "zlib": ("#include <zlib.h>\nint main(void){z_stream s; (void)s; return deflateReset(0) == 0;}\n", ["z"]),
    "openssl": (
        "#define OPENSSL_SUPPRESS_DEPRECATED 1\n#include <openssl/sha.h>\n"
        "int main(void){SHA256_CTX c; return SHA256_Init(&c) != 1;}\n",
        ["crypto"],
    ),
}


def _banner(msg: str) -> None:
    line = "*" * 75
    print(f"\n{line}\n{msg}\n{line}\n", file=sys.stderr)


class OptionalBuildExt(build_ext):
    """build_ext that probes libraries and never fails the install."""

    def _probe(self, name: str) -> bool:
        source, libs = PROBES[name]
        tmp = tempfile.mkdtemp(prefix="agora_probe_")
        try:
            path = os.path.join(tmp, f"probe_{name}.c")
            with open(path, "w") as f:
                f.write(source)
            objs = self.compiler.compile([path], output_dir=tmp)
            self.compiler.link_executable(objs, "probe", output_dir=tmp, libraries=libs)
            return True
        except Exception:
            return False
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def build_extensions(self) -> None:
        use_zlib = not NO_ZLIB and self._probe("zlib")
        use_openssl = not NO_OPENSSL and self._probe("openssl")
        for ext in self.extensions:
            if use_zlib:
                ext.define_macros.append(("AT_HAVE_ZLIB", "1"))
                ext.libraries.append("z")
            if use_openssl:
                ext.define_macros.append(("AT_HAVE_OPENSSL", "1"))
                ext.libraries.append("crypto")
        print(
            f"agora_token._pack: zlib={'libz' if use_zlib else 'python'} "
            f"sha256={'libcrypto' if use_openssl else 'python'}",
            file=sys.stderr,
        )
        super().build_extensions()

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # no compiler, missing headers, ...
            _banner(
                "WARNING: the compiled core of agora-token could not be built\n"
                f"({exc.__class__.__name__}: {exc}).\n"
                "Installing the pure-Python backend instead: same tokens, slower."
            )

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            _banner(
                "WARNING: building agora_token._pack failed\n"
                f"({exc.__class__.__name__}: {exc}).\n"
                "Installing the pure-Python backend instead: same tokens, slower."
            )


def extensions() -> list[Extension]:
    if NO_EXTENSIONS:
        _banner("AGORA_TOKEN_NO_EXTENSIONS is set: building the pure-Python backend only.")
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        _banner("Cython is not available: building the pure-Python backend only.")
        return []
    ext = Extension(
        "agora_token._pack",
        sources=["src/agora_token/_pack.pyx"],
        include_dirs=["src/agora_token/_c"],
        define_macros=[],
        libraries=[],
    )
    return cythonize(
        [ext],
        compiler_directives={
            "language_level": "3",
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "embedsignature": True,
        },
        quiet=True,
    )


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
