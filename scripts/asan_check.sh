#!/usr/bin/env bash
# AddressSanitizer check of the compiled core (issue 11): build agora_token._pack
# with -fsanitize=address in a scratch copy of src/ and run it, next to the
# pure-Python core, over a seeded generated corpus (scripts/asan_driver.py):
# valid tokens of every kind, bit flips, truncations, hostile privilege and
# permission objects. Fails on any ASan report or any difference between the
# cores. The working tree's own build is not touched.
#
#   scripts/asan_check.sh [--seed N] [--count N]     (PYTHON=... to pick the interpreter)
#
# Needs gcc (its libasan), zlib and OpenSSL headers, Cython and setuptools:
# on Debian `apt-get install gcc zlib1g-dev` (libasan8 comes with gcc)
# plus the project's test extra. Takes well under 2 minutes on 2 cores.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=$(command -v python3)
CC=${CC:-gcc}
command -v "$CC" >/dev/null || { echo "asan_check: $CC not found (apt-get install gcc)" >&2; exit 2; }
LIBASAN=$("$CC" -print-file-name=libasan.so)
[ -e "$LIBASAN" ] || { echo "asan_check: libasan not found ($CC -print-file-name=libasan.so)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/agora-asan.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/src"
cp -r "$ROOT/src/agora_token" "$WORK/src/"
rm -f "$WORK"/src/agora_token/_pack*.so "$WORK"/src/agora_token/_pack.c
cp "$ROOT/setup.py" "$WORK/"

echo "asan_check: building the compiled core with -fsanitize=address in $WORK"
start=$(date +%s)
# the sanitizer flag goes into CC and LDSHARED so that setup.py's library
# probes (linked as executables) and the extension are both built with it
ASAN_CC="$CC -fsanitize=address -fno-omit-frame-pointer"
( cd "$WORK" && CC="$ASAN_CC" LDSHARED="$ASAN_CC -shared" CFLAGS="-O1 -g" \
    "$PY" setup.py -q build_ext --build-lib "$WORK/lib" --build-temp "$WORK/tmp" >"$WORK/build.log" 2>&1 ) || true
grep "agora_token._pack:" "$WORK/build.log" || true
cp "$WORK"/lib/agora_token/_pack*.so "$WORK/src/agora_token/" 2>/dev/null || {
  echo "asan_check: the ASan build failed:" >&2; tail -30 "$WORK/build.log" >&2; exit 1; }
echo "asan_check: built in $(( $(date +%s) - start )) s; running the corpus"

# detect_leaks=0: CPython's own allocations at exit would drown real reports;
# PYTHONMALLOC=malloc: every Python allocation through malloc, so ASan sees
# overflows into objects too; abort_on_error: a report fails this script.
status=0
ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1" \
LD_PRELOAD="$LIBASAN" PYTHONMALLOC=malloc PYTHONPATH="$WORK/src:$ROOT" \
AGORA_TOKEN_NO_EXTENSIONS=0 \
  "$PY" - "$@" <<'EOF' || status=$?
import os, runpy, sys
import agora_token._pack as p
build = os.path.dirname(p.__file__)
assert build.startswith(os.environ["PYTHONPATH"].split(":")[0]), f"not the ASan build: {p.__file__}"
sys.argv = ["asan_driver.py", *sys.argv[1:]]
runpy.run_path(os.path.join(os.environ["PYTHONPATH"].split(":")[1], "scripts", "asan_driver.py"), run_name="__main__")
EOF
if [ "$status" -ne 0 ]; then
  echo "asan_check: FAILED (exit $status): an AddressSanitizer report or a difference between the cores, above" >&2
  exit 1
fi
echo "asan_check: OK in $(( $(date +%s) - start )) s"
