#!/usr/bin/env bash
# Make the reference vectors available at tests/vectors/, for places where
# ../shared/vectors does not exist: a GitHub checkout, and the cibuildwheel
# test step (on Linux it runs in a container that only sees the project).
#
#   scripts/sync_vectors.sh          copy ../shared/vectors/*.json -> tests/vectors/
#                                    (when ../shared/vectors exists), then check
#   scripts/sync_vectors.sh --check  only check that tests/vectors/ or
#                                    ../shared/vectors/ holds the vectors
# Exits non-zero when no vectors can be found.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC="$ROOT/../shared/vectors"
DST="$ROOT/tests/vectors"
NEEDED=(accesstoken2.json accesstoken006.json)

if [ "${1:-}" != "--check" ] && [ -d "$SRC" ]; then
  mkdir -p "$DST"
  for f in "${NEEDED[@]}"; do
    if [ -f "$SRC/$f" ]; then
      cmp -s "$SRC/$f" "$DST/$f" || { cp "$SRC/$f" "$DST/$f"; echo "sync_vectors: copied $f"; }
    fi
  done
fi

for d in "$SRC" "$DST"; do
  ok=1
  for f in "${NEEDED[@]}"; do [ -f "$d/$f" ] || ok=0; done
  if [ "$ok" = 1 ]; then
    echo "sync_vectors: vectors available in $(cd "$d" && pwd)"
    exit 0
  fi
done
echo "sync_vectors: no vectors: neither ../shared/vectors nor tests/vectors holds ${NEEDED[*]}." >&2
echo "sync_vectors: run scripts/sync_vectors.sh where ../shared/vectors exists and commit tests/vectors/." >&2
exit 1
