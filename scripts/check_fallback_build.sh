#!/usr/bin/env bash
# Builds the extension where the zlib and OpenSSL headers are missing (the
# code path of the Windows wheels: the compiled core then calls Python's zlib
# and uses its own SHA-256) in a scratch copy, and runs the library tests on it
# (the SHA-256 tests included: NIST, RFC 4231, hashlib differential).
#
# The headers are hidden by a directory of stand-ins that fail to compile
# (`#error`), put first on the include path through CFLAGS, and libcrypto is
# asked for (AGORA_TOKEN_OPENSSL=1): setup.py's probes must then say, in the
# build output, that each library is not found and that the core stays
# compiled (missing headers are NOT a fallback to pure Python), and the built
# core must be the compiled one with FEATURES sha256 builtin, zlib python.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-$root/.venv/bin/python}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# tracked + untracked-not-ignored files (new tests too), skipping deleted ones
git -C "$root" ls-files -z --cached --others --exclude-standard \
  | (cd "$root" && while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done | tar --null -T - -cf -) \
  | tar -xf - -C "$tmp"
mkdir -p "$tmp/tests/vectors"
vectors="$root/../shared/vectors"
[ -d "$vectors" ] || vectors="$root/tests/vectors"
cp "$vectors"/*.json "$tmp/tests/vectors/"

hidden="$tmp/hidden-headers"
mkdir -p "$hidden/openssl"
echo '#error zlib.h hidden by check_fallback_build.sh' > "$hidden/zlib.h"
echo '#error openssl/sha.h hidden by check_fallback_build.sh' > "$hidden/openssl/sha.h"

cd "$tmp"
env -u AGORA_TOKEN_NO_EXTENSIONS -u AGORA_TOKEN_NO_ZLIB -u AGORA_TOKEN_NO_OPENSSL \
  AGORA_TOKEN_OPENSSL=1 CFLAGS="-g0 -I$hidden" "$py" setup.py -q build_ext --inplace > build.log 2>&1 \
  || { tail -n 40 build.log; echo "check_fallback_build: FAIL: the build failed" >&2; exit 1; }
grep '^agora-token: ' build.log
for want in "agora-token: zlib: headers or library not found: the compiled core calls Python's zlib module instead" \
            "agora-token: openssl: headers or library not found: the compiled core uses its built-in SHA-256 instead" \
            "agora-token: building agora_token._pack: zlib=python sha256=builtin"; do
  grep -qF "$want" build.log || { cat build.log; echo "check_fallback_build: FAIL: no '$want' in the build output" >&2; exit 1; }
done
PYTHONPATH=src "$py" -c 'import agora_token, agora_token._pack as p; assert agora_token.BACKEND == "cython"; assert p.FEATURES["zlib"] == "python" and p.FEATURES["sha256"] in ("builtin", "builtin+sha-ni"), p.FEATURES; print("fallback-libs build:", p.FEATURES)'
PYTHONPATH=src AGORA_TOKEN_EXPECT_BACKEND=cython "$py" -m pytest -q -p no:cacheprovider tests/lib
