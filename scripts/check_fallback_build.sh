#!/usr/bin/env bash
# Builds the extension WITHOUT libz and libcrypto (the code path used where
# those headers are missing, e.g. Windows wheels: the extension then calls
# Python's zlib / hmac) in a scratch copy, and runs the library tests on it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-$root/.venv/bin/python}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git -C "$root" ls-files -z | (cd "$root" && xargs -0 tar -cf - 2>/dev/null) | tar -xf - -C "$tmp"
mkdir -p "$tmp/tests/vectors"
vectors="$root/../shared/vectors"
[ -d "$vectors" ] || vectors="$root/tests/vectors"
cp "$vectors"/*.json "$tmp/tests/vectors/"
cd "$tmp"
AGORA_TOKEN_NO_ZLIB=1 AGORA_TOKEN_NO_OPENSSL=1 "$py" setup.py -q build_ext --inplace 2>&1 | grep "agora_token._pack:" || true
PYTHONPATH=src "$py" -c 'import agora_token, agora_token._pack as p; assert agora_token.BACKEND == "cython"; assert p.FEATURES == {"sha256": "python", "zlib": "python"}, p.FEATURES; print("fallback-libs build:", p.FEATURES)'
PYTHONPATH=src AGORA_TOKEN_EXPECT_BACKEND=cython "$py" -m pytest -q -p no:cacheprovider tests/lib
